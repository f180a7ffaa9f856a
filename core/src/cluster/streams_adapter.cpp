#include "chorus/cluster/streams_adapter.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "chorus/base64.h"
#include "chorus/cluster/msgpack.h"
#include "chorus/json/json.h"
#include "wire.h"

namespace chorus::cluster::streams {
namespace {

Error bad(std::string what) {
  return make_error(ErrorCode::kInvalidPacket, std::move(what));
}

constexpr double kMaxSafeInteger = 9007199254740991.0;

bool may_carry_binary(MessageType type) {
  switch (type) {
    case MessageType::kBroadcast:
    case MessageType::kFetchSocketsResponse:
    case MessageType::kServerSideEmit:
    case MessageType::kServerSideEmitResponse:
    case MessageType::kBroadcastAck:
      return true;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------
// data -> Value, in Node's field order

Value packet_value(const Packet& p) {
  Value v = Value::object({{"type", p.type}, {"data", Value(p.data)}});
  if (p.nsp) v.set("nsp", *p.nsp);
  if (p.id) v.set("id", *p.id);
  return v;
}

struct DataWriter {
  Value operator()(const NoData&) const { return Value(); }
  Value operator()(const BroadcastData& d) const {
    Value v = Value::object({{"packet", packet_value(d.packet)}});
    if (d.request_id) v.set("requestId", *d.request_id);
    v.set("opts", wire::opts_to_value(d.opts, true));
    return v;
  }
  Value operator()(const SocketsRoomsData& d) const {
    return Value::object({{"opts", wire::opts_to_value(d.opts, true)}, {"rooms", wire::string_list(d.rooms)}});
  }
  Value operator()(const DisconnectSocketsData& d) const {
    Value v = Value::object({{"opts", wire::opts_to_value(d.opts, true)}});
    if (d.close) v.set("close", *d.close);
    return v;
  }
  Value operator()(const FetchSocketsData& d) const {
    return Value::object({{"opts", wire::opts_to_value(d.opts, true)}, {"requestId", d.request_id}});
  }
  Value operator()(const FetchSocketsResponseData& d) const {
    return Value::object({{"requestId", d.request_id}, {"sockets", Value(d.sockets)}});
  }
  Value operator()(const ServerSideEmitData& d) const {
    Value v = Value::object();
    if (d.request_id) v.set("requestId", *d.request_id);
    v.set("packet", Value(d.packet));
    return v;
  }
  Value operator()(const ServerSideEmitResponseData& d) const {
    return Value::object({{"requestId", d.request_id}, {"packet", d.packet}});
  }
  Value operator()(const BroadcastClientCountData& d) const {
    return Value::object({{"requestId", d.request_id}, {"clientCount", d.client_count}});
  }
  Value operator()(const BroadcastAckData& d) const {
    return Value::object({{"requestId", d.request_id}, {"packet", d.packet}});
  }
};

// ---------------------------------------------------------------------------------------
// Value -> data

// A present, non-null member (@msgpack/msgpack writes an undefined member as nil).
const Value* member(const Value& object, const char* key) {
  const Value* v = object.find(key);
  return v != nullptr && !v->is_null() ? v : nullptr;
}

Status required_string(const Value& object, const char* key, std::string& out) {
  const Value* v = member(object, key);
  if (v == nullptr || !v->is_string()) return bad(std::string("data.") + key + " is not a string");
  out = v->as_string();
  return Ok{};
}

Status optional_string(const Value& object, const char* key, std::optional<std::string>& out) {
  const Value* v = member(object, key);
  if (v == nullptr) return Ok{};
  if (!v->is_string()) return bad(std::string("data.") + key + " is not a string");
  out = v->as_string();
  return Ok{};
}

Status read_packet(const Value* v, Packet& p) {
  if (v == nullptr || !v->is_object()) return bad("data.packet is not an object");
  const Value* t = v->find("type");
  if (t == nullptr || !t->is_number() || (t->as_number() != 2 && t->as_number() != 5)) {
    return bad("data.packet.type is not 2 (EVENT) or 5 (BINARY_EVENT)");
  }
  p.type = static_cast<int>(t->as_number());
  Status s = wire::parse_event(v->find("data"), "data.packet.data", p.data);
  if (!s) return s;
  if (const Value* nsp = member(*v, "nsp")) {
    if (!nsp->is_string()) return bad("data.packet.nsp is not a string");
    p.nsp = nsp->as_string();
  }
  if (const Value* id = member(*v, "id")) {
    if (!id->is_number()) return bad("data.packet.id is not a number");
    p.id = id->as_number();
  }
  return Ok{};
}

Status read_data(MessageType type, const Value* data, MessageData& out) {
  out = empty_data(type);
  if (std::holds_alternative<NoData>(out)) return Ok{};  // 1, 2, 13: any data is ignored
  if (data == nullptr || !data->is_object()) return bad("data is not an object");
  const Value& v = *data;
  Status s = Ok{};
  switch (type) {
    case MessageType::kBroadcast: {
      auto& d = std::get<BroadcastData>(out);
      s = read_packet(v.find("packet"), d.packet);
      if (s) s = optional_string(v, "requestId", d.request_id);
      if (s) s = wire::parse_opts(v.find("opts"), d.opts);
      break;
    }
    case MessageType::kSocketsJoin:
    case MessageType::kSocketsLeave: {
      auto& d = std::get<SocketsRoomsData>(out);
      s = wire::parse_opts(v.find("opts"), d.opts);
      const Value* rooms = v.find("rooms");
      if (s && (rooms == nullptr || !rooms->is_array())) s = bad("data.rooms is not an array");
      if (s) s = wire::parse_room_list(rooms, "data.rooms", d.rooms);
      break;
    }
    case MessageType::kDisconnectSockets: {
      auto& d = std::get<DisconnectSocketsData>(out);
      s = wire::parse_opts(v.find("opts"), d.opts);
      if (const Value* close = member(v, "close"); s && close != nullptr) {
        if (close->is_bool()) {
          d.close = close->as_bool();
        } else {
          s = bad("data.close is not a boolean");
        }
      }
      break;
    }
    case MessageType::kFetchSockets: {
      auto& d = std::get<FetchSocketsData>(out);
      s = wire::parse_opts(v.find("opts"), d.opts);
      if (s) s = required_string(v, "requestId", d.request_id);
      break;
    }
    case MessageType::kFetchSocketsResponse: {
      auto& d = std::get<FetchSocketsResponseData>(out);
      s = required_string(v, "requestId", d.request_id);
      const Value* sockets = v.find("sockets");
      if (s && (sockets == nullptr || !sockets->is_array())) s = bad("data.sockets is not an array");
      if (!s) break;
      for (const Value& socket : sockets->as_array()) {
        if (!socket.is_object()) return bad("data.sockets holds a socket that is not an object");
      }
      d.sockets = sockets->as_array();
      break;
    }
    case MessageType::kServerSideEmit: {
      auto& d = std::get<ServerSideEmitData>(out);
      s = optional_string(v, "requestId", d.request_id);
      if (s) s = wire::parse_event(v.find("packet"), "data.packet", d.packet);
      break;
    }
    case MessageType::kServerSideEmitResponse: {
      auto& d = std::get<ServerSideEmitResponseData>(out);
      s = required_string(v, "requestId", d.request_id);
      if (const Value* packet = v.find("packet")) d.packet = *packet;
      break;
    }
    case MessageType::kBroadcastClientCount: {
      auto& d = std::get<BroadcastClientCountData>(out);
      s = required_string(v, "requestId", d.request_id);
      if (!s) break;
      const Value* count = v.find("clientCount");
      if (count == nullptr || !count->is_number() || !(count->as_number() >= 0) ||
          count->as_number() != std::floor(count->as_number()) || count->as_number() > kMaxSafeInteger) {
        s = bad("data.clientCount is not a non-negative integer");
        break;
      }
      d.client_count = static_cast<std::uint64_t>(count->as_number());
      break;
    }
    case MessageType::kBroadcastAck: {
      auto& d = std::get<BroadcastAckData>(out);
      s = required_string(v, "requestId", d.request_id);
      if (const Value* packet = v.find("packet")) d.packet = *packet;
      break;
    }
    default:
      break;
  }
  return s;
}

bool valid_type(double n) {
  return n >= 1 && n <= 13 && n == std::floor(n);
}

Value message_value(const ClusterMessage& m) {
  Value v = Value::object({{"type", static_cast<int>(m.type)}});
  if (!std::holds_alternative<NoData>(m.data)) v.set("data", std::visit(DataWriter{}, m.data));
  v.set("uid", m.uid);
  v.set("nsp", m.nsp);
  return v;
}

std::string join(std::string_view a, std::string_view b, std::string_view c, std::string_view d = {}) {
  std::string out;
  out.reserve(a.size() + b.size() + c.size() + d.size() + 2);
  out.append(a).append(b).append(c).append(d);
  return out;
}

// A decimal of at most 64 bits; digits only.
std::optional<std::uint64_t> parse_u64(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    auto d = static_cast<std::uint64_t>(c - '0');
    if (n > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

}  // namespace

MessageData empty_data(MessageType type) {
  switch (type) {
    case MessageType::kBroadcast:
      return BroadcastData{};
    case MessageType::kSocketsJoin:
    case MessageType::kSocketsLeave:
      return SocketsRoomsData{};
    case MessageType::kDisconnectSockets:
      return DisconnectSocketsData{};
    case MessageType::kFetchSockets:
      return FetchSocketsData{};
    case MessageType::kFetchSocketsResponse:
      return FetchSocketsResponseData{};
    case MessageType::kServerSideEmit:
      return ServerSideEmitData{};
    case MessageType::kServerSideEmitResponse:
      return ServerSideEmitResponseData{};
    case MessageType::kBroadcastClientCount:
      return BroadcastClientCountData{};
    case MessageType::kBroadcastAck:
      return BroadcastAckData{};
    default:
      return NoData{};
  }
}

bool is_response(MessageType type) {
  return type == MessageType::kFetchSocketsResponse || type == MessageType::kServerSideEmitResponse ||
         type == MessageType::kBroadcastClientCount || type == MessageType::kBroadcastAck;
}

bool is_ephemeral(const ClusterMessage& message) {
  if (message.type == MessageType::kBroadcast) {
    const auto* d = std::get_if<BroadcastData>(&message.data);
    return d != nullptr && d->request_id.has_value();
  }
  return message.type == MessageType::kServerSideEmit || message.type == MessageType::kFetchSockets ||
         is_response(message.type);
}

// ---------------------------------------------------------------------------------------
// Stream entries

Fields encode_entry(const ClusterMessage& message, const EntryOptions& options) {
  Fields fields;
  fields.reserve(4);
  fields.emplace_back("uid", message.uid);
  fields.emplace_back("nsp", message.nsp);
  fields.emplace_back("type", std::to_string(static_cast<int>(message.type)));
  if (!std::holds_alternative<NoData>(message.data)) {
    Value data = std::visit(DataWriter{}, message.data);
    if (!options.only_plaintext && may_carry_binary(message.type) && data.has_binary()) {
      fields.emplace_back("data", base64::encode(msgpack::encode(data, msgpack::Dialect::kMsgpackJs)));
    } else {
      fields.emplace_back("data", wire::json_text(data));
    }
  }
  return fields;
}

Result<ClusterMessage> decode_entry(const std::vector<std::string>& flat, const Limits& limits) {
  if (flat.size() % 2 != 0) return bad("stream entry: an odd number of fields and values");
  Fields fields;
  fields.reserve(flat.size() / 2);
  for (std::size_t i = 0; i < flat.size(); i += 2) fields.emplace_back(flat[i], flat[i + 1]);
  return decode_entry(fields, limits);
}

Result<ClusterMessage> decode_entry(const Fields& fields, const Limits& limits) {
  const std::string *uid = nullptr, *nsp = nullptr, *type = nullptr, *data = nullptr;
  for (const auto& [name, value] : fields) {  // the last of a repeated field wins, as in Node
    if (name == "uid") {
      uid = &value;
    } else if (name == "nsp") {
      nsp = &value;
    } else if (name == "type") {
      type = &value;
    } else if (name == "data") {
      data = &value;
    }
  }
  if (nsp == nullptr || nsp->empty()) return bad("stream entry: no nsp");
  if (uid == nullptr) return bad("stream entry: no uid");
  ClusterMessage m;
  m.uid = *uid;
  m.nsp = *nsp;
  std::optional<std::uint64_t> n = type != nullptr && type->size() <= 2 ? parse_u64(*type) : std::nullopt;
  if (!n || !valid_type(static_cast<double>(*n))) return bad("stream entry: type is not a number from 1 to 13");
  m.type = static_cast<MessageType>(*n);
  Result<Value> value = Value();
  bool has_data = data != nullptr && !data->empty();  // Node: if (rawMessage.data)
  if (has_data && (*data)[0] == '{') {
    // Entries are not client input: a fetchSockets reply of many sockets goes past
    // max_payload. Nesting and number literals stay bounded.
    Limits roomy = limits;
    if (roomy.max_payload < data->size()) roomy.max_payload = data->size();
    value = json::parse(*data, roomy);
  } else if (has_data) {
    Result<std::string> bytes = base64::decode(*data);
    if (!bytes.ok()) return bad("stream entry: data is neither JSON nor base64 (" + bytes.error().message + ")");
    value = msgpack::decode(bytes.value(), limits, msgpack::Dialect::kMsgpackJs);
  }
  if (!value.ok()) return value.error();
  Status s = read_data(m.type, has_data ? &value.value() : nullptr, m.data);
  if (!s) return s.error();
  return m;
}

std::int32_t js_hash_code(std::string_view nsp) {
  std::uint32_t hash = 0;
  auto add = [&hash](std::uint32_t unit) { hash = hash * 31 + unit; };
  std::size_t i = 0;
  while (i < nsp.size()) {
    auto c = static_cast<unsigned char>(nsp[i]);
    std::uint32_t cp = 0;
    std::size_t len = 1;
    if (c < 0x80) {
      cp = c;
    } else if (c >= 0xf0 && i + 3 < nsp.size()) {
      len = 4;
      cp = ((c & 0x07u) << 18) | ((nsp[i + 1] & 0x3fu) << 12) | ((nsp[i + 2] & 0x3fu) << 6) | (nsp[i + 3] & 0x3fu);
    } else if (c >= 0xe0 && i + 2 < nsp.size()) {
      len = 3;
      cp = ((c & 0x0fu) << 12) | ((nsp[i + 1] & 0x3fu) << 6) | (nsp[i + 2] & 0x3fu);
    } else if (c >= 0xc0 && i + 1 < nsp.size()) {
      len = 2;
      cp = ((c & 0x1fu) << 6) | (nsp[i + 1] & 0x3fu);
    } else {
      cp = 0xfffd;  // not UTF-8 (a namespace name is); counted as the replacement character
    }
    if (cp >= 0x10000) {  // a surrogate pair in UTF-16
      cp -= 0x10000;
      add(0xd800 + (cp >> 10));
      add(0xdc00 + (cp & 0x3ff));
    } else {
      add(cp);
    }
    i += len;
  }
  return static_cast<std::int32_t>(hash);
}

std::string stream_name(std::string_view name, std::uint32_t count, std::string_view nsp) {
  if (count <= 1) return std::string(name);
  const std::int64_t index = static_cast<std::int64_t>(js_hash_code(nsp)) % static_cast<std::int64_t>(count);
  return join(name, "-", std::to_string(index));
}

std::vector<std::string> xadd_command(std::string_view stream, std::uint64_t max_len, const Fields& fields) {
  std::vector<std::string> out{"XADD", std::string(stream), "MAXLEN", "~", std::to_string(max_len), "*"};
  out.reserve(out.size() + fields.size() * 2);
  for (const auto& [name, value] : fields) {
    out.push_back(name);
    out.push_back(value);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Pub/sub messages

// The same names as the classic adapter's broadcast and room channels (hence one adapter kind
// per prefix).
std::string public_channel(std::string_view prefix, std::string_view nsp) {
  return broadcast_channel(prefix, nsp);
}

std::string private_channel(std::string_view prefix, std::string_view nsp, std::string_view uid) {
  return room_channel(prefix, nsp, uid);
}

std::vector<std::string> server_count_command(std::string_view prefix, std::string_view nsp, bool sharded) {
  return {"PUBSUB", sharded ? "SHARDNUMSUB" : "NUMSUB", public_channel(prefix, nsp)};
}

std::string encode_pubsub(const ClusterMessage& message) {
  return msgpack::encode(message_value(message), msgpack::Dialect::kMsgpackJs);
}

Result<ClusterMessage> decode_pubsub(std::string_view bytes, const Limits& limits) {
  Result<Value> decoded = msgpack::decode(bytes, limits, msgpack::Dialect::kMsgpackJs);
  if (!decoded.ok()) return decoded.error();
  const Value& v = decoded.value();
  if (!v.is_object()) return bad("pub/sub message is not a map");
  ClusterMessage m;
  const Value* type = v.find("type");
  if (type == nullptr || !type->is_number() || !valid_type(type->as_number())) {
    return bad("pub/sub message: type is not a number from 1 to 13");
  }
  m.type = static_cast<MessageType>(static_cast<int>(type->as_number()));
  const Value* uid = v.find("uid");
  if (uid == nullptr || !uid->is_string()) return bad("pub/sub message: uid is not a string");
  m.uid = uid->as_string();
  const Value* nsp = v.find("nsp");
  if (nsp == nullptr || !nsp->is_string()) return bad("pub/sub message: nsp is not a string");
  m.nsp = nsp->as_string();
  Status s = read_data(m.type, member(v, "data"), m.data);
  if (!s) return s.error();
  return m;
}

// ---------------------------------------------------------------------------------------
// Sessions and offsets

std::string session_key(std::string_view prefix, std::string_view pid) {
  return join(prefix, pid, {});
}

std::string encode_session(const Session& session) {
  Value v = Value::object({{"sid", session.sid},
                           {"pid", session.pid},
                           {"rooms", wire::string_list(session.rooms)},
                           {"data", session.data}});
  if (session.offset) v.set("offset", *session.offset);
  return base64::encode(msgpack::encode(v, msgpack::Dialect::kMsgpackJs));
}

Result<Session> decode_session(std::string_view text, const Limits& limits) {
  Result<std::string> bytes = base64::decode(text);
  if (!bytes.ok()) return bad("session: not base64 (" + bytes.error().message + ")");
  Result<Value> decoded = msgpack::decode(bytes.value(), limits, msgpack::Dialect::kMsgpackJs);
  if (!decoded.ok()) return decoded.error();
  const Value& v = decoded.value();
  if (!v.is_object()) return bad("session is not a map");
  Session session;
  const Value* sid = v.find("sid");
  const Value* pid = v.find("pid");
  if (sid == nullptr || !sid->is_string()) return bad("session: sid is not a string");
  if (pid == nullptr || !pid->is_string()) return bad("session: pid is not a string");
  session.sid = sid->as_string();
  session.pid = pid->as_string();
  const Value* rooms = v.find("rooms");
  if (rooms == nullptr || !rooms->is_array()) return bad("session: rooms is not an array");
  Status s = wire::parse_room_list(rooms, "session rooms", session.rooms);
  if (!s) return s.error();
  if (const Value* data = v.find("data")) session.data = *data;
  if (const Value* offset = v.find("offset"); offset != nullptr && offset->is_string()) {
    session.offset = offset->as_string();
  }
  return session;
}

std::optional<StreamId> parse_offset(std::string_view offset) {
  std::size_t dash = offset.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::optional<std::uint64_t> ms = parse_u64(offset.substr(0, dash));
  std::optional<std::uint64_t> seq = parse_u64(offset.substr(dash + 1));
  if (!ms || !seq) return std::nullopt;
  return StreamId{*ms, *seq};
}

std::string to_string(const StreamId& id) {
  return std::to_string(id.ms) + "-" + std::to_string(id.seq);
}

std::optional<StreamId> next_id(const StreamId& id) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  if (id.seq < kMax) return StreamId{id.ms, id.seq + 1};
  if (id.ms < kMax) return StreamId{id.ms + 1, 0};
  return std::nullopt;
}

bool should_replay(const ClusterMessage& message, std::string_view nsp, const std::vector<std::string>& session_rooms) {
  if (message.type != MessageType::kBroadcast || message.nsp != nsp) return false;
  const auto* d = std::get_if<BroadcastData>(&message.data);
  if (d == nullptr || d->request_id || d->packet.id || d->opts.flags.is_volatile) return false;
  auto contains = [](const std::vector<std::string>& list, const std::string& room) {
    for (const std::string& r : list) {
      if (r == room) return true;
    }
    return false;
  };
  bool included = d->opts.rooms.empty();
  for (const std::string& room : session_rooms) {
    if (contains(d->opts.except, room)) return false;
    included = included || contains(d->opts.rooms, room);
  }
  return included;
}

}  // namespace chorus::cluster::streams
