// Chorus error and result types. The core never throws (Emscripten aborts on a throw by
// default): every fallible operation returns Result<T>, whose error carries a code and a
// message meant for a human reading a log or a `connect_error`.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace chorus {

enum class ErrorCode {
  kInvalidPacket,  // malformed Engine.IO / Socket.IO packet
  kInvalidJson,    // not JSON, or JSON breaking a Chorus rule
  kInvalidUtf8,    // bytes that are not UTF-8 where text is required
  kLimitExceeded,  // input past a named limit (see Limits)
  kProtocol,       // valid packet in the wrong state
};

const char* to_string(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInvalidPacket;
  std::string message;
};

inline Error make_error(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

// A value or an Error. Minimal on purpose: check ok(), then value() or error().
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return std::get<0>(v_); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Result<void> equivalent.
struct Ok {};
using Status = Result<Ok>;

}  // namespace chorus
