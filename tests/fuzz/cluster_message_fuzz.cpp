// Fuzz target: the cluster codecs (chorus/cluster/msgpack.h, redis_adapter.h,
// streams_adapter.h) on any bytes.
//
// Input: byte 0 configures the limits (bit 7: max_json_depth 8 instead of the default); the
// rest is one message, given to msgpack::decode (both dialects), decode_broadcast,
// decode_request, decode_response, and the streams adapter's decode_pubsub, decode_session,
// parse_offset and decode_entry (the message split at NUL bytes into a field/value list).
//
// Invariants: what decodes is within the limits (depth, finite numbers, valid UTF-8);
// msgpack::encode of a decoded value decodes again to an equal value and encodes to the same
// bytes; a decoded broadcast, request or response re-encodes, and the re-encoding decodes to
// the same fields; a streams message, entry or session re-encodes to what decodes to the same
// encoding; a parsed offset prints to a string that parses to it, and its next id is larger.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/cluster/msgpack.h"
#include "chorus/cluster/redis_adapter.h"
#include "chorus/cluster/streams_adapter.h"
#include "chorus/limits.h"
#include "chorus/value.h"
#include "fuzz_util.h"

namespace {

namespace cl = chorus::cluster;
using chorus::Value;

void check_value(const Value& v, const chorus::Limits& limits) {
  chorus::fuzz::ValueStats stats = chorus::fuzz::stats_of(v);
  CHORUS_FUZZ_CHECK(stats.depth <= limits.max_json_depth);
  CHORUS_FUZZ_CHECK(stats.all_finite);
  CHORUS_FUZZ_CHECK(stats.valid_utf8);
  std::string bytes = chorus::msgpack::encode(v);
  auto again = chorus::msgpack::decode(bytes, limits);
  CHORUS_FUZZ_CHECK(again.ok());
  CHORUS_FUZZ_CHECK(again.value() == v);
  CHORUS_FUZZ_CHECK(chorus::msgpack::encode(again.value()) == bytes);
}

bool same_opts(const cl::Opts& a, const cl::Opts& b) {
  return a.rooms == b.rooms && a.except == b.except && a.flags.is_volatile == b.flags.is_volatile &&
         a.flags.compress == b.flags.compress && a.flags.timeout_ms == b.flags.timeout_ms &&
         a.flags.expect_single_response == b.flags.expect_single_response;
}

void check_broadcast(const cl::Broadcast& b, const chorus::Limits& limits) {
  CHORUS_FUZZ_CHECK(b.packet_type == 2 || b.packet_type == 5);
  CHORUS_FUZZ_CHECK(!b.data.empty() && b.data[0].is_string());
  auto again = cl::decode_broadcast(cl::encode_broadcast(b), limits);
  CHORUS_FUZZ_CHECK(again.ok());
  CHORUS_FUZZ_CHECK(again->uid == b.uid && again->nsp == b.nsp && again->packet_type == b.packet_type);
  CHORUS_FUZZ_CHECK(Value(again->data) == Value(b.data));
  CHORUS_FUZZ_CHECK(same_opts(again->opts, b.opts));
}

bool is_legacy(const cl::Request& r) {
  return !r.legacy_sid.empty();
}

void check_request(const cl::Request& r, const chorus::Limits& limits) {
  CHORUS_FUZZ_CHECK(static_cast<int>(r.type) >= 0 && r.type <= cl::RequestType::kBroadcast);
  std::string bytes = cl::encode_request(r);
  // JSON re-encodings may be deeper than the input by the Buffer objects Binary becomes, and
  // the wrapping of a msgpack request written as JSON: give them room.
  chorus::Limits roomy = limits;
  roomy.max_json_depth += 4;
  auto again = cl::decode_request(bytes, roomy);
  if (r.type == cl::RequestType::kServerSideEmit || is_legacy(r)) {
    // JSON carries Binary as {"type":"Buffer",...} objects, as Node does: only the shape stays.
    CHORUS_FUZZ_CHECK(again.ok());
    CHORUS_FUZZ_CHECK(again->type == r.type && again->uid == r.uid && again->request_id == r.request_id);
    return;
  }
  CHORUS_FUZZ_CHECK(again.ok());
  // Node writes join/leave/disconnect without a requestId (only the legacy form has one), and
  // so does Chorus: a requestId read from such a request is not written back.
  bool keeps_id = r.type != cl::RequestType::kRemoteJoin && r.type != cl::RequestType::kRemoteLeave &&
                  r.type != cl::RequestType::kRemoteDisconnect;
  CHORUS_FUZZ_CHECK(again->type == r.type && again->uid == r.uid &&
                    again->request_id == (keeps_id ? r.request_id : std::string()));
  CHORUS_FUZZ_CHECK(again->rooms == r.rooms && again->close == r.close);
  CHORUS_FUZZ_CHECK(Value(again->packet_data) == Value(r.packet_data));
  if (r.type == cl::RequestType::kBroadcast) {
    CHORUS_FUZZ_CHECK(same_opts(again->opts, r.opts));
    CHORUS_FUZZ_CHECK(again->packet_nsp == r.packet_nsp);
  }
}

void check_response(const cl::Response& r, const chorus::Limits& limits) {
  std::string bytes = cl::encode_response(r);
  chorus::Limits roomy = limits;
  roomy.max_json_depth += 4;
  auto again = cl::decode_response(bytes, roomy);
  CHORUS_FUZZ_CHECK(again.ok());
  CHORUS_FUZZ_CHECK(again->request_id == r.request_id);
  // An empty list of socket ids (type 0) reads back as type 5, which it cannot be told from.
  bool ambiguous = r.type == cl::RequestType::kSockets && r.sockets.empty();
  CHORUS_FUZZ_CHECK(again->type == r.type || ambiguous);
  if (r.type == cl::RequestType::kBroadcastAck) CHORUS_FUZZ_CHECK(again->packet == r.packet);
  if (r.type == cl::RequestType::kBroadcastClientCount) CHORUS_FUZZ_CHECK(again->client_count == r.client_count);
  if (r.type == cl::RequestType::kAllRooms) CHORUS_FUZZ_CHECK(Value(again->rooms) == Value(r.rooms));
}

namespace st = cl::streams;

void check_streams(std::string_view message, const chorus::Limits& limits) {
  chorus::Limits roomy = limits;
  roomy.max_json_depth += 4;  // the opts and flags objects filled in, Buffer objects in JSON
  auto value = chorus::msgpack::decode(message, limits, chorus::msgpack::Dialect::kMsgpackJs);
  if (value.ok()) {
    std::string bytes = chorus::msgpack::encode(value.value(), chorus::msgpack::Dialect::kMsgpackJs);
    auto again = chorus::msgpack::decode(bytes, limits, chorus::msgpack::Dialect::kMsgpackJs);
    CHORUS_FUZZ_CHECK(again.ok() && again.value() == value.value());
  }
  auto pubsub = st::decode_pubsub(message, limits);
  if (pubsub.ok()) {
    std::string bytes = st::encode_pubsub(pubsub.value());
    auto again = st::decode_pubsub(bytes, roomy);
    CHORUS_FUZZ_CHECK(again.ok());
    CHORUS_FUZZ_CHECK(again->type == pubsub->type && again->data.index() == pubsub->data.index());
    CHORUS_FUZZ_CHECK(st::encode_pubsub(again.value()) == bytes);
    (void)st::is_ephemeral(again.value());
  }
  std::vector<std::string> flat;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= message.size(); ++i) {
    if (i == message.size() || message[i] == '\0') {
      flat.emplace_back(message.substr(start, i - start));
      start = i + 1;
    }
  }
  auto entry = st::decode_entry(flat, limits);
  if (entry.ok()) {
    st::Fields fields = st::encode_entry(entry.value());
    auto again = st::decode_entry(fields, roomy);
    CHORUS_FUZZ_CHECK(again.ok());
    CHORUS_FUZZ_CHECK(again->type == entry->type && again->uid == entry->uid && again->nsp == entry->nsp);
    CHORUS_FUZZ_CHECK(st::encode_entry(again.value()) == fields);
  }
  auto session = st::decode_session(message, limits);
  if (session.ok()) {
    auto again = st::decode_session(st::encode_session(session.value()), roomy);
    CHORUS_FUZZ_CHECK(again.ok());
    CHORUS_FUZZ_CHECK(again->sid == session->sid && again->pid == session->pid && again->rooms == session->rooms &&
                      again->data == session->data && again->offset == session->offset);
  }
  if (auto id = st::parse_offset(message)) {
    auto again = st::parse_offset(st::to_string(*id));
    CHORUS_FUZZ_CHECK(again && again->ms == id->ms && again->seq == id->seq);
    if (auto next = st::next_id(*id)) CHORUS_FUZZ_CHECK(next->ms > id->ms || next->seq > id->seq);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  chorus::fuzz::ByteReader reader(data, size);
  std::uint8_t config = reader.byte();
  std::string_view message = reader.take(reader.remaining());
  chorus::Limits limits;
  if (config & 0x80) limits.max_json_depth = 8;

  auto value = chorus::msgpack::decode(message, limits);
  if (value.ok()) check_value(value.value(), limits);
  auto broadcast = cl::decode_broadcast(message, limits);
  if (broadcast.ok()) check_broadcast(broadcast.value(), limits);
  auto request = cl::decode_request(message, limits);
  if (request.ok()) check_request(request.value(), limits);
  auto response = cl::decode_response(message, limits);
  if (response.ok()) check_response(response.value(), limits);
  check_streams(message, limits);
  return 0;
}
