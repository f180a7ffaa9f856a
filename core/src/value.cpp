#include "chorus/value.h"

#include <cstring>

namespace chorus {

Value::Value(Object o) : v_(std::move(o)) {}

Value Value::array(std::initializer_list<Value> items) {
  return Value(Array(items));
}

Value Value::object(std::initializer_list<Member> members) {
  Value v{Object{}};
  for (const Member& m : members) v.set(m.key, m.value);
  return v;
}

Value Value::binary(const void* data, std::size_t size) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  return Value(Binary(p, p + size));
}

const Value* Value::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const Member& m : as_object()) {
    if (m.key == key) return &m.value;
  }
  return nullptr;
}

Value* Value::find(std::string_view key) {
  return const_cast<Value*>(static_cast<const Value*>(this)->find(key));
}

Value& Value::set(std::string key, Value value) {
  if (is_null()) v_ = Object{};
  if (Value* existing = find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  Object& obj = as_object();
  obj.push_back(Member{std::move(key), std::move(value)});
  return obj.back().value;
}

Value& Value::push_back(Value value) {
  if (is_null()) v_ = Array{};
  Array& arr = as_array();
  arr.push_back(std::move(value));
  return arr.back();
}

std::size_t Value::size() const {
  if (is_array()) return as_array().size();
  if (is_object()) return as_object().size();
  return 0;
}

bool Value::has_binary() const {
  switch (type()) {
    case Type::kBinary:
      return true;
    case Type::kArray:
      for (const Value& v : as_array()) {
        if (v.has_binary()) return true;
      }
      return false;
    case Type::kObject:
      for (const Member& m : as_object()) {
        if (m.value.has_binary()) return true;
      }
      return false;
    default:
      return false;
  }
}

bool operator==(const Value& a, const Value& b) {
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Value::Type::kNull:
      return true;
    case Value::Type::kBool:
      return a.as_bool() == b.as_bool();
    case Value::Type::kNumber:
      return a.as_number() == b.as_number();
    case Value::Type::kString:
      return a.as_string() == b.as_string();
    case Value::Type::kBinary:
      return a.as_binary() == b.as_binary();
    case Value::Type::kArray:
      return a.as_array() == b.as_array();
    case Value::Type::kObject: {
      // Objects compare as maps: same keys with equal values, whatever the order.
      const Object& oa = a.as_object();
      if (oa.size() != b.as_object().size()) return false;
      for (const Member& m : oa) {
        const Value* other = b.find(m.key);
        if (other == nullptr || !(*other == m.value)) return false;
      }
      return true;
    }
  }
  return false;
}

}  // namespace chorus
