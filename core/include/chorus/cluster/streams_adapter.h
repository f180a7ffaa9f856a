// The wire protocol of @socket.io/redis-streams-adapter 0.3 (on socket.io-adapter's
// ClusterAdapter): cluster messages, the Redis stream entries that carry the lasting ones, the
// pub/sub messages that carry requests and responses, and the session blobs of connection state
// recovery. Pure functions: no Redis, no sockets.
//
// A cluster message is {type, data, uid, nsp} with type 1-13 (MessageType). Where it goes:
// - a stream entry (XADD <stream> MAXLEN ~ <maxLen> * uid U nsp N type T data D): broadcasts
//   without ack, socketsJoin/Leave, disconnectSockets, heartbeats and ADAPTER_CLOSE. Every node
//   reads every entry (XREAD from "$"); the entry id is the offset a client gets with each event.
//   `type` is the number as a string; `data` is JSON.stringify(data), or base64 of the
//   @msgpack/msgpack bytes when the type may carry binary (3, 8, 9, 10, 12) and data has some;
//   a message without data has no `data` field.
// - pub/sub, always @msgpack/msgpack of the whole message (is_ephemeral): broadcasts with ack,
//   fetchSockets and serverSideEmit on <prefix>#<nsp># (public_channel); every response
//   (8, 10, 11, 12) on the requester's <prefix>#<nsp>#<uid># (private_channel). Each node
//   subscribes to both; the cluster size is PUBSUB NUMSUB <prefix>#<nsp># (SHARDNUMSUB with
//   sharded pub/sub), the requester included.
// - sessions: SET <sessionKeyPrefix><pid> base64(msgpack({sid, pid, rooms, data})) PX <ms>;
//   restore takes the key once (MULTI GET DEL), checks the offset is still in the stream
//   (XRANGE s offset offset) and replays the BROADCAST entries after it (XRANGE s next +).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "chorus/cluster/redis_adapter.h"
#include "chorus/error.h"
#include "chorus/limits.h"
#include "chorus/value.h"

namespace chorus::cluster::streams {

enum class MessageType : int {
  kInitialHeartbeat = 1,
  kHeartbeat = 2,
  kBroadcast = 3,
  kSocketsJoin = 4,
  kSocketsLeave = 5,
  kDisconnectSockets = 6,
  kFetchSockets = 7,
  kFetchSocketsResponse = 8,
  kServerSideEmit = 9,
  kServerSideEmitResponse = 10,
  kBroadcastClientCount = 11,
  kBroadcastAck = 12,
  kAdapterClose = 13,
};

// A socket.io packet as a broadcast carries it: {type: 2, data: [event, ...args]}. Node
// publishes it before setting nsp or an ack id, so both are normally absent.
struct Packet {
  int type = 2;  // 2 (EVENT); 5 (BINARY_EVENT) is accepted on decode
  Array data;    // [event, ...args]
  std::optional<std::string> nsp;
  std::optional<double> id;
};

// The `data` of each type (the order of fields is Node's order on the wire).
struct NoData {};       // 1, 2, 13
struct BroadcastData {  // 3: {packet, requestId?, opts}; a requestId asks for acks (ephemeral)
  Packet packet;
  std::optional<std::string> request_id;
  Opts opts;
};
struct SocketsRoomsData {  // 4, 5: {opts, rooms}
  Opts opts;
  std::vector<std::string> rooms;
};
struct DisconnectSocketsData {  // 6: {opts, close?}
  Opts opts;
  std::optional<bool> close;
};
struct FetchSocketsData {  // 7: {opts, requestId}
  Opts opts;
  std::string request_id;
};
struct FetchSocketsResponseData {  // 8: {requestId, sockets: [{id, handshake, rooms, data}]}
  std::string request_id;
  Array sockets;
};
struct ServerSideEmitData {  // 9: {requestId?, packet: [event, ...args]}
  std::optional<std::string> request_id;
  Array packet;
};
struct ServerSideEmitResponseData {  // 10: {requestId, packet: the first ack argument}
  std::string request_id;
  Value packet;
};
struct BroadcastClientCountData {  // 11: {requestId, clientCount}
  std::string request_id;
  std::uint64_t client_count = 0;
};
struct BroadcastAckData {  // 12: {requestId, packet: the client's ack argument}
  std::string request_id;
  Value packet;
};
using MessageData = std::variant<NoData, BroadcastData, SocketsRoomsData, DisconnectSocketsData, FetchSocketsData,
                                 FetchSocketsResponseData, ServerSideEmitData, ServerSideEmitResponseData,
                                 BroadcastClientCountData, BroadcastAckData>;

// {type, data, uid, nsp}. Encoders write `data` as its alternative says (the decoders always
// pair a type with its alternative; a caller must do the same).
struct ClusterMessage {
  MessageType type = MessageType::kHeartbeat;
  MessageData data;
  std::string uid;  // 16 hex characters for Node nodes, "emitter" for the emitter
  std::string nsp;
};

// The `data` alternative of a type: NoData for 1, 2, 13, BroadcastData for 3, ...
MessageData empty_data(MessageType type);
// 3 with a requestId, 7, 9: these go over pub/sub (and so do the responses 8, 10, 11, 12).
bool is_ephemeral(const ClusterMessage& message);
bool is_response(MessageType type);  // 8, 10, 11, 12

// ---------------------------------------------------------------------------------------
// Stream entries

// Hash fields in order, as XADD takes them and XRANGE / XREAD return them.
using Fields = std::vector<std::pair<std::string, std::string>>;

struct EntryOptions {
  bool only_plaintext = false;  // the adapter's onlyPlaintext: never msgpack, binary as JSON
};
// uid, nsp, type, data (no data field for 1, 2, 13).
Fields encode_entry(const ClusterMessage& message, const EntryOptions& options = EntryOptions{});
// From an entry's flat field/value list (XRANGE/XREAD's [field, value, field, value, ...]); a
// repeated field takes its last value, unknown fields are ignored. Errors: an odd list, no or
// an empty nsp (Node skips those entries), a type that is not a decimal 1-13, data that is
// neither a JSON object nor base64 of a msgpack map, data of the wrong shape for the type.
Result<ClusterMessage> decode_entry(const std::vector<std::string>& flat, const Limits& limits = Limits{});
Result<ClusterMessage> decode_entry(const Fields& fields, const Limits& limits = Limits{});

// The stream a namespace is written to: `name` when count is 1, else name-<i> with i =
// hashCode(nsp) % count as JavaScript computes it (UTF-16 code units, 32-bit wrap-around, a
// remainder with the dividend's sign). A negative i (socket.io--3) is what Node nodes write to
// and no node reads: kept so that Chorus writes where Node peers write.
std::int32_t js_hash_code(std::string_view nsp);
std::string stream_name(std::string_view name, std::uint32_t count, std::string_view nsp);
// XADD <stream> MAXLEN ~ <max_len> * <field> <value> ...
std::vector<std::string> xadd_command(std::string_view stream, std::uint64_t max_len, const Fields& fields);

// ---------------------------------------------------------------------------------------
// Pub/sub messages

std::string public_channel(std::string_view prefix, std::string_view nsp);                         // P#N#
std::string private_channel(std::string_view prefix, std::string_view nsp, std::string_view uid);  // P#N#uid#
// The command that counts the nodes of a namespace: PUBSUB NUMSUB P#N# (SHARDNUMSUB when
// sharded). The reply counts the requester too.
std::vector<std::string> server_count_command(std::string_view prefix, std::string_view nsp, bool sharded = false);

// @msgpack/msgpack of {type, data, uid, nsp} ({type, uid, nsp} without data).
std::string encode_pubsub(const ClusterMessage& message);
// Errors: not msgpack, not a map, no string uid or nsp, an unknown type, data of the wrong
// shape for the type.
Result<ClusterMessage> decode_pubsub(std::string_view bytes, const Limits& limits = Limits{});

// ---------------------------------------------------------------------------------------
// Sessions and offsets (connection state recovery)

struct Session {
  std::string sid;
  std::string pid;
  std::vector<std::string> rooms;
  Value data;  // socket.data
  // A Chorus extension, ignored by Node nodes: the stream position when the socket connected,
  // where the replay starts for a client that never received an event (and so has no offset).
  std::optional<std::string> offset;
};
std::string session_key(std::string_view prefix, std::string_view pid);  // prefix + pid
// base64(@msgpack/msgpack({sid, pid, rooms, data[, offset]})).
std::string encode_session(const Session& session);
// Errors: not base64, not msgpack, not a map, no string sid or pid, rooms not a list of rooms.
Result<Session> decode_session(std::string_view text, const Limits& limits = Limits{});

// A Redis stream id <ms>-<seq>, both unsigned 64-bit.
struct StreamId {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;
};
// ^[0-9]+-[0-9]+$ (the adapter's check), and each part fits 64 bits (what Redis accepts).
std::optional<StreamId> parse_offset(std::string_view offset);
std::string to_string(const StreamId& id);
// The smallest id after `id`, for XRANGE's inclusive start: seq + 1, or (ms + 1)-0 when seq is
// at its maximum (Node adds 1 to parseInt(seq), which loses precision past 2^53); nullopt
// after the largest id.
std::optional<StreamId> next_id(const StreamId& id);

// Whether a stream entry is a packet a restored session must get: a BROADCAST of `nsp`
// without ack (no requestId, no packet id), not volatile (Node 0.3 replays volatile ones; the
// in-memory adapter never stores them), addressed to one of the session's rooms (or to all)
// and to none of its excluded rooms.
bool should_replay(const ClusterMessage& message, std::string_view nsp, const std::vector<std::string>& session_rooms);

}  // namespace chorus::cluster::streams
