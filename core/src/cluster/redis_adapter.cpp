#include "chorus/cluster/redis_adapter.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "chorus/cluster/msgpack.h"
#include "chorus/json/json.h"
#include "chorus/utf8.h"
#include "wire.h"

namespace chorus::cluster {
namespace {

Error bad(std::string what) {
  return make_error(ErrorCode::kInvalidPacket, std::move(what));
}

// ---------------------------------------------------------------------------------------
// Reading

// A room name as a JavaScript Set holds it: a string, or a number (JS apps use numeric
// rooms), turned into its JavaScript string form.
bool room_name(const Value& v, std::string& out) {
  if (v.is_string()) {
    out = v.as_string();
    return true;
  }
  if (v.is_number()) {
    out.clear();
    json::format_number(v.as_number(), out);  // decoded numbers are finite
    return true;
  }
  return false;
}

// An array of room names; absent or null is empty (new Set(undefined) is empty).
Status room_list(const Value* v, const char* what, std::vector<std::string>& out) {
  out.clear();
  if (v == nullptr || v->is_null()) return Ok{};
  if (!v->is_array()) return bad(std::string(what) + " is not an array");
  out.reserve(v->size());
  for (const Value& item : v->as_array()) {
    std::string room;
    if (!room_name(item, room)) return bad(std::string(what) + " holds a room that is neither a string nor a number");
    out.push_back(std::move(room));
  }
  return Ok{};
}

Status optional_bool(const Value& object, const char* key, bool& out) {
  const Value* v = object.find(key);
  if (v == nullptr || v->is_null()) return Ok{};
  if (!v->is_bool()) return bad(std::string(key) + " is not a boolean");
  out = v->as_bool();
  return Ok{};
}

Status read_flags(const Value* v, Flags& flags) {
  flags = Flags{};
  if (v == nullptr || v->is_null()) return Ok{};
  if (!v->is_object()) return bad("opts.flags is not an object");
  Status s = optional_bool(*v, "volatile", flags.is_volatile);
  if (!s) return s;
  if (const Value* c = v->find("compress"); c != nullptr && !c->is_null()) {
    if (!c->is_bool()) return bad("flags.compress is not a boolean");
    flags.compress = c->as_bool();
  }
  if (const Value* t = v->find("timeout"); t != nullptr && !t->is_null()) {
    if (!t->is_number() || !(t->as_number() >= 0) || t->as_number() >= 18446744073709551616.0) {
      return bad("flags.timeout is not a non-negative number of milliseconds");
    }
    flags.timeout_ms = static_cast<std::uint64_t>(t->as_number());
  }
  return optional_bool(*v, "expectSingleResponse", flags.expect_single_response);
}

// {rooms, except, flags}: every field may be absent.
Status read_opts(const Value* v, Opts& opts) {
  if (v == nullptr || !v->is_object()) return bad("opts is not an object");
  Status s = room_list(v->find("rooms"), "opts.rooms", opts.rooms);
  if (!s) return s;
  s = room_list(v->find("except"), "opts.except", opts.except);
  if (!s) return s;
  return read_flags(v->find("flags"), opts.flags);
}

// A packet's data: [event, ...args], the event a string.
Status read_event(const Value* v, const char* what, Array& out) {
  if (v == nullptr || !v->is_array() || v->size() == 0 || !(*v)[0].is_string()) {
    return bad(std::string(what) + " is not an array starting with an event name");
  }
  out = v->as_array();
  return Ok{};
}

// {type, data, nsp}: type 2 (EVENT) or 5 (BINARY_EVENT), nsp "/" when absent.
Status read_packet(const Value* v, int& type, Array& data, std::string& nsp) {
  if (v == nullptr || !v->is_object()) return bad("packet is not an object");
  const Value* t = v->find("type");
  if (t == nullptr || !t->is_number() || (t->as_number() != 2 && t->as_number() != 5)) {
    return bad("packet type is not 2 (EVENT) or 5 (BINARY_EVENT)");
  }
  type = static_cast<int>(t->as_number());
  Status s = read_event(v->find("data"), "packet data", data);
  if (!s) return s;
  const Value* n = v->find("nsp");
  if (n == nullptr) {
    nsp = "/";
  } else if (n->is_string()) {
    nsp = n->as_string();
  } else {
    return bad("packet nsp is not a string");
  }
  return Ok{};
}

Status optional_string(const Value& object, const char* key, std::string& out) {
  const Value* v = object.find(key);
  if (v == nullptr) return Ok{};
  if (!v->is_string()) return bad(std::string(key) + " is not a string");
  out = v->as_string();
  return Ok{};
}

Status required_string(const Value& object, const char* key, std::string& out) {
  const Value* v = object.find(key);
  if (v == nullptr || !v->is_string()) return bad(std::string("no string ") + key);
  out = v->as_string();
  return Ok{};
}

// Requests and responses: JSON when the first byte is '{', msgpack otherwise (as Node's
// adapter tells them apart); either way an object.
Result<Value> decode_message(std::string_view bytes, const Limits& limits) {
  if (bytes.empty()) return bad("empty message");
  Result<Value> v = Value();
  if (bytes[0] == '{') {
    // Cluster messages are not client input: a fetchSockets reply of many sockets goes past
    // max_payload. Nesting and number literals stay bounded.
    Limits roomy = limits;
    if (roomy.max_payload < bytes.size()) roomy.max_payload = bytes.size();
    v = json::parse(bytes, roomy);
  } else {
    v = msgpack::decode(bytes, limits);
  }
  if (!v.ok()) return v.error();
  if (!v.value().is_object()) return bad("message is not an object");
  return v;
}

// "type": an integer.
bool read_type(const Value& message, int& type) {
  const Value* t = message.find("type");
  if (t == nullptr || !t->is_number()) return false;
  double n = t->as_number();
  if (n != std::floor(n) || n < 0 || n > 1000) return false;
  type = static_cast<int>(n);
  return true;
}

// ---------------------------------------------------------------------------------------
// Writing

// Node's JSON.stringify: a Buffer becomes {"type":"Buffer","data":[bytes]}, a non-finite
// number null. Strings that are not UTF-8 (a JavaScript string always is) have their bad
// bytes replaced with U+FFFD.
std::string repair_utf8(const std::string& s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t len = 1;
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0xf0) {
      len = 4;
    } else if (c >= 0xe0) {
      len = 3;
    } else if (c >= 0xc0) {
      len = 2;
    }
    if (i + len <= s.size() && utf8::is_valid(std::string_view(s).substr(i, len))) {
      out.append(s, i, len);
      i += len;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

Value jsonable(const Value& v) {
  switch (v.type()) {
    case Value::Type::kNumber:
      return std::isfinite(v.as_number()) ? v : Value();
    case Value::Type::kString:
      return utf8::is_valid(v.as_string()) ? v : Value(repair_utf8(v.as_string()));
    case Value::Type::kBinary: {
      Array bytes;
      bytes.reserve(v.as_binary().size());
      for (std::uint8_t b : v.as_binary()) bytes.emplace_back(static_cast<int>(b));
      return Value::object({{"type", "Buffer"}, {"data", Value(std::move(bytes))}});
    }
    case Value::Type::kArray: {
      Array items;
      items.reserve(v.size());
      for (const Value& item : v.as_array()) items.push_back(jsonable(item));
      return Value(std::move(items));
    }
    case Value::Type::kObject: {
      Object members;
      members.reserve(v.size());
      for (const Member& m : v.as_object()) {
        members.push_back(Member{utf8::is_valid(m.key) ? m.key : repair_utf8(m.key), jsonable(m.value)});
      }
      return Value(std::move(members));
    }
    default:
      return v;
  }
}

std::string to_json(const Value& v) {
  constexpr std::uint32_t kAnyDepth = std::numeric_limits<std::uint32_t>::max();
  Result<std::string> text = json::stringify(v, kAnyDepth);
  if (text.ok()) return std::move(text).value();
  // Binary, a non-finite number or bad UTF-8 somewhere: JSON.stringify's forms of them.
  text = json::stringify(jsonable(v), kAnyDepth);
  return text.ok() ? std::move(text).value() : std::string("null");
}

Value string_array(const std::vector<std::string>& items) {
  Array out;
  out.reserve(items.size());
  for (const std::string& s : items) out.emplace_back(s);
  return Value(std::move(out));
}

// {rooms, except} as Node writes it for requests 2-5; with flags for broadcasts and 7.
Value opts_value(const Opts& opts, bool with_flags) {
  Value v = Value::object({{"rooms", string_array(opts.rooms)}, {"except", string_array(opts.except)}});
  if (with_flags) {
    // Node's order where it has one: a RemoteSocket's operator starts with
    // expectSingleResponse, and timeout() comes last before emit().
    Value flags = Value::object();
    if (opts.flags.expect_single_response) flags.set("expectSingleResponse", true);
    if (opts.flags.is_volatile) flags.set("volatile", true);
    if (opts.flags.compress) flags.set("compress", *opts.flags.compress);
    if (opts.flags.timeout_ms) flags.set("timeout", *opts.flags.timeout_ms);
    v.set("flags", std::move(flags));
  }
  return v;
}

Value packet_value(int type, const Array& data, const std::string& nsp) {
  return Value::object({{"type", type}, {"data", Value(data)}, {"nsp", nsp}});
}

std::string join(std::string_view a, std::string_view b, std::string_view c, std::string_view d = {}) {
  std::string out;
  out.reserve(a.size() + b.size() + c.size() + d.size());
  out.append(a).append(b).append(c).append(d);
  return out;
}

}  // namespace

std::string broadcast_channel(std::string_view key, std::string_view nsp) {
  return join(key, "#", nsp, "#");
}

std::string room_channel(std::string_view key, std::string_view nsp, std::string_view room) {
  std::string out = broadcast_channel(key, nsp);
  out.append(room).push_back('#');
  return out;
}

std::string broadcast_pattern(std::string_view key, std::string_view nsp) {
  return join(key, "#", nsp, "#*");
}

std::string request_channel(std::string_view key, std::string_view nsp) {
  return join(key, "-request#", nsp, "#");
}

std::string response_channel(std::string_view key, std::string_view nsp) {
  return join(key, "-response#", nsp, "#");
}

std::string response_channel(std::string_view key, std::string_view nsp, std::string_view uid) {
  std::string out = response_channel(key, nsp);
  out.append(uid).push_back('#');
  return out;
}

std::optional<std::string> channel_room(std::string_view channel, std::string_view key, std::string_view nsp) {
  std::string prefix = broadcast_channel(key, nsp);
  if (channel.size() < prefix.size() || channel.substr(0, prefix.size()) != prefix) return std::nullopt;
  if (channel.size() == prefix.size()) return std::string();
  if (channel.back() != '#') return std::nullopt;
  return std::string(channel.substr(prefix.size(), channel.size() - prefix.size() - 1));
}

// ---------------------------------------------------------------------------------------
// Broadcasts

std::string encode_broadcast(const Broadcast& broadcast) {
  Value message =
      Value::array({Value(broadcast.uid), packet_value(broadcast.packet_type, broadcast.data, broadcast.nsp),
                    opts_value(broadcast.opts, true)});
  return msgpack::encode(message);
}

Result<Broadcast> decode_broadcast(std::string_view bytes, const Limits& limits) {
  Result<Value> decoded = msgpack::decode(bytes, limits);
  if (!decoded.ok()) return decoded.error();
  const Value& v = decoded.value();
  if (!v.is_array() || v.size() != 3) return bad("broadcast is not a 3-element array [uid, packet, opts]");
  Broadcast b;
  if (!v[0].is_string()) return bad("broadcast uid is not a string");
  b.uid = v[0].as_string();
  Status s = read_packet(&v[1], b.packet_type, b.data, b.nsp);
  if (!s) return s.error();
  s = read_opts(&v[2], b.opts);
  if (!s) return s.error();
  return b;
}

// ---------------------------------------------------------------------------------------
// Requests

Result<Request> decode_request(std::string_view bytes, const Limits& limits) {
  Result<Value> decoded = decode_message(bytes, limits);
  if (!decoded.ok()) return decoded.error();
  const Value& v = decoded.value();
  Request r;
  int type = 0;
  if (!read_type(v, type) || type > static_cast<int>(RequestType::kBroadcast)) {
    return bad("request type is missing or unknown");
  }
  r.type = static_cast<RequestType>(type);
  Status s = optional_string(v, "uid", r.uid);
  if (!s) return s.error();
  s = optional_string(v, "requestId", r.request_id);
  if (!s) return s.error();
  switch (r.type) {
    case RequestType::kSockets:
      s = required_string(v, "requestId", r.request_id);
      if (s) s = room_list(v.find("rooms"), "rooms", r.rooms);
      break;
    case RequestType::kAllRooms:
      s = required_string(v, "requestId", r.request_id);
      break;
    case RequestType::kRemoteJoin:
    case RequestType::kRemoteLeave:
    case RequestType::kRemoteDisconnect: {
      const Value* opts = v.find("opts");
      if (opts != nullptr && !opts->is_null()) {
        s = read_opts(opts, r.opts);
        if (!s) break;
        if (r.type == RequestType::kRemoteDisconnect) {
          s = optional_bool(v, "close", r.close);
          break;
        }
        // socket.join(rooms) takes an array or one room.
        const Value* rooms = v.find("rooms");
        std::string one;
        if (rooms != nullptr && room_name(*rooms, one)) {
          r.rooms = {std::move(one)};
        } else if (rooms != nullptr && rooms->is_array()) {
          s = room_list(rooms, "rooms", r.rooms);
        } else {
          s = bad("rooms is not an array of rooms");
        }
        break;
      }
      // The legacy form {sid, room | close, requestId}.
      s = required_string(v, "requestId", r.request_id);
      if (s) s = required_string(v, "sid", r.legacy_sid);
      if (!s) break;
      if (r.type == RequestType::kRemoteDisconnect) {
        s = optional_bool(v, "close", r.close);
      } else if (const Value* room = v.find("room"); room == nullptr || !room_name(*room, r.legacy_room)) {
        s = bad("legacy request: room is not a string or a number");
      }
      break;
    }
    case RequestType::kRemoteFetch:
      s = required_string(v, "requestId", r.request_id);
      if (s) s = read_opts(v.find("opts"), r.opts);
      break;
    case RequestType::kServerSideEmit:
      s = read_event(v.find("data"), "data", r.data);
      break;
    case RequestType::kBroadcast: {
      s = required_string(v, "requestId", r.request_id);
      int packet_type = 2;
      if (s) s = read_packet(v.find("packet"), packet_type, r.packet_data, r.packet_nsp);
      if (s) s = read_opts(v.find("opts"), r.opts);
      break;
    }
    default:
      s = bad("request type is missing or unknown");
      break;
  }
  if (!s) return s.error();
  return r;
}

std::string encode_request(const Request& r) {
  const int type = static_cast<int>(r.type);
  Value v = Value::object();
  if (!r.uid.empty()) v.set("uid", r.uid);
  const bool legacy =
      !r.legacy_sid.empty() && (r.type == RequestType::kRemoteJoin || r.type == RequestType::kRemoteLeave ||
                                r.type == RequestType::kRemoteDisconnect);
  switch (r.type) {
    case RequestType::kSockets:
      v.set("requestId", r.request_id);
      v.set("type", type);
      v.set("rooms", string_array(r.rooms));
      break;
    case RequestType::kAllRooms:
      v.set("requestId", r.request_id);
      v.set("type", type);
      break;
    case RequestType::kRemoteJoin:
    case RequestType::kRemoteLeave:
    case RequestType::kRemoteDisconnect:
      if (legacy) {
        v.set("requestId", r.request_id);
        v.set("type", type);
        v.set("sid", r.legacy_sid);
        if (r.type == RequestType::kRemoteDisconnect) {
          v.set("close", r.close);
        } else {
          v.set("room", r.legacy_room);
        }
        break;
      }
      v.set("type", type);
      v.set("opts", opts_value(r.opts, false));
      if (r.type == RequestType::kRemoteDisconnect) {
        v.set("close", r.close);
      } else {
        v.set("rooms", string_array(r.rooms));
      }
      break;
    case RequestType::kRemoteFetch:
      v.set("requestId", r.request_id);
      v.set("type", type);
      v.set("opts", opts_value(r.opts, false));
      break;
    case RequestType::kServerSideEmit:
      if (!r.request_id.empty()) v.set("requestId", r.request_id);
      v.set("type", type);
      v.set("data", Value(r.data));
      break;
    case RequestType::kBroadcast:
      v.set("requestId", r.request_id);
      v.set("type", type);
      v.set("packet", packet_value(2, r.packet_data, r.packet_nsp.empty() ? std::string("/") : r.packet_nsp));
      v.set("opts", opts_value(r.opts, true));
      return msgpack::encode(v);
    default:  // 8 and 9 are responses: the type alone
      v.set("requestId", r.request_id);
      v.set("type", type);
      break;
  }
  return to_json(v);
}

// ---------------------------------------------------------------------------------------
// Responses

Result<Response> decode_response(std::string_view bytes, const Limits& limits) {
  Result<Value> decoded = decode_message(bytes, limits);
  if (!decoded.ok()) return decoded.error();
  const Value& v = decoded.value();
  Response r;
  Status s = required_string(v, "requestId", r.request_id);
  if (!s) return s.error();
  if (v.find("type") != nullptr) {
    int type = 0;
    if (!read_type(v, type)) return bad("response type is not a number");
    switch (type) {
      case static_cast<int>(RequestType::kServerSideEmit):
        r.type = RequestType::kServerSideEmit;
        if (const Value* data = v.find("data")) r.data = *data;
        return r;
      case static_cast<int>(RequestType::kBroadcastClientCount): {
        r.type = RequestType::kBroadcastClientCount;
        const Value* count = v.find("clientCount");
        if (count == nullptr || !count->is_number() || count->as_number() < 0 ||
            count->as_number() != std::floor(count->as_number()) || count->as_number() > 9007199254740992.0) {
          return bad("clientCount is not a non-negative integer");
        }
        r.client_count = static_cast<std::uint64_t>(count->as_number());
        return r;
      }
      case static_cast<int>(RequestType::kBroadcastAck):
        r.type = RequestType::kBroadcastAck;
        if (const Value* packet = v.find("packet")) r.packet = *packet;
        return r;
      default:
        return bad("response type " + std::to_string(type) + " is unknown");
    }
  }
  if (const Value* sockets = v.find("sockets")) {
    // Socket ids (type 0) or socket objects (type 5); an empty list is taken for type 5.
    if (!sockets->is_array()) return bad("sockets is not an array");
    bool all_strings = sockets->size() > 0, all_objects = true;
    for (const Value& socket : sockets->as_array()) {
      all_strings = all_strings && socket.is_string();
      all_objects = all_objects && socket.is_object();
    }
    if (!all_strings && !all_objects) return bad("sockets holds neither socket ids nor socket objects");
    r.type = all_strings ? RequestType::kSockets : RequestType::kRemoteFetch;
    r.sockets = sockets->as_array();
    return r;
  }
  if (const Value* rooms = v.find("rooms")) {
    r.type = RequestType::kAllRooms;
    std::vector<std::string> names;
    s = room_list(rooms, "rooms", names);
    if (!s) return s.error();
    if (rooms->is_null()) return bad("rooms is not an array");
    r.rooms.reserve(names.size());
    for (std::string& name : names) r.rooms.emplace_back(std::move(name));
    return r;
  }
  // {requestId} alone: the legacy reply to 2, 3 or 4 (the requester knows which).
  r.type = RequestType::kRemoteJoin;
  return r;
}

std::string encode_response(const Response& r) {
  Value v = Value::object();
  switch (r.type) {
    case RequestType::kSockets:
    case RequestType::kRemoteFetch:
      v.set("requestId", r.request_id);
      v.set("sockets", Value(r.sockets));
      break;
    case RequestType::kAllRooms:
      v.set("requestId", r.request_id);
      v.set("rooms", Value(r.rooms));
      break;
    case RequestType::kServerSideEmit:
      v.set("type", static_cast<int>(r.type));
      v.set("requestId", r.request_id);
      v.set("data", r.data);
      break;
    case RequestType::kBroadcastClientCount:
      v.set("type", static_cast<int>(r.type));
      v.set("requestId", r.request_id);
      v.set("clientCount", r.client_count);
      break;
    case RequestType::kBroadcastAck:
      v.set("type", static_cast<int>(r.type));
      v.set("requestId", r.request_id);
      v.set("packet", r.packet);
      return msgpack::encode(v);
    default:  // the legacy replies to 2, 3, 4 (and nothing else has a reply)
      v.set("requestId", r.request_id);
      break;
  }
  return to_json(v);
}

}  // namespace chorus::cluster

namespace chorus::cluster::wire {

Status parse_room_list(const Value* v, const char* what, std::vector<std::string>& out) {
  return room_list(v, what, out);
}
Status parse_opts(const Value* v, Opts& opts) {
  return read_opts(v, opts);
}
Status parse_event(const Value* v, const char* what, Array& out) {
  return read_event(v, what, out);
}
Value opts_to_value(const Opts& opts, bool with_flags) {
  return opts_value(opts, with_flags);
}
Value string_list(const std::vector<std::string>& items) {
  return string_array(items);
}
std::string json_text(const Value& v) {
  return to_json(v);
}

}  // namespace chorus::cluster::wire
