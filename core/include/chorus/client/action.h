// What the Chorus client core asks its adapter to do, and what it reports to the user layer.
//
// The client core (Engine, Manager) is sans-I/O: every input is a method call carrying the
// current time, every output is an Action queued for the adapter, drained with
// next_action() after each call. Transport actions name a transport connection by a
// numeric id that the adapter echoes back on every event of that connection; ids are never
// reused within one Manager, so events of a connection the core has given up on are
// recognised and ignored.
//
// Thread-safety: a plain value type.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "chorus/engineio/server_session.h"  // engineio::Transport
#include "chorus/value.h"

namespace chorus::client {

using engineio::Transport;

constexpr std::uint64_t kNever = std::numeric_limits<std::uint64_t>::max();

enum class ActionType : std::uint8_t {
  kNone = 0,
  // --- Transport I/O, for the adapter ---------------------------------------------------
  kOpenWebSocket,    // transport, url: open a WebSocket (binary frames as ArrayBuffer)
  kOpenEventSource,  // transport, url: open an EventSource; each message's data is a packet
  kHttpGet,          // transport, url: one long-polling GET; answer with on_http_response
  kHttpPost,         // transport, url, data: POST `data` (text/plain); answer likewise
  kSendText,         // transport, data: WebSocket text frame
  kSendBinary,       // transport, data (raw bytes): WebSocket binary frame
  kCloseTransport,   // transport: close the WebSocket/EventSource, abort a pending GET (a POST
                     // already issued may complete; its answer is ignored)
  kSetTimer,         // number: absolute deadline (ms) for on_timer(); kNever: no timer
  // --- Engine.IO events (Engine output; Manager forwards kEngineOpen/Upgrade/UpgradeError)
  kEngineOpen,          // sid, kind: handshake done on transport `kind`
  kEngineMessage,       // data, binary: one Engine.IO MESSAGE
  kEngineClose,         // reason, description
  kEngineError,         // reason (error message), description
  kEngineUpgrade,       // kind: the session moved to transport `kind`
  kEngineUpgradeError,  // reason: the upgrade probe failed; the session stays where it is
  // --- Manager events (socket.io-client's Manager events) -------------------------------
  kManagerOpen,       // engine opened
  kManagerClose,      // reason, description
  kManagerError,      // reason (error message), description
  kReconnectAttempt,  // number: attempt
  kReconnect,         // number: attempt that succeeded
  kReconnectError,    // reason (error message), description
  kReconnectFailed,
  // --- Socket events (per namespace `nsp`) ----------------------------------------------
  kAuthRequest,   // nsp: call provide_auth(nsp, auth) to send the CONNECT packet
  kConnect,       // nsp, sid, flag (recovered)
  kConnectError,  // nsp, reason (message), data (JSON of the error's data, "" if none);
                  // flag: the connection failed (description says how), not the namespace
  kDisconnect,    // nsp, reason, description
  kEvent,         // nsp, data (JSON array: name + args, binaries as placeholders), binaries,
                  // flag + number: the server asked for an ack with this id
  kAck,           // nsp, number (the emit's token), reason (error message, "" on success),
                  // data + binaries (JSON array of the reply's arguments)
  kOutgoing,      // nsp, data + binaries: an event just sent (onAnyOutgoing)
};

const char* to_string(ActionType type);

struct Action {
  ActionType type = ActionType::kNone;
  std::uint32_t transport = 0;
  Transport kind = Transport::kPolling;
  std::string url;
  std::string data;
  std::vector<Binary> binaries;
  std::string nsp;
  std::string sid;
  std::string reason;
  std::string description;
  std::uint64_t number = 0;
  bool flag = false;  // kEngineMessage: binary; kConnect: recovered; kEvent: ack requested
};

}  // namespace chorus::client
