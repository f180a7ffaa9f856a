#include "chorus/jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <optional>
#include <utility>

#include "chorus/base64.h"
#include "chorus/json/json.h"

namespace chorus::jwt {
namespace {

constexpr std::size_t kSha256Size = 32;

Error fail(ErrorCode code, std::string_view message) {
  return make_error(code, std::string(message));
}

bool is_base64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// RFC 7515 §2 / Appendix C: base64url without padding. '=' , '+', '/' and whitespace are not
// part of the alphabet, so they are refused here rather than tolerated by the decoder.
std::optional<std::string> decode_segment(std::string_view segment) {
  if (!std::all_of(segment.begin(), segment.end(), is_base64url_char)) return std::nullopt;
  std::string text(segment);
  for (char& c : text) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  text.append((4 - text.size() % 4) % 4, '=');
  auto decoded = base64::decode(text);  // also refuses a length of 4n+1 and non-zero spare bits
  if (!decoded) return std::nullopt;
  return std::move(decoded).value();
}

std::string encode_segment(std::string_view bytes) {
  std::string text = base64::encode(bytes);
  while (!text.empty() && text.back() == '=') text.pop_back();
  for (char& c : text) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return text;
}

std::array<unsigned char, kSha256Size> hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, kSha256Size> out{};
  unsigned int size = 0;
  // A null key pointer means "reuse the previous key" to some OpenSSL entry points: never
  // hand it one, even for an empty key.
  static const unsigned char kEmpty = 0;
  const void* key_ptr = key.empty() ? static_cast<const void*>(&kEmpty) : key.data();
  HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out.data(), &size);
  return out;
}

std::optional<Value> parse_object(std::string_view text) {
  auto parsed = json::parse(text);
  if (!parsed || !parsed->is_object()) return std::nullopt;
  return std::move(parsed).value();
}

}  // namespace

Result<Value> verify_hs256(std::string_view token, std::string_view secret, std::int64_t now_seconds,
                           std::int64_t leeway_seconds) {
  VerifyOptions options;
  options.leeway_seconds = leeway_seconds;
  return verify_hs256(token, secret, now_seconds, options);
}

Result<Value> verify_hs256(std::string_view token, std::string_view secret, std::int64_t now_seconds,
                           const VerifyOptions& options) {
  if (token.size() > kMaxTokenLength) return fail(ErrorCode::kLimitExceeded, kMalformed);
  std::size_t first = token.find('.');
  std::size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return fail(ErrorCode::kInvalidPacket, kMalformed);
  }
  std::string_view header_b64 = token.substr(0, first);
  std::string_view payload_b64 = token.substr(first + 1, second - first - 1);
  std::string_view signature_b64 = token.substr(second + 1);

  auto header_text = decode_segment(header_b64);
  if (!header_text) return fail(ErrorCode::kInvalidPacket, kMalformed);
  auto header = parse_object(*header_text);
  if (!header) return fail(ErrorCode::kInvalidPacket, kMalformed);

  // RFC 8725 §3.1: the algorithm is the server's choice, never the token's. "crit" lists
  // extensions the recipient must understand (RFC 7515 §4.1.11); Chorus understands none.
  const Value* alg = header->find("alg");
  if (alg == nullptr || !alg->is_string() || alg->as_string() != "HS256" || header->find("crit") != nullptr) {
    return fail(ErrorCode::kProtocol, kUnsupportedAlgorithm);
  }
  if (const Value* typ = header->find("typ"); typ != nullptr && !typ->is_string()) {
    return fail(ErrorCode::kInvalidPacket, kMalformed);
  }

  auto payload_text = decode_segment(payload_b64);
  auto signature = decode_segment(signature_b64);
  if (!payload_text || !signature) return fail(ErrorCode::kInvalidPacket, kMalformed);
  // An empty secret would let anyone mint tokens: such a server accepts none.
  if (secret.empty() || signature->size() != kSha256Size) return fail(ErrorCode::kProtocol, kInvalidSignature);
  // RFC 7515 §5.2: the signing input is the ASCII of the two encoded segments as received.
  auto expected = hmac_sha256(secret, token.substr(0, second));
  if (CRYPTO_memcmp(expected.data(), signature->data(), kSha256Size) != 0) {
    return fail(ErrorCode::kProtocol, kInvalidSignature);
  }

  // Only now, with the signature checked, is the payload worth parsing.
  auto claims = parse_object(*payload_text);
  if (!claims) return fail(ErrorCode::kInvalidPacket, kMalformed);

  // NumericDate (RFC 7519 §2): seconds since the epoch. Past year 9999 or before 1970 it
  // names no real moment, and a far-future "exp" is a token that never expires.
  for (const char* name : {"exp", "nbf", "iat"}) {
    const Value* v = claims->find(name);
    if (v != nullptr &&
        (!v->is_number() || !(v->as_number() >= 0 && v->as_number() <= static_cast<double>(kMaxNumericDate)))) {
      return fail(ErrorCode::kInvalidPacket, kMalformed);
    }
  }
  const double now = static_cast<double>(now_seconds);
  const double leeway = static_cast<double>(std::max<std::int64_t>(options.leeway_seconds, 0));
  const Value* exp = claims->find("exp");
  if (exp == nullptr && options.require_exp) return fail(ErrorCode::kProtocol, kNoExpiry);
  if (exp != nullptr && now >= exp->as_number() + leeway) return fail(ErrorCode::kProtocol, kExpired);
  if (const Value* nbf = claims->find("nbf"); nbf != nullptr && now + leeway < nbf->as_number()) {
    return fail(ErrorCode::kProtocol, kNotYetValid);
  }
  if (exp != nullptr && options.max_lifetime_seconds > 0) {
    const double max = static_cast<double>(options.max_lifetime_seconds);
    const Value* iat = claims->find("iat");
    if (exp->as_number() - now > max + leeway || (iat != nullptr && exp->as_number() - iat->as_number() > max)) {
      return fail(ErrorCode::kProtocol, kLifetimeTooLong);
    }
  }
  return std::move(*claims);
}

std::string sign_hs256(const Value& claims, std::string_view secret) {
  auto payload = json::stringify(claims);
  if (!payload) return {};
  std::string token = encode_segment(R"({"alg":"HS256","typ":"JWT"})");
  token.push_back('.');
  token += encode_segment(*payload);
  auto mac = hmac_sha256(secret, token);
  token.push_back('.');
  token += encode_segment(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return token;
}

}  // namespace chorus::jwt

namespace chorus {
namespace {

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Where socket.io apps conventionally put a token: auth payload, then query, then header.
// A present but non-string auth.token is an error, not a reason to look elsewhere.
std::optional<std::string> find_token(const Handshake& handshake, bool& malformed) {
  if (const Value* token = handshake.auth.find("token"); token != nullptr && !token->is_null()) {
    if (!token->is_string()) {
      malformed = true;
      return std::nullopt;
    }
    return token->as_string();
  }
  if (auto it = handshake.query.find("token"); it != handshake.query.end() && !it->second.empty()) {
    return it->second;
  }
  if (auto it = handshake.headers.find("authorization"); it != handshake.headers.end()) {
    std::string_view value = trim(it->second);
    if (starts_with_ci(value, "bearer ")) {
      std::string_view token = trim(value.substr(7));
      if (!token.empty()) return std::string(token);
    }
  }
  return std::nullopt;
}

ConnectError unauthorized(std::string_view reason) {
  return ConnectError{"unauthorized: " + std::string(reason), Value::object({{"reason", std::string(reason)}})};
}

}  // namespace

Middleware jwt_middleware(JwtOptions options) {
  return [options = std::move(options)](Socket& socket, Next next) {
    bool malformed = false;
    auto token = find_token(socket.handshake(), malformed);
    if (!token) {
      next(unauthorized(malformed ? jwt::kMalformed : jwt::kMissing));
      return;
    }
    auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch());
    jwt::VerifyOptions verify;
    verify.leeway_seconds = options.leeway_seconds;
    verify.require_exp = options.require_exp;
    verify.max_lifetime_seconds = options.max_lifetime_seconds;
    auto claims = jwt::verify_hs256(*token, options.secret, now.count(), verify);
    if (!claims) {
      next(unauthorized(claims.error().message));
      return;
    }
    socket.data().set("user", std::move(claims).value());
    next(std::nullopt);
  };
}

}  // namespace chorus
