#include "chorus/socketio/packet.h"

#include <array>

#include "chorus/json/json.h"
#include "chorus/utf8.h"

namespace chorus::socketio {
namespace {

constexpr std::array<std::string_view, 7> kReservedEvents = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener", "error"};

bool is_binary_type(PacketType t) {
  return t == PacketType::kBinaryEvent || t == PacketType::kBinaryAck;
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidPacket, std::move(message));
}

// Socket.IO v5 spec: a placeholder is any object whose "_placeholder" is true.
bool is_placeholder(const Value& v) {
  if (!v.is_object()) return false;
  const Value* p = v.find("_placeholder");
  return p != nullptr && p->is_bool() && p->as_bool();
}

bool contains_placeholder(const Value& v) {
  if (is_placeholder(v)) return true;
  if (v.is_array()) {
    for (const Value& item : v.as_array()) {
      if (contains_placeholder(item)) return true;
    }
  } else if (v.is_object()) {
    for (const Member& m : v.as_object()) {
      if (contains_placeholder(m.value)) return true;
    }
  }
  return false;
}

// Replaces placeholders by the attachments they point to (depth is bounded by the JSON
// depth limit enforced at parse time).
Status reconstruct(Value& v, std::vector<Binary>& buffers) {
  if (is_placeholder(v)) {
    const Value* num = v.find("num");
    if (num == nullptr || !num->is_number()) return invalid("placeholder without a numeric num");
    double n = num->as_number();
    if (n < 0 || n >= static_cast<double>(buffers.size()) || n != static_cast<double>(static_cast<std::size_t>(n))) {
      return invalid("placeholder num is not an attachment index");
    }
    v = Value(buffers[static_cast<std::size_t>(n)]);
    return Ok{};
  }
  if (v.is_array()) {
    for (Value& item : v.as_array()) {
      Status s = reconstruct(item, buffers);
      if (!s) return s;
    }
  } else if (v.is_object()) {
    for (Member& m : v.as_object()) {
      Status s = reconstruct(m.value, buffers);
      if (!s) return s;
    }
  }
  return Ok{};
}

// Copies `v`, replacing each Binary by a placeholder and collecting the bytes.
Value deconstruct(const Value& v, std::vector<Binary>& buffers) {
  switch (v.type()) {
    case Value::Type::kBinary: {
      Value p = Value::object({{"_placeholder", true}, {"num", static_cast<double>(buffers.size())}});
      buffers.push_back(v.as_binary());
      return p;
    }
    case Value::Type::kArray: {
      Array out;
      out.reserve(v.as_array().size());
      for (const Value& item : v.as_array()) out.push_back(deconstruct(item, buffers));
      return Value(std::move(out));
    }
    case Value::Type::kObject: {
      Object out;
      out.reserve(v.as_object().size());
      for (const Member& m : v.as_object()) out.push_back(Member{m.key, deconstruct(m.value, buffers)});
      return Value(std::move(out));
    }
    default:
      return v;
  }
}

Status validate_payload(PacketType type, const std::optional<Value>& data) {
  switch (type) {
    case PacketType::kConnect:
      if (data && !data->is_object()) return invalid("CONNECT payload must be an object");
      return Ok{};
    case PacketType::kDisconnect:
      if (data) return invalid("DISCONNECT takes no payload");
      return Ok{};
    case PacketType::kConnectError:
      if (data && !data->is_object() && !data->is_string()) {
        return invalid("CONNECT_ERROR payload must be an object or a string");
      }
      return Ok{};
    case PacketType::kEvent:
    case PacketType::kBinaryEvent: {
      if (!data) return invalid("EVENT without payload");
      if (!data->is_array()) return invalid("EVENT payload must be an array");
      if (data->as_array().empty()) return invalid("EVENT payload must not be empty");
      const Value& name = data->as_array()[0];
      // socket.io-parser takes a number too (an EventEmitter keys it by its string form).
      if (name.is_number()) return Ok{};
      if (!name.is_string()) return invalid("event name must be a string or a number");
      if (is_reserved_event(name.as_string())) {
        return invalid("event name '" + name.as_string() + "' is reserved");
      }
      return Ok{};
    }
    case PacketType::kAck:
    case PacketType::kBinaryAck:
      if (!data) return invalid("ACK without payload");
      if (!data->is_array()) return invalid("ACK payload must be an array");
      return Ok{};
  }
  return Ok{};
}

}  // namespace

const char* to_string(PacketType type) {
  switch (type) {
    case PacketType::kConnect:
      return "CONNECT";
    case PacketType::kDisconnect:
      return "DISCONNECT";
    case PacketType::kEvent:
      return "EVENT";
    case PacketType::kAck:
      return "ACK";
    case PacketType::kConnectError:
      return "CONNECT_ERROR";
    case PacketType::kBinaryEvent:
      return "BINARY_EVENT";
    case PacketType::kBinaryAck:
      return "BINARY_ACK";
  }
  return "UNKNOWN";
}

bool is_reserved_event(std::string_view name) {
  for (std::string_view r : kReservedEvents) {
    if (r == name) return true;
  }
  return false;
}

Result<EncodedPacket> encode(const Packet& packet, const Limits& limits) {
  Status valid = validate_payload(packet.type, packet.data);
  if (!valid) return valid.error();
  if (packet.id && *packet.id > kMaxAckId) return invalid("ack id out of range");
  if (packet.nsp.empty() || packet.nsp[0] != '/') return invalid("namespace must start with '/'");

  EncodedPacket out;
  PacketType type = packet.type;
  const Value* data = packet.data ? &*packet.data : nullptr;
  Value stripped;
  if (data != nullptr && data->has_binary()) {
    if (type == PacketType::kEvent) type = PacketType::kBinaryEvent;
    if (type == PacketType::kAck) type = PacketType::kBinaryAck;
    if (!is_binary_type(type)) return invalid(std::string(to_string(type)) + " cannot carry binary data");
    stripped = deconstruct(*data, out.attachments);
    data = &stripped;
  } else if (is_binary_type(type)) {
    type = (type == PacketType::kBinaryEvent) ? PacketType::kEvent : PacketType::kAck;
  }

  std::string& s = out.text;
  s.push_back(static_cast<char>('0' + static_cast<int>(type)));
  if (is_binary_type(type)) {
    s += std::to_string(out.attachments.size());
    s.push_back('-');
  }
  if (packet.nsp != "/") {
    s += packet.nsp;
    s.push_back(',');
  }
  if (packet.id) s += std::to_string(*packet.id);
  if (data != nullptr) {
    Status st = json::stringify_to(*data, s, limits.max_json_depth);
    if (!st) return st.error();
  }
  return out;
}

void Decoder::reset() {
  pending_.reset();
  expected_ = 0;
  buffers_.clear();
}

Result<std::optional<Packet>> Decoder::feed_text(std::string_view text) {
  if (pending_) return invalid("expected a binary attachment, got a text packet");
  if (text.empty()) return invalid("empty Socket.IO packet");
  if (text.size() > limits_.max_payload) return make_error(ErrorCode::kLimitExceeded, "packet exceeds maxPayload");
  if (!utf8::is_valid(text)) return make_error(ErrorCode::kInvalidUtf8, "Socket.IO packet is not UTF-8");

  const char t = text[0];
  if (t < '0' || t > '6') return invalid("unknown Socket.IO packet type");
  Packet p;
  p.type = static_cast<PacketType>(t - '0');
  std::size_t i = 1;
  const std::size_t n = text.size();

  std::uint32_t attachments = 0;
  if (is_binary_type(p.type)) {
    std::size_t start = i;
    std::uint64_t count = 0;
    while (i < n && is_digit(text[i])) {
      if (i - start >= 10) return make_error(ErrorCode::kLimitExceeded, "too many attachments");
      count = count * 10 + static_cast<std::uint64_t>(text[i] - '0');
      ++i;
    }
    if (i == start || i >= n || text[i] != '-' || count < 1) return invalid("illegal attachments count");
    if (count > limits_.max_attachments) {
      return make_error(ErrorCode::kLimitExceeded,
                        "too many attachments (limit " + std::to_string(limits_.max_attachments) + ")");
    }
    attachments = static_cast<std::uint32_t>(count);
    ++i;  // '-'
  }

  if (i < n && text[i] == '/') {
    std::size_t start = i;
    while (i < n && text[i] != ',') ++i;
    p.nsp.assign(text.substr(start, i - start));
    if (i < n) ++i;  // ','
  }

  if (i < n && is_digit(text[i])) {
    std::size_t start = i;
    std::uint64_t id = 0;
    while (i < n && is_digit(text[i])) {
      if (i - start >= 16) return invalid("ack id out of range");
      id = id * 10 + static_cast<std::uint64_t>(text[i] - '0');
      ++i;
    }
    if (id > kMaxAckId) return invalid("ack id out of range");
    p.id = id;
  }

  if (i < n) {
    // The reference parser reads a space there as ack id 0: refuse the ambiguity.
    char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return invalid("whitespace before payload");
    auto parsed = json::parse(text.substr(i), limits_);
    if (!parsed) return Error{parsed.error().code, "invalid payload: " + parsed.error().message};
    p.data = std::move(parsed).value();
  }
  Status valid = validate_payload(p.type, p.data);
  if (!valid) return valid.error();

  if (!is_binary_type(p.type)) {
    if (p.data && contains_placeholder(*p.data)) return invalid("placeholder in a packet without attachments");
    return std::optional<Packet>(std::move(p));
  }
  // Once reassembled, a binary packet is an ordinary EVENT/ACK whose data holds Binary
  // values (the reference decoder reports it the same way); encode() restores the type.
  p.type = (p.type == PacketType::kBinaryEvent) ? PacketType::kEvent : PacketType::kAck;
  pending_ = std::make_unique<Packet>(std::move(p));
  expected_ = attachments;
  buffers_.clear();
  buffers_.reserve(attachments);
  return std::optional<Packet>();
}

Result<std::optional<Packet>> Decoder::feed_binary(std::string_view bytes) {
  if (!pending_) return invalid("binary data without a pending binary packet");
  buffers_.emplace_back(bytes.begin(), bytes.end());
  if (buffers_.size() < expected_) return std::optional<Packet>();
  Packet p = std::move(*pending_);
  std::vector<Binary> buffers = std::move(buffers_);
  reset();
  if (p.data) {
    Status s = reconstruct(*p.data, buffers);
    if (!s) return s.error();
  }
  return std::optional<Packet>(std::move(p));
}

}  // namespace chorus::socketio
