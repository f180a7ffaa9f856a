// Socket.IO protocol 5 packets, with binary attachments.
//
// Wire form (Socket.IO v5 spec, "Packet encoding"):
//   <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]
// followed, for BINARY_EVENT / BINARY_ACK, by <attachments> binary Engine.IO messages; in
// the JSON each binary value is replaced by {"_placeholder":true,"num":<index>}.
//
// Validation (matching the reference parser, stricter where it would accept nonsense):
//  CONNECT takes an object or nothing; DISCONNECT nothing; CONNECT_ERROR an object, a string or
//  nothing; EVENT a non-empty array whose first item is a string that is not a reserved event
//  name; ACK an array; no whitespace before the payload. Ack ids are at most 2^53 - 1 (JavaScript's safe integers). A
//  namespace must start with '/' and be followed by ',' when anything follows it. Attachment counts
//  are 1..Limits::max_attachments; placeholders must carry an integer index below the count
//  and appear only in binary packets.
//
// Thread-safety: encode() is stateless. A Decoder belongs to one connection and one thread
// at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/error.h"
#include "chorus/limits.h"
#include "chorus/value.h"

namespace chorus::socketio {

enum class PacketType : std::uint8_t {
  kConnect = 0,
  kDisconnect = 1,
  kEvent = 2,
  kAck = 3,
  kConnectError = 4,
  kBinaryEvent = 5,
  kBinaryAck = 6,
};

const char* to_string(PacketType type);

constexpr int kProtocolVersion = 5;
constexpr std::uint64_t kMaxAckId = (std::uint64_t{1} << 53) - 1;

// connect, connect_error, disconnect, disconnecting, newListener, removeListener, error.
bool is_reserved_event(std::string_view name);

struct Packet {
  PacketType type = PacketType::kEvent;
  std::string nsp = "/";
  std::optional<std::uint64_t> id;
  // Payload; std::nullopt when the packet has none. Binary values inside are real Binary
  // values (placeholders are resolved on decode and created on encode).
  std::optional<Value> data;

  friend bool operator==(const Packet& a, const Packet& b) {
    return a.type == b.type && a.nsp == b.nsp && a.id == b.id && a.data == b.data;
  }
};

struct EncodedPacket {
  std::string text;                 // the Engine.IO message (text)
  std::vector<Binary> attachments;  // sent after it as binary Engine.IO messages
};

// Encodes `packet`. EVENT/ACK whose data holds Binary values become BINARY_EVENT/BINARY_ACK
// with placeholders. Fails if the data breaks the validation rules above or cannot be
// serialised (non-finite numbers, nesting past limits.max_json_depth).
Result<EncodedPacket> encode(const Packet& packet, const Limits& limits = Limits{});

// Reassembles packets from Engine.IO messages. A reassembled BINARY_EVENT/BINARY_ACK is
// returned as EVENT/ACK whose data holds Binary values (encode() turns it back). Feed every message of the connection
// in order; a result holding a Packet is complete, an empty optional means "waiting for more attachments". After an
// error, call reset() before feeding again (the server closes the connection instead).
class Decoder {
 public:
  explicit Decoder(const Limits& limits = Limits{}) : limits_(limits) {}

  Result<std::optional<Packet>> feed_text(std::string_view text);
  Result<std::optional<Packet>> feed_binary(std::string_view bytes);

  bool awaiting_attachments() const { return pending_ != nullptr; }
  void reset();

 private:
  Limits limits_;
  std::unique_ptr<Packet> pending_;  // a binary packet waiting for its attachments
  std::uint32_t expected_ = 0;
  std::vector<Binary> buffers_;
};

}  // namespace chorus::socketio
