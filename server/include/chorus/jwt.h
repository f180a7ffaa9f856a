// JSON Web Tokens (RFC 7519) signed with HMAC-SHA256 (JWS, RFC 7515; alg "HS256"), and a
// Chorus middleware that refuses namespace connections without a valid token.
//
//   chorus::JwtOptions jwt;
//   jwt.secret = "s3cret";
//   server.of("/secure").use(chorus::jwt_middleware(jwt));
//   // in handlers: socket.data().find("user") holds the verified claims
//
// Only HS256 is accepted: "none", the other HMAC sizes and every asymmetric algorithm are
// refused, so a token cannot pick a weaker check than the server intends (RFC 8725 §3.1).
// Tokens longer than kMaxTokenLength are refused before any decoding.
//
// Thread-safety: stateless functions; safe from any thread. The middleware copies its
// options and may run on any connection thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "chorus/error.h"
#include "chorus/server.h"
#include "chorus/value.h"

namespace chorus::jwt {

// Longest token accepted, in bytes (Chorus guard: tokens arrive in headers, queries and
// CONNECT payloads; real ones are well under 1 KiB).
inline constexpr std::size_t kMaxTokenLength = 8 * 1024;

// Error messages of verify_hs256(), also the `reason` the middleware reports.
inline constexpr std::string_view kMalformed = "malformed token";
inline constexpr std::string_view kUnsupportedAlgorithm = "unsupported algorithm";
inline constexpr std::string_view kInvalidSignature = "invalid signature";
inline constexpr std::string_view kExpired = "token expired";
inline constexpr std::string_view kNotYetValid = "token not yet valid";
inline constexpr std::string_view kMissing = "missing token";

// Verifies a compact-serialised JWS and returns its claims (a JSON object). Checks, in order:
//  - three base64url segments without padding (RFC 7515 §2, §7.1), header and claims JSON
//    objects, at most kMaxTokenLength bytes                               -> "malformed token"
//  - header "alg" exactly "HS256"; "typ" optional; any "crit" refused -> "unsupported algorithm"
//  - HMAC-SHA256 of "header.payload" under `secret`, compared in constant time
//                                                                        -> "invalid signature"
//  - "exp", "nbf", "iat" when present must be numbers (else "malformed token");
//    expired when now >= exp + leeway (RFC 7519 §4.1.4)                   -> "token expired"
//    not yet valid when now + leeway < nbf (RFC 7519 §4.1.5)              -> "token not yet valid"
// Times are NumericDate seconds since the epoch; a negative leeway counts as 0.
Result<Value> verify_hs256(std::string_view token, std::string_view secret, std::int64_t now_seconds,
                           std::int64_t leeway_seconds = 0);

// Signs `claims` (normally an object) with header {"alg":"HS256","typ":"JWT"}. Returns an
// empty string when `claims` has no JSON form (Binary, non-finite numbers).
std::string sign_hs256(const Value& claims, std::string_view secret);

}  // namespace chorus::jwt

namespace chorus {

struct JwtOptions {
  std::string secret;
  std::int64_t leeway_seconds = 0;
};

// Middleware taking the token from, in order: the handshake auth `token` (socket.io-client
// `auth: { token }`), the `token` query parameter, the `Authorization: Bearer <token>`
// header. On success the claims go to socket.data()["user"]; otherwise the connection is
// refused with ConnectError{"unauthorized: <reason>", {"reason": "<reason>"}}.
Middleware jwt_middleware(JwtOptions options);

}  // namespace chorus
