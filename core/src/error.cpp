#include "chorus/error.h"

namespace chorus {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidPacket:
      return "invalid packet";
    case ErrorCode::kInvalidJson:
      return "invalid JSON";
    case ErrorCode::kInvalidUtf8:
      return "invalid UTF-8";
    case ErrorCode::kLimitExceeded:
      return "limit exceeded";
    case ErrorCode::kProtocol:
      return "protocol error";
  }
  return "error";
}

}  // namespace chorus
