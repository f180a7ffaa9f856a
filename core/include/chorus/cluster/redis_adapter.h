// The wire protocol of the classic Socket.IO Redis adapter (@socket.io/redis-adapter 8.x,
// pub/sub mode) and of @socket.io/redis-emitter 5.x: channel names, broadcast messages and
// the request/response messages nodes exchange. Pure functions: no Redis, no sockets.
//
// Channels, for a key prefix K (default "socket.io") and a namespace N:
//   K#N#          broadcasts to every socket or to 0 / 2+ rooms (subscribed as pattern K#N#*)
//   K#N#room#     broadcasts to exactly one room
//   K-request#N#  requests (every node subscribes: PUBSUB NUMSUB counts the nodes)
//   K-response#N# responses (and K-response#N#uid# when a peer asks for its own channel)
//
// Broadcasts are msgpack [uid, {type: 2, data: [event, ...args], nsp}, {rooms, except,
// flags}]. Requests and responses are JSON, except type 7 (BROADCAST) and 9 (BROADCAST_ACK),
// which are msgpack maps; a message whose first byte is '{' is JSON, anything else msgpack.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/error.h"
#include "chorus/limits.h"
#include "chorus/value.h"

namespace chorus::cluster {

std::string broadcast_channel(std::string_view key, std::string_view nsp);                       // K#N#
std::string room_channel(std::string_view key, std::string_view nsp, std::string_view room);     // K#N#room#
std::string broadcast_pattern(std::string_view key, std::string_view nsp);                       // K#N#*
std::string request_channel(std::string_view key, std::string_view nsp);                         // K-request#N#
std::string response_channel(std::string_view key, std::string_view nsp);                        // K-response#N#
std::string response_channel(std::string_view key, std::string_view nsp, std::string_view uid);  // K-response#N#uid#

// The room a broadcast channel names: "" for K#N#, "room" for K#N#room#; nullopt when
// `channel` is not a broadcast channel of this key and namespace.
std::optional<std::string> channel_room(std::string_view channel, std::string_view key, std::string_view nsp);

// Broadcast flags as Node sets them ({volatile, compress, timeout, expectSingleResponse});
// unknown flags are ignored on decode and never sent.
struct Flags {
  bool is_volatile = false;
  std::optional<bool> compress;
  std::optional<std::uint64_t> timeout_ms;
  bool expect_single_response = false;
};

// {rooms, except, flags}. Room names that arrive as numbers are turned into their JavaScript
// string form (JS apps use numeric rooms).
struct Opts {
  std::vector<std::string> rooms;
  std::vector<std::string> except;
  Flags flags;
};

// A broadcast message: [uid, {type, data, nsp}, opts]. `data` is [event, ...args] with
// Binary values where the packet has binary arguments (msgpack bin). A missing nsp is "/".
struct Broadcast {
  std::string uid;
  std::string nsp = "/";
  int packet_type = 2;  // 2 (EVENT); 5 (BINARY_EVENT) is accepted on decode
  Array data;
  Opts opts;
};
std::string encode_broadcast(const Broadcast& broadcast);  // msgpack
// Errors: not msgpack, not a 3-element array, no string uid, a packet whose type is not 2/5
// or whose data is not a non-empty array starting with a string (the event name), opts
// of the wrong shape.
Result<Broadcast> decode_broadcast(std::string_view bytes, const Limits& limits = Limits{});

enum class RequestType : int {
  kSockets = 0,  // legacy: answered, never sent
  kAllRooms = 1,
  kRemoteJoin = 2,
  kRemoteLeave = 3,
  kRemoteDisconnect = 4,
  kRemoteFetch = 5,
  kServerSideEmit = 6,
  kBroadcast = 7,             // broadcast with acks
  kBroadcastClientCount = 8,  // response
  kBroadcastAck = 9,          // response
};

// A message on the request channel (types 0-7). Fields not used by a type stay empty.
struct Request {
  RequestType type = RequestType::kAllRooms;
  std::string uid;                      // "" when absent (the emitter sends none with types 2-4)
  std::string request_id;               // "" when absent
  Opts opts;                            // 2, 3, 4, 5, 7
  std::vector<std::string> rooms;       // 0: filter; 2, 3: rooms to join or leave
  std::string legacy_sid, legacy_room;  // 2, 3 legacy form {sid, room, requestId}
  bool close = false;                   // 4
  Array data;                           // 6: [event, ...args]
  Array packet_data;                    // 7: the packet's [event, ...args]
  std::string packet_nsp;               // 7: the packet's nsp ("/" when absent)
};
// JSON or msgpack (first byte '{' means JSON). Errors: neither, not an object, an unknown or
// missing type, a field of the wrong type for it.
Result<Request> decode_request(std::string_view bytes, const Limits& limits = Limits{});
// Requests as Chorus sends them: JSON, except kBroadcast (msgpack). Only the fields of the
// type are written, in the order Node writes them.
std::string encode_request(const Request& request);

// A message on a response channel. Types 0, 1 and 5 have no "type" field on the wire; they are
// told apart by their fields (sockets / rooms) and returned as kSockets/kAllRooms/kRemoteFetch
// (an empty "sockets" list as kRemoteFetch). A bare {requestId}, the legacy reply to 2, 3 or 4,
// is returned as kRemoteJoin: the requester knows which it asked.
struct Response {
  RequestType type = RequestType::kAllRooms;
  std::string request_id;
  Array rooms;                     // 1: room names
  Array sockets;                   // 0: socket ids; 5: [{id, handshake, rooms, data}, ...]
  Value data;                      // 6: the first argument of one node's ack (absent: null)
  std::uint64_t client_count = 0;  // 8
  Value packet;                    // 9: the first argument of one client's ack
};
Result<Response> decode_response(std::string_view bytes, const Limits& limits = Limits{});
// JSON for 0, 1, 5, 6, 8 ({requestId, sockets} / {requestId, rooms} / {requestId, sockets} /
// {type: 6, requestId, data} / {type: 8, requestId, clientCount}) and for the legacy replies
// to 2, 3, 4 ({requestId}); msgpack for 9 ({type: 9, requestId, packet}). In JSON, Binary is
// written as Node's JSON.stringify writes a Buffer: {"type": "Buffer", "data": [bytes]}.
std::string encode_response(const Response& response);

}  // namespace chorus::cluster
