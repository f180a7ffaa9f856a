#include "chorus/client/wire_value.h"

#include "chorus/json/json.h"

namespace chorus::client {
namespace {

// Swaps each Binary for a placeholder (Socket.IO v5 "Packet encoding": the same form the
// protocol uses for attachments, so JavaScript reuses one reconstruction routine).
void strip(Value& v, std::vector<Binary>& binaries, std::uint32_t depth, std::uint32_t max_depth, bool& too_deep) {
  if (depth > max_depth) {
    too_deep = true;
    return;
  }
  switch (v.type()) {
    case Value::Type::kBinary: {
      Binary b = std::move(v.as_binary());
      v = Value::object({{"_placeholder", true}, {"num", static_cast<double>(binaries.size())}});
      binaries.push_back(std::move(b));
      return;
    }
    case Value::Type::kArray:
      for (Value& item : v.as_array()) strip(item, binaries, depth + 1, max_depth, too_deep);
      return;
    case Value::Type::kObject:
      for (Member& m : v.as_object()) strip(m.value, binaries, depth + 1, max_depth, too_deep);
      return;
    default:
      return;
  }
}

bool is_placeholder(const Value& v) {
  if (!v.is_object()) return false;
  const Value* p = v.find("_placeholder");
  return p != nullptr && p->is_bool() && p->as_bool();
}

Status restore(Value& v, std::vector<Binary>& binaries, std::vector<bool>& used) {
  if (is_placeholder(v)) {
    const Value* num = v.find("num");
    double n = num != nullptr && num->is_number() ? num->as_number() : -1;
    if (n < 0 || n >= static_cast<double>(binaries.size()) || n != static_cast<double>(static_cast<std::size_t>(n))) {
      return make_error(ErrorCode::kInvalidPacket, "placeholder num is not a binary index");
    }
    auto i = static_cast<std::size_t>(n);
    // Each placeholder owns its binary (the SDK emits one per occurrence), so it is moved.
    if (used[i]) return make_error(ErrorCode::kInvalidPacket, "binary referenced twice");
    used[i] = true;
    v = Value(std::move(binaries[i]));
    return Ok{};
  }
  if (v.is_array()) {
    for (Value& item : v.as_array()) {
      Status s = restore(item, binaries, used);
      if (!s) return s;
    }
  } else if (v.is_object()) {
    for (Member& m : v.as_object()) {
      Status s = restore(m.value, binaries, used);
      if (!s) return s;
    }
  }
  return Ok{};
}

}  // namespace

Status to_wire(Value&& value, std::string& json, std::vector<Binary>& binaries, const Limits& limits) {
  bool too_deep = false;
  if (value.has_binary()) strip(value, binaries, 0, limits.max_json_depth, too_deep);
  if (too_deep)
    return make_error(ErrorCode::kLimitExceeded, "nesting deeper than " + std::to_string(limits.max_json_depth));
  return json::stringify_to(value, json, limits.max_json_depth);
}

Result<Value> from_wire(std::string_view json, std::vector<Binary> binaries, const Limits& limits) {
  auto parsed = json::parse(json, limits);
  if (!parsed) return parsed.error();
  if (binaries.empty()) return parsed;
  std::vector<bool> used(binaries.size(), false);
  Status s = restore(parsed.value(), binaries, used);
  if (!s) return s.error();
  return parsed;
}

}  // namespace chorus::client
