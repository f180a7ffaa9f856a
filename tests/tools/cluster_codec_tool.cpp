// chorus_cluster_codec: the cluster codecs (chorus/cluster/msgpack.h, redis_adapter.h) on the
// command line, for the differential test against notepack.io and @socket.io/redis-adapter
// (tests/cluster_codec/). Reads one JSON request per stdin line, writes one JSON line each.
//
// Bytes travel as hex; in values, Binary is {"$binary":"<base64>"}.
//   {"op":"decode","hex":H}                 -> {"ok":true,"value":V}
//   {"op":"encode","value":V}               -> {"ok":true,"hex":H}
//   {"op":"decode_broadcast","hex":H}       -> {"ok":true,"broadcast":B}
//   {"op":"encode_broadcast","broadcast":B} -> {"ok":true,"hex":H}
//   {"op":"decode_request","hex":H}         -> {"ok":true,"request":R}
//   {"op":"encode_request","request":R}     -> {"ok":true,"hex":H}
//   {"op":"decode_response","hex":H}        -> {"ok":true,"response":P}
//   {"op":"encode_response","response":P}   -> {"ok":true,"hex":H}
// The streams adapter's codec (chorus/cluster/streams_adapter.h); M is the message as Node holds
// it, {type, data, uid, nsp}:
//   {"op":"decode_entry","fields":[[F,V],...]}        -> {"ok":true,"message":M}
//   {"op":"encode_entry","message":M,"only_plaintext"} -> {"ok":true,"fields":[[F,V],...]}
//   {"op":"decode_pubsub","hex":H}                     -> {"ok":true,"message":M}
//   {"op":"encode_pubsub","message":M}                 -> {"ok":true,"hex":H}
//   {"op":"decode_session","text":T}                   -> {"ok":true,"session":{sid,pid,rooms,data[,offset]}}
//   {"op":"encode_session","session":S}                -> {"ok":true,"text":T}
//   {"op":"next_offset","offset":O}                    -> {"ok":true,"next":O'}
// "dialect":"msgpack" on decode/encode picks @msgpack/msgpack's dialect (default notepack).
// A decode error: {"ok":false,"code":"<ErrorCode>","error":"<message>"}; a line that cannot
// be read: {"ok":false,"usage":"<why>"}. Optional "max_json_depth" on any line sets the limit.
//
//   B: {"uid","nsp","type","data":[...],"rooms","except","flags":{"volatile","compress"?,
//       "timeout"?,"expectSingleResponse"}}
//   R: {"type","uid","requestId","rooms","opts":{"rooms","except","flags"},"sid","room","close",
//       "data","packet":{"data","nsp"}}
//   P: {"type","requestId","rooms","sockets","data","clientCount","packet"}
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include "chorus/base64.h"
#include "chorus/cluster/msgpack.h"
#include "chorus/cluster/redis_adapter.h"
#include "chorus/cluster/streams_adapter.h"
#include "chorus/json/json.h"
#include "chorus/limits.h"
#include "chorus/value.h"
#include "command_line.h"

namespace chorus {
namespace {

namespace cl = cluster;

std::string to_hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

bool from_hex(std::string_view hex, std::string& out) {
  auto nibble = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return false;
  out.clear();
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

// Binary -> {"$binary": base64}, and back.
Value tag(const Value& v) {
  switch (v.type()) {
    case Value::Type::kBinary: {
      const Binary& b = v.as_binary();
      return Value::object(
          {{"$binary", base64::encode(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()))}});
    }
    case Value::Type::kArray: {
      Array out;
      for (const Value& item : v.as_array()) out.push_back(tag(item));
      return Value(std::move(out));
    }
    case Value::Type::kObject: {
      Object out;
      for (const Member& m : v.as_object()) out.push_back(Member{m.key, tag(m.value)});
      return Value(std::move(out));
    }
    default:
      return v;
  }
}

Value untag(const Value& v) {
  if (v.is_object()) {
    const Value* b64 = v.find("$binary");
    if (b64 != nullptr && v.size() == 1 && b64->is_string()) {
      auto bytes = base64::decode(b64->as_string());
      if (bytes.ok()) {
        const auto* p = reinterpret_cast<const std::uint8_t*>(bytes.value().data());
        return Value(Binary(p, p + bytes.value().size()));
      }
    }
    Object out;
    for (const Member& m : v.as_object()) out.push_back(Member{m.key, untag(m.value)});
    return Value(std::move(out));
  }
  if (v.is_array()) {
    Array out;
    for (const Value& item : v.as_array()) out.push_back(untag(item));
    return Value(std::move(out));
  }
  return v;
}

Value strings(const std::vector<std::string>& items) {
  Array out;
  for (const std::string& s : items) out.emplace_back(s);
  return Value(std::move(out));
}

std::vector<std::string> strings_of(const Value* v) {
  std::vector<std::string> out;
  if (v != nullptr && v->is_array()) {
    for (const Value& item : v->as_array()) out.push_back(item.get_string());
  }
  return out;
}

Array array_of(const Value* v) {
  return v != nullptr && v->is_array() ? untag(*v).as_array() : Array{};
}

Value flags_value(const cl::Flags& f) {
  Value v = Value::object({{"volatile", f.is_volatile}});
  if (f.compress) v.set("compress", *f.compress);
  if (f.timeout_ms) v.set("timeout", *f.timeout_ms);
  v.set("expectSingleResponse", f.expect_single_response);
  return v;
}

cl::Flags flags_of(const Value* v) {
  cl::Flags f;
  if (v == nullptr || !v->is_object()) return f;
  f.is_volatile = v->find("volatile") != nullptr && v->find("volatile")->get_bool();
  if (const Value* c = v->find("compress"); c != nullptr && c->is_bool()) f.compress = c->as_bool();
  if (const Value* t = v->find("timeout"); t != nullptr && t->is_number()) {
    f.timeout_ms = static_cast<std::uint64_t>(t->as_number());
  }
  f.expect_single_response = v->find("expectSingleResponse") != nullptr && v->find("expectSingleResponse")->get_bool();
  return f;
}

Value opts_value(const cl::Opts& o) {
  return Value::object({{"rooms", strings(o.rooms)}, {"except", strings(o.except)}, {"flags", flags_value(o.flags)}});
}

cl::Opts opts_of(const Value* v) {
  cl::Opts o;
  if (v == nullptr || !v->is_object()) return o;
  o.rooms = strings_of(v->find("rooms"));
  o.except = strings_of(v->find("except"));
  o.flags = flags_of(v->find("flags"));
  return o;
}

std::string text_of(const Value& v, const char* key) {
  const Value* f = v.find(key);
  return f != nullptr ? f->get_string() : std::string();
}

Value failure(const Error& e) {
  return Value::object({{"ok", false}, {"code", to_string(e.code)}, {"error", e.message}});
}

Value usage(std::string why) {
  return Value::object({{"ok", false}, {"usage", std::move(why)}});
}

// A streams message as Node holds it ({type, data, uid, nsp}): the typed message's pub/sub form.
Value message_of(const cl::streams::ClusterMessage& m) {
  auto v = msgpack::decode(cl::streams::encode_pubsub(m), Limits{}, msgpack::Dialect::kMsgpackJs);
  return v.ok() ? tag(v.value()) : Value();
}

Value run_streams(const std::string& op, const Value& line, const std::string& bytes, const Limits& limits) {
  namespace st = cl::streams;
  auto ok = [](const char* key, Value v) { return Value::object({{"ok", true}, {key, std::move(v)}}); };
  if (op == "decode_entry") {
    const Value* in = line.find("fields");
    if (in == nullptr || !in->is_array()) return usage("no fields");
    st::Fields fields;
    for (const Value& pair : in->as_array()) {
      if (!pair.is_array() || pair.size() != 2) return usage("fields are [name, value] pairs");
      fields.emplace_back(pair[0].get_string(), pair[1].get_string());
    }
    auto m = st::decode_entry(fields, limits);
    return m.ok() ? ok("message", message_of(m.value())) : failure(m.error());
  }
  if (op == "decode_pubsub") {
    auto m = st::decode_pubsub(bytes, limits);
    return m.ok() ? ok("message", message_of(m.value())) : failure(m.error());
  }
  if (op == "encode_entry" || op == "encode_pubsub") {
    const Value* in = line.find("message");
    if (in == nullptr) return usage("no message");
    // Node's message, read as the typed message it is.
    auto m = st::decode_pubsub(msgpack::encode(untag(*in), msgpack::Dialect::kMsgpackJs), limits);
    if (!m.ok()) return failure(m.error());
    if (op == "encode_pubsub") return ok("hex", to_hex(st::encode_pubsub(m.value())));
    const Value* plain = line.find("only_plaintext");
    Array fields;
    for (const auto& [name, value] :
         st::encode_entry(m.value(), st::EntryOptions{plain != nullptr && plain->get_bool()})) {
      fields.push_back(Value::array({name, value}));
    }
    return ok("fields", Value(std::move(fields)));
  }
  if (op == "decode_session") {
    auto s = st::decode_session(text_of(line, "text"), limits);
    if (!s.ok()) return failure(s.error());
    Value session =
        Value::object({{"sid", s->sid}, {"pid", s->pid}, {"rooms", strings(s->rooms)}, {"data", tag(s->data)}});
    if (s->offset) session.set("offset", *s->offset);
    return ok("session", std::move(session));
  }
  if (op == "encode_session") {
    const Value* in = line.find("session");
    if (in == nullptr || !in->is_object()) return usage("no session");
    st::Session s;
    s.sid = text_of(*in, "sid");
    s.pid = text_of(*in, "pid");
    s.rooms = strings_of(in->find("rooms"));
    if (const Value* d = in->find("data")) s.data = untag(*d);
    if (const Value* o = in->find("offset"); o != nullptr && o->is_string()) s.offset = o->as_string();
    return ok("text", st::encode_session(s));
  }
  // next_offset
  auto id = st::parse_offset(text_of(line, "offset"));
  if (!id) return failure(make_error(ErrorCode::kInvalidPacket, "invalid offset"));
  auto next = st::next_id(*id);
  if (!next) return failure(make_error(ErrorCode::kInvalidPacket, "no id after the largest"));
  return ok("next", st::to_string(*next));
}

Value run(const Value& line) {
  Limits limits;
  if (const Value* depth = line.find("max_json_depth"); depth != nullptr && depth->is_number()) {
    limits.max_json_depth = static_cast<std::uint32_t>(depth->as_number());
  }
  std::string op = text_of(line, "op");
  std::string bytes;
  if (op.rfind("decode", 0) == 0 && !from_hex(text_of(line, "hex"), bytes)) return usage("hex is not hex");
  auto ok = [](const char* key, Value v) { return Value::object({{"ok", true}, {key, std::move(v)}}); };

  const auto dialect =
      text_of(line, "dialect") == "msgpack" ? msgpack::Dialect::kMsgpackJs : msgpack::Dialect::kNotepack;
  if (op == "decode") {
    auto v = msgpack::decode(bytes, limits, dialect);
    return v.ok() ? ok("value", tag(v.value())) : failure(v.error());
  }
  if (op == "encode") {
    const Value* v = line.find("value");
    if (v == nullptr) return usage("no value");
    return ok("hex", to_hex(msgpack::encode(untag(*v), dialect)));
  }
  if (op.find("entry") != std::string::npos || op.find("pubsub") != std::string::npos ||
      op.find("session") != std::string::npos || op == "next_offset") {
    return run_streams(op, line, bytes, limits);
  }
  if (op == "decode_broadcast") {
    auto b = cl::decode_broadcast(bytes, limits);
    if (!b.ok()) return failure(b.error());
    return ok("broadcast", Value::object({{"uid", b->uid},
                                          {"nsp", b->nsp},
                                          {"type", b->packet_type},
                                          {"data", tag(Value(b->data))},
                                          {"rooms", strings(b->opts.rooms)},
                                          {"except", strings(b->opts.except)},
                                          {"flags", flags_value(b->opts.flags)}}));
  }
  if (op == "encode_broadcast") {
    const Value* in = line.find("broadcast");
    if (in == nullptr || !in->is_object()) return usage("no broadcast");
    cl::Broadcast b;
    b.uid = text_of(*in, "uid");
    if (in->find("nsp") != nullptr) b.nsp = text_of(*in, "nsp");
    if (const Value* t = in->find("type")) b.packet_type = static_cast<int>(t->get_number(2));
    b.data = array_of(in->find("data"));
    b.opts = opts_of(in);
    return ok("hex", to_hex(cl::encode_broadcast(b)));
  }
  if (op == "decode_request") {
    auto r = cl::decode_request(bytes, limits);
    if (!r.ok()) return failure(r.error());
    return ok(
        "request",
        Value::object({{"type", static_cast<int>(r->type)},
                       {"uid", r->uid},
                       {"requestId", r->request_id},
                       {"rooms", strings(r->rooms)},
                       {"opts", opts_value(r->opts)},
                       {"sid", r->legacy_sid},
                       {"room", r->legacy_room},
                       {"close", r->close},
                       {"data", tag(Value(r->data))},
                       {"packet", Value::object({{"data", tag(Value(r->packet_data))}, {"nsp", r->packet_nsp}})}}));
  }
  if (op == "encode_request") {
    const Value* in = line.find("request");
    if (in == nullptr || !in->is_object()) return usage("no request");
    cl::Request r;
    r.type = static_cast<cl::RequestType>(static_cast<int>(in->find("type") ? in->find("type")->get_number() : 1));
    r.uid = text_of(*in, "uid");
    r.request_id = text_of(*in, "requestId");
    r.rooms = strings_of(in->find("rooms"));
    r.opts = opts_of(in->find("opts"));
    r.legacy_sid = text_of(*in, "sid");
    r.legacy_room = text_of(*in, "room");
    r.close = in->find("close") != nullptr && in->find("close")->get_bool();
    r.data = array_of(in->find("data"));
    if (const Value* packet = in->find("packet")) {
      r.packet_data = array_of(packet->find("data"));
      r.packet_nsp = text_of(*packet, "nsp");
    }
    return ok("hex", to_hex(cl::encode_request(r)));
  }
  if (op == "decode_response") {
    auto r = cl::decode_response(bytes, limits);
    if (!r.ok()) return failure(r.error());
    return ok("response", Value::object({{"type", static_cast<int>(r->type)},
                                         {"requestId", r->request_id},
                                         {"rooms", tag(Value(r->rooms))},
                                         {"sockets", tag(Value(r->sockets))},
                                         {"data", tag(r->data)},
                                         {"clientCount", r->client_count},
                                         {"packet", tag(r->packet)}}));
  }
  if (op == "encode_response") {
    const Value* in = line.find("response");
    if (in == nullptr || !in->is_object()) return usage("no response");
    cl::Response r;
    r.type = static_cast<cl::RequestType>(static_cast<int>(in->find("type") ? in->find("type")->get_number() : 1));
    r.request_id = text_of(*in, "requestId");
    r.rooms = array_of(in->find("rooms"));
    r.sockets = array_of(in->find("sockets"));
    if (const Value* d = in->find("data")) r.data = untag(*d);
    if (const Value* c = in->find("clientCount")) r.client_count = static_cast<std::uint64_t>(c->get_number());
    if (const Value* p = in->find("packet")) r.packet = untag(*p);
    return ok("hex", to_hex(cl::encode_response(r)));
  }
  return usage("unknown op '" + op + "'");
}

}  // namespace
}  // namespace chorus

int main(int argc, char** argv) {
  chorus::tools::CommandLine("chorus_cluster_codec",
                             "usage: chorus_cluster_codec < requests.jsonl\n"
                             "  Runs the cluster codecs (msgpack, the Redis adapter's messages) on one JSON\n"
                             "  request per stdin line and prints one JSON result per line (see the source).\n"
                             "  --help  this text\n")
      .parse(argc, argv);
  chorus::Limits roomy;
  roomy.max_payload = 1u << 30;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.empty()) continue;
    auto parsed = chorus::json::parse(line, roomy);
    chorus::Value out =
        parsed.ok() && parsed.value().is_object() ? chorus::run(parsed.value()) : chorus::usage("not a JSON object");
    auto text = chorus::json::stringify(out, 1u << 20);
    std::fputs(text.ok() ? text.value().c_str() : "{\"ok\":false,\"usage\":\"unprintable\"}", stdout);
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
  return 0;
}
