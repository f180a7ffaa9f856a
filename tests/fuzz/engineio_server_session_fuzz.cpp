// Fuzz target: an Engine.IO server session (engineio::ServerSession with its engineio::Outbox)
// driven by any sequence of what an adapter can do: packets on any transport, upgrades,
// timers at any time, transports closing, polling requests overlapping, frames pushed with
// any size and volatility, payloads and SSE events taken.
//
// Input: a list of operations, two bytes each (an opcode, an argument).
//
// Invariants: nothing crashes; a closed session stays closed with its first reason and
// ignores everything; an open session always has a deadline within reach; a probe is
// confirmed only while one is in progress, and an upgrade switches to the probed transport;
// messages come out exactly as the MESSAGE packets that went in on the current transport;
// the outbox's byte count is the sum of what it holds, it holds at most max_bytes plus one
// frame plus the PINGs pushed past the bound, a volatile frame is never queued behind another
// frame, every polling payload is a valid payload (decodes back), ends with CLOSE exactly for
// a closed session, and SSE events are made of `data:` lines only.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "chorus/engineio/outbox.h"
#include "chorus/engineio/packet.h"
#include "chorus/engineio/server_session.h"
#include "fuzz_util.h"

namespace {

using namespace chorus::engineio;

constexpr std::size_t kMaxBytes = 64;

Transport transport_of(std::uint8_t b) {
  switch (b % 3) {
    case 0:
      return Transport::kPolling;
    case 1:
      return Transport::kWebSocket;
    default:
      return Transport::kSse;
  }
}

Packet packet_of(std::uint8_t b) {
  auto type = static_cast<PacketType>(b % 7);
  std::string data = (b & 0x80) ? "probe" : ((b & 0x40) ? "x" : "");
  return Packet::text(type, data);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  chorus::Limits limits;
  limits.ping_interval_ms = 100;
  limits.ping_timeout_ms = 50;
  limits.upgrade_timeout_ms = 30;
  std::uint64_t now = 0;
  Transport initial = transport_of(size > 0 ? data[0] : 0);
  std::vector<std::string> upgrades;
  if (initial != Transport::kWebSocket) upgrades.push_back("websocket");
  ServerSession s("fuzz", initial, limits, now, upgrades);
  Outbox box(kMaxBytes);
  std::size_t model_bytes = 0;
  std::size_t control_bytes = 0;  // PINGs pushed past the bound, still queued (an upper bound)
  CloseReason first_reason = CloseReason::kNone;

  for (std::size_t i = 1; i + 1 < size; i += 2) {
    const std::uint8_t op = data[i], arg = data[i + 1];
    const bool was_closed = s.closed();
    switch (op % 10) {
      case 0: {
        Transport via = transport_of(arg >> 4);
        Packet p = packet_of(arg);
        Transport before = s.transport();
        auto probing = s.upgrading_to();
        auto out = s.on_packet(via, p, now);
        if (was_closed) {
          CHORUS_FUZZ_CHECK(out.messages.empty() && out.reply.empty() && !out.closed && !out.upgraded);
        }
        if (out.upgraded) {
          CHORUS_FUZZ_CHECK(probing.has_value() && s.transport() == *probing && before != s.transport());
        }
        for (const Packet& m : out.messages) {
          CHORUS_FUZZ_CHECK(m.type == PacketType::kMessage && via == before);
        }
        if (!out.messages.empty()) CHORUS_FUZZ_CHECK(out.messages.size() == 1 && out.messages[0].data == p.data);
        for (const Packet& r : out.reply) CHORUS_FUZZ_CHECK(encode_text(r) == "3probe");
        break;
      }
      case 1:
        (void)s.begin_upgrade(transport_of(arg), now);
        break;
      case 2: {
        std::uint64_t deadline = s.next_deadline();
        if (!s.closed()) CHORUS_FUZZ_CHECK(deadline <= now + 1000);
        now = (arg & 1) && !s.closed() ? std::max(now, deadline) : now + arg;
        auto t = s.on_timer(now);
        if (was_closed) CHORUS_FUZZ_CHECK(!t.send_ping && !t.closed && !t.abandon_probe);
        if (t.send_ping) {
          box.push_control(OutFrame::text("2"));
          model_bytes += 1;
          control_bytes += 1;
        }
        break;
      }
      case 3:
        (void)s.on_transport_closed(transport_of(arg), arg & 0x10);
        break;
      case 4:
        if (arg % 16 == 0) s.close(arg & 0x10 ? CloseReason::kServerShuttingDown : CloseReason::kForcedClose);
        break;
      case 5:
        if (arg & 1) {
          (void)s.begin_get();
        } else {
          s.end_get();
        }
        break;
      case 6:
        if (arg & 1) {
          (void)s.begin_post();
        } else {
          s.end_post();
        }
        break;
      case 7: {
        const bool vol = arg & 0x80;
        std::string text = "4" + std::string(arg & 0x3F, 'a');
        const bool had = !box.empty();
        auto r = box.push(OutFrame::text(text, vol), arg & 0x40);
        if (vol && (had || !(arg & 0x40))) CHORUS_FUZZ_CHECK(r == Outbox::Push::kDropped);
        if (vol && r == Outbox::Push::kQueued) CHORUS_FUZZ_CHECK(box.frames() == 1);
        model_bytes = box.bytes();  // shedding volatile frames may have changed it
        break;
      }
      case 8: {
        if (arg % 3 == 0) {
          std::string body = box.take_payload(s.closed());
          CHORUS_FUZZ_CHECK(!body.empty());
          auto decoded = decode_payload(body, limits);
          CHORUS_FUZZ_CHECK(static_cast<bool>(decoded));
          CHORUS_FUZZ_CHECK((decoded->back().type == PacketType::kClose) == s.closed());
          CHORUS_FUZZ_CHECK(box.empty() && box.bytes() == 0);
          model_bytes = 0;
          control_bytes = 0;
        } else if (arg % 3 == 1) {
          std::string out;
          box.take_sse(out, arg);
          for (std::size_t pos = 0; pos < out.size();) {
            std::size_t nl = out.find('\n', pos);
            CHORUS_FUZZ_CHECK(nl != std::string::npos);
            std::string line = out.substr(pos, nl - pos);
            CHORUS_FUZZ_CHECK(line.empty() || line.rfind("data: ", 0) == 0);
            pos = nl + 1;
          }
          model_bytes = box.bytes();
        } else if (!box.empty()) {
          box.pop();
          model_bytes = box.bytes();
        }
        break;
      }
      default:
        now += arg;
        break;
    }
    // Closed stays closed, with its first reason.
    if (was_closed) CHORUS_FUZZ_CHECK(s.closed() && s.close_reason() == first_reason);
    if (s.closed() && first_reason == CloseReason::kNone) first_reason = s.close_reason();
    CHORUS_FUZZ_CHECK(s.closed() == (s.close_reason() != CloseReason::kNone));
    if (s.probe_confirmed()) CHORUS_FUZZ_CHECK(s.upgrading_to().has_value());
    // The outbox's count is what it holds; the bound holds up to one frame and the PINGs.
    std::size_t sum = 0;
    for (std::size_t k = 0; k < box.frames(); ++k) {
      FramePtr f = box.pop();
      sum += f->bytes;
      box.push_control(f);  // rotate back in the same order
    }
    CHORUS_FUZZ_CHECK(sum == box.bytes() && sum == model_bytes);
    CHORUS_FUZZ_CHECK(box.bytes() <= kMaxBytes + 64 + control_bytes);
  }
  return 0;
}
