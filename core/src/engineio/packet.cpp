#include "chorus/engineio/packet.h"

#include "chorus/base64.h"
#include "chorus/json/json.h"
#include "chorus/utf8.h"

namespace chorus::engineio {

const char* to_string(PacketType type) {
  switch (type) {
    case PacketType::kOpen:
      return "open";
    case PacketType::kClose:
      return "close";
    case PacketType::kPing:
      return "ping";
    case PacketType::kPong:
      return "pong";
    case PacketType::kMessage:
      return "message";
    case PacketType::kUpgrade:
      return "upgrade";
    case PacketType::kNoop:
      return "noop";
  }
  return "unknown";
}

Result<Packet> decode_text(std::string_view text) {
  if (text.empty()) return make_error(ErrorCode::kInvalidPacket, "empty Engine.IO packet");
  char t = text[0];
  if (t == 'b') {  // Engine.IO v4: binary message in a text transport, base64-encoded
    auto bytes = base64::decode(text.substr(1));
    if (!bytes) return make_error(ErrorCode::kInvalidPacket, "binary packet: " + bytes.error().message);
    return Packet::bytes(std::move(bytes).value());
  }
  if (t < '0' || t > '6') {
    return make_error(ErrorCode::kInvalidPacket,
                      std::string("unknown Engine.IO packet type '") +
                          (static_cast<unsigned char>(t) >= 0x20 && static_cast<unsigned char>(t) < 0x7f
                               ? std::string(1, t)
                               : "\\x" + std::to_string(static_cast<unsigned char>(t))) +
                          "'");
  }
  std::string_view data = text.substr(1);
  if (!utf8::is_valid(data)) return make_error(ErrorCode::kInvalidUtf8, "Engine.IO text packet is not UTF-8");
  return Packet::text(static_cast<PacketType>(t - '0'), std::string(data));
}

void encode_text(const Packet& packet, std::string& out) {
  if (packet.binary) {
    out.push_back('b');
    base64::encode(packet.data, out);
    return;
  }
  out.push_back(static_cast<char>('0' + static_cast<int>(packet.type)));
  out += packet.data;
}

std::string encode_text(const Packet& packet) {
  std::string out;
  encode_text(packet, out);
  return out;
}

Result<std::vector<Packet>> decode_payload(std::string_view body, const Limits& limits) {
  if (body.size() > limits.max_payload) {
    return make_error(ErrorCode::kLimitExceeded,
                      "payload exceeds maxPayload (" + std::to_string(limits.max_payload) + " bytes)");
  }
  if (body.empty()) return make_error(ErrorCode::kInvalidPacket, "empty payload");
  std::vector<Packet> packets;
  std::size_t start = 0;
  while (true) {
    std::size_t sep = body.find(kRecordSeparator, start);
    std::string_view item = body.substr(start, sep == std::string_view::npos ? std::string_view::npos : sep - start);
    if (item.empty()) {
      return make_error(ErrorCode::kInvalidPacket, "empty packet in payload (stray 0x1E separator)");
    }
    auto p = decode_text(item);
    if (!p) return p.error();
    packets.push_back(std::move(p).value());
    if (sep == std::string_view::npos) break;
    start = sep + 1;
  }
  return packets;
}

void encode_payload(const std::vector<Packet>& packets, std::string& out) {
  bool first = true;
  for (const Packet& p : packets) {
    if (!first) out.push_back(kRecordSeparator);
    first = false;
    encode_text(p, out);
  }
}

std::string encode_handshake(const Handshake& h) {
  std::string out = "{\"sid\":";
  json::quote_string(h.sid, out);
  out += ",\"upgrades\":[";
  for (std::size_t i = 0; i < h.upgrades.size(); ++i) {
    if (i) out.push_back(',');
    json::quote_string(h.upgrades[i], out);
  }
  out += "],\"pingInterval\":" + std::to_string(h.ping_interval_ms);
  out += ",\"pingTimeout\":" + std::to_string(h.ping_timeout_ms);
  out += ",\"maxPayload\":" + std::to_string(h.max_payload);
  out.push_back('}');
  return out;
}

namespace {
bool get_uint(const Value& obj, const char* key, double max, double& out) {
  const Value* v = obj.find(key);
  if (v == nullptr || !v->is_number()) return false;
  double d = v->as_number();
  if (d < 0 || d > max || d != static_cast<double>(static_cast<std::uint64_t>(d))) return false;
  out = d;
  return true;
}
}  // namespace

Result<Handshake> parse_handshake(std::string_view text, const Limits& limits) {
  auto parsed = json::parse(text, limits);
  if (!parsed) return make_error(ErrorCode::kInvalidPacket, "handshake: " + parsed.error().message);
  const Value& v = parsed.value();
  if (!v.is_object()) return make_error(ErrorCode::kInvalidPacket, "handshake is not an object");
  Handshake h;
  const Value* sid = v.find("sid");
  if (sid == nullptr || !sid->is_string() || sid->as_string().empty()) {
    return make_error(ErrorCode::kInvalidPacket, "handshake without a sid");
  }
  h.sid = sid->as_string();
  const Value* upgrades = v.find("upgrades");
  if (upgrades == nullptr || !upgrades->is_array()) {
    return make_error(ErrorCode::kInvalidPacket, "handshake without an upgrades array");
  }
  for (const Value& u : upgrades->as_array()) {
    if (!u.is_string()) return make_error(ErrorCode::kInvalidPacket, "handshake upgrades must be strings");
    h.upgrades.push_back(u.as_string());
  }
  double d = 0;
  if (!get_uint(v, "pingInterval", 4294967295.0, d)) {
    return make_error(ErrorCode::kInvalidPacket, "handshake without a valid pingInterval");
  }
  h.ping_interval_ms = static_cast<std::uint32_t>(d);
  if (!get_uint(v, "pingTimeout", 4294967295.0, d)) {
    return make_error(ErrorCode::kInvalidPacket, "handshake without a valid pingTimeout");
  }
  h.ping_timeout_ms = static_cast<std::uint32_t>(d);
  if (v.find("maxPayload") != nullptr) {
    if (!get_uint(v, "maxPayload", 9007199254740991.0, d)) {
      return make_error(ErrorCode::kInvalidPacket, "handshake maxPayload is not a valid size");
    }
    h.max_payload = static_cast<std::uint64_t>(d);
  }
  return h;
}

}  // namespace chorus::engineio
