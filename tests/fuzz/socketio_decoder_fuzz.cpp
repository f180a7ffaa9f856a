// Fuzz target: chorus::socketio::Decoder fed a sequence of Engine.IO messages.
//
// Input: byte 0 configures the limits (bits 0-2: max_attachments 0..7; bit 7: max_json_depth
// 8 instead of the default); byte 1 is a separator; the rest is split on the separator into
// messages. A message starting with 'B' is a binary message (the bytes after the 'B'); any
// other is a text message. After an error the decoder is reset and feeding goes on.
//
// Invariants: a completed packet satisfies the header's validation rules; it re-encodes with
// socketio::encode, and the encoded text + attachments decode back to an equal packet whose
// encoding is the same bytes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "chorus/limits.h"
#include "chorus/socketio/packet.h"
#include "chorus/value.h"
#include "fuzz_util.h"

namespace {

namespace sio = chorus::socketio;
using chorus::Value;

void check_rules(const sio::Packet& packet, const chorus::fuzz::ValueStats& stats) {
  CHORUS_FUZZ_CHECK(static_cast<int>(packet.type) <= 6);
  CHORUS_FUZZ_CHECK(!packet.nsp.empty() && packet.nsp[0] == '/');
  CHORUS_FUZZ_CHECK(!packet.id || *packet.id <= sio::kMaxAckId);
  CHORUS_FUZZ_CHECK(sio::to_string(packet.type) != nullptr);
  const std::optional<Value>& data = packet.data;
  switch (packet.type) {
    case sio::PacketType::kConnect:
      CHORUS_FUZZ_CHECK(!data || data->is_object());
      break;
    case sio::PacketType::kDisconnect:
      CHORUS_FUZZ_CHECK(!data);
      break;
    case sio::PacketType::kConnectError:
      // No payload is accepted, as the reference parser does.
      CHORUS_FUZZ_CHECK(!data || data->is_object() || data->is_string());
      break;
    case sio::PacketType::kEvent:
    case sio::PacketType::kBinaryEvent:
      CHORUS_FUZZ_CHECK(data && data->is_array() && data->size() > 0);
      // The event name is a string, or a number as socket.io-parser accepts it.
      CHORUS_FUZZ_CHECK((*data)[0].is_string() || (*data)[0].is_number());
      CHORUS_FUZZ_CHECK(!(*data)[0].is_string() || !sio::is_reserved_event((*data)[0].as_string()));
      break;
    case sio::PacketType::kAck:
    case sio::PacketType::kBinaryAck:
      CHORUS_FUZZ_CHECK(data && data->is_array());
      break;
  }
  // Placeholders resolve to Binary only in binary packets (reported as BINARY_* or, once
  // reassembled, as EVENT/ACK holding Binary values): never in the other types.
  bool event_or_ack = packet.type == sio::PacketType::kEvent || packet.type == sio::PacketType::kAck ||
                      packet.type == sio::PacketType::kBinaryEvent || packet.type == sio::PacketType::kBinaryAck;
  if (!event_or_ack) CHORUS_FUZZ_CHECK(stats.binaries == 0);
  CHORUS_FUZZ_CHECK(stats.all_finite);
}

// Feeds an encoded packet to a fresh decoder; the packet completes on the last message.
sio::Packet decode_encoded(const sio::EncodedPacket& encoded, const chorus::Limits& limits) {
  sio::Decoder decoder(limits);
  auto first = decoder.feed_text(encoded.text);
  CHORUS_FUZZ_CHECK(first.ok());
  if (encoded.attachments.empty()) {
    CHORUS_FUZZ_CHECK(first.value().has_value());
    return *first.value();
  }
  CHORUS_FUZZ_CHECK(!first.value().has_value());
  for (std::size_t i = 0; i < encoded.attachments.size(); ++i) {
    const chorus::Binary& bytes = encoded.attachments[i];
    auto next = decoder.feed_binary(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    CHORUS_FUZZ_CHECK(next.ok());
    bool last = i + 1 == encoded.attachments.size();
    CHORUS_FUZZ_CHECK(next.value().has_value() == last);
    if (last) return *next.value();
  }
  std::abort();  // unreachable: attachments is not empty
}

void check_packet(const sio::Packet& packet, const chorus::Limits& limits) {
  chorus::fuzz::ValueStats stats = packet.data ? chorus::fuzz::stats_of(*packet.data) : chorus::fuzz::ValueStats{};
  check_rules(packet, stats);

  // A placeholder may be referenced twice: the re-encoding then carries more attachments
  // than the input did, possibly past the limit.
  chorus::Limits roomy = limits;
  if (stats.binaries > roomy.max_attachments) roomy.max_attachments = static_cast<std::uint32_t>(stats.binaries);

  auto encoded = sio::encode(packet, roomy);
  CHORUS_FUZZ_CHECK(encoded.ok());
  CHORUS_FUZZ_CHECK(encoded.value().attachments.size() == stats.binaries);
  sio::Packet again = decode_encoded(encoded.value(), roomy);
  CHORUS_FUZZ_CHECK(again == packet);
  auto encoded_again = sio::encode(again, roomy);
  CHORUS_FUZZ_CHECK(encoded_again.ok());
  CHORUS_FUZZ_CHECK(encoded_again.value().text == encoded.value().text);
  CHORUS_FUZZ_CHECK(encoded_again.value().attachments == encoded.value().attachments);
}

// The attachment count a BINARY_EVENT/BINARY_ACK text announces ("52-..." -> 2), else 0.
std::uint64_t announced_attachments(std::string_view text) {
  if (text.empty() || (text[0] != '5' && text[0] != '6')) return 0;
  std::uint64_t count = 0;
  for (std::size_t i = 1; i < text.size() && text[i] >= '0' && text[i] <= '9' && count < (1u << 30); ++i) {
    count = count * 10 + static_cast<std::uint64_t>(text[i] - '0');
  }
  return count;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  chorus::fuzz::ByteReader reader(data, size);
  std::uint8_t config = reader.byte();
  char separator = static_cast<char>(reader.byte());
  std::string_view rest = reader.take(reader.remaining());

  chorus::Limits limits;
  limits.max_attachments = config & 0x07;
  if (config & 0x80) limits.max_json_depth = 8;

  sio::Decoder decoder(limits);
  while (true) {
    std::size_t end = rest.find(separator);
    std::string_view message = rest.substr(0, end);
    bool binary = !message.empty() && message[0] == 'B';
    auto result = binary ? decoder.feed_binary(message.substr(1)) : decoder.feed_text(message);
    if (!result.ok()) {
      decoder.reset();
      CHORUS_FUZZ_CHECK(!decoder.awaiting_attachments());
    } else if (!result.value().has_value()) {
      CHORUS_FUZZ_CHECK(decoder.awaiting_attachments());
      // Only a binary packet announcing at least one attachment waits: "50-[...]" is
      // either complete at once (as in the reference decoder) or rejected.
      if (!binary) CHORUS_FUZZ_CHECK(announced_attachments(message) > 0);
    } else {
      CHORUS_FUZZ_CHECK(!decoder.awaiting_attachments());
      check_packet(*result.value(), limits);
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return 0;
}
