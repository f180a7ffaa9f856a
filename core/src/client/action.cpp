#include "chorus/client/action.h"

namespace chorus::client {

const char* to_string(ActionType type) {
  switch (type) {
    case ActionType::kNone:
      return "none";
    case ActionType::kOpenWebSocket:
      return "open_websocket";
    case ActionType::kOpenEventSource:
      return "open_eventsource";
    case ActionType::kHttpGet:
      return "http_get";
    case ActionType::kHttpPost:
      return "http_post";
    case ActionType::kSendText:
      return "send_text";
    case ActionType::kSendBinary:
      return "send_binary";
    case ActionType::kCloseTransport:
      return "close_transport";
    case ActionType::kSetTimer:
      return "set_timer";
    case ActionType::kEngineOpen:
      return "engine_open";
    case ActionType::kEngineMessage:
      return "engine_message";
    case ActionType::kEngineClose:
      return "engine_close";
    case ActionType::kEngineError:
      return "engine_error";
    case ActionType::kEngineUpgrade:
      return "engine_upgrade";
    case ActionType::kEngineUpgradeError:
      return "engine_upgrade_error";
    case ActionType::kManagerOpen:
      return "open";
    case ActionType::kManagerClose:
      return "close";
    case ActionType::kManagerError:
      return "error";
    case ActionType::kReconnectAttempt:
      return "reconnect_attempt";
    case ActionType::kReconnect:
      return "reconnect";
    case ActionType::kReconnectError:
      return "reconnect_error";
    case ActionType::kReconnectFailed:
      return "reconnect_failed";
    case ActionType::kAuthRequest:
      return "auth_request";
    case ActionType::kConnect:
      return "connect";
    case ActionType::kConnectError:
      return "connect_error";
    case ActionType::kDisconnect:
      return "disconnect";
    case ActionType::kEvent:
      return "event";
    case ActionType::kAck:
      return "ack";
    case ActionType::kOutgoing:
      return "outgoing";
  }
  return "unknown";
}

}  // namespace chorus::client
