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
inline constexpr std::string_view kNoExpiry = "token has no expiry";
inline constexpr std::string_view kLifetimeTooLong = "token lifetime too long";

// Largest NumericDate accepted in "exp", "nbf" and "iat": 9999-12-31T23:59:59Z. A later or
// negative time is no real date: such a token is malformed.
inline constexpr std::int64_t kMaxNumericDate = 253'402'300'799;

// What verify_hs256 checks beyond the signature.
struct VerifyOptions {
  std::int64_t leeway_seconds = 0;  // clock skew allowed on exp and nbf (negative counts as 0)
  bool require_exp = false;         // a token without "exp" would never expire: refuse it
  // Longest lifetime accepted, in seconds (0: no maximum): exp may lie at most this far after
  // now (plus the leeway) and, when the token has "iat", after iat.
  std::int64_t max_lifetime_seconds = 0;
};

// Verifies a compact-serialised JWS and returns its claims (a JSON object). Checks, in order:
//  - three base64url segments without padding (RFC 7515 §2, §7.1), header and claims JSON
//    objects, at most kMaxTokenLength bytes                               -> "malformed token"
//  - header "alg" exactly "HS256"; "typ" optional; any "crit" refused -> "unsupported algorithm"
//  - HMAC-SHA256 of "header.payload" under `secret`, compared in constant time
//                                                                        -> "invalid signature"
//  - "exp", "nbf", "iat" when present must be numbers from 0 to kMaxNumericDate
//                                                                        -> "malformed token"
//    no "exp" while options.require_exp                                   -> "token has no expiry"
//    expired when now >= exp + leeway (RFC 7519 §4.1.4)                   -> "token expired"
//    not yet valid when now + leeway < nbf (RFC 7519 §4.1.5)              -> "token not yet valid"
//    exp - now > max_lifetime + leeway, or exp - iat > max_lifetime     -> "token lifetime too long"
// Times are NumericDate seconds since the epoch.
Result<Value> verify_hs256(std::string_view token, std::string_view secret, std::int64_t now_seconds,
                           const VerifyOptions& options);
// The same with only a leeway: no required "exp", no maximum lifetime.
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
  // See jwt::VerifyOptions. chorus-server turns require_exp on, with a 24 h maximum lifetime.
  bool require_exp = false;
  std::int64_t max_lifetime_seconds = 0;  // 0: no maximum
};

// Middleware taking the token from, in order: the handshake auth `token` (socket.io-client
// `auth: { token }`), the `token` query parameter, the `Authorization: Bearer <token>`
// header. On success the claims go to socket.data()["user"]; otherwise the connection is
// refused with ConnectError{"unauthorized: <reason>", {"reason": "<reason>"}}.
Middleware jwt_middleware(JwtOptions options);

}  // namespace chorus
