#include "chorus/jwt.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "chorus/base64.h"

namespace chorus::jwt {
namespace {

// jwt.io's HS256 example.
constexpr char kJwtIoToken[] =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
constexpr char kJwtIoSecret[] = "your-256-bit-secret";

// RFC 7515 Appendix A.1 (also RFC 7519 §3.1): header and claims with CRLFs, binary key.
constexpr char kRfcToken[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr char kRfcKeyB64Url[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
constexpr std::int64_t kRfcExp = 1300819380;

constexpr char kSecret[] = "chorus-test-secret";
constexpr std::int64_t kNow = 1'700'000'000;

std::string b64url(std::string_view bytes) {
  std::string s = base64::encode(bytes);
  while (!s.empty() && s.back() == '=') s.pop_back();
  for (char& c : s) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return s;
}

std::string b64url_decode(std::string s) {
  for (char& c : s) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  s.append((4 - s.size() % 4) % 4, '=');
  return base64::decode(s).value();
}

// Builds a token from raw header/claims JSON, independently of sign_hs256().
std::string make_token(std::string_view header_json, std::string_view claims_json, std::string_view secret) {
  std::string input = b64url(header_json) + "." + b64url(claims_json);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &size);
  return input + "." + b64url(std::string_view(reinterpret_cast<const char*>(mac), size));
}

std::string hs256(std::string_view claims_json, std::string_view secret = kSecret) {
  return make_token(R"({"alg":"HS256","typ":"JWT"})", claims_json, secret);
}

void expect_error(const Result<Value>& r, std::string_view message) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, message);
}

TEST(JwtTest, JwtIoExampleVerifies) {
  auto r = verify_hs256(kJwtIoToken, kJwtIoSecret, kNow);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->find("sub")->as_string(), "1234567890");
  EXPECT_EQ(r->find("name")->as_string(), "John Doe");
  EXPECT_EQ(r->find("iat")->as_number(), 1516239022);
}

TEST(JwtTest, JwtIoExampleWrongSecret) {
  expect_error(verify_hs256(kJwtIoToken, "not-the-secret", kNow), kInvalidSignature);
}

TEST(JwtTest, SignReproducesJwtIoExample) {
  Value claims = Value::object({{"sub", "1234567890"}, {"name", "John Doe"}, {"iat", 1516239022}});
  EXPECT_EQ(sign_hs256(claims, kJwtIoSecret), kJwtIoToken);
}

TEST(JwtTest, Rfc7515AppendixA1) {
  std::string key = b64url_decode(kRfcKeyB64Url);
  ASSERT_EQ(key.size(), 64u);
  auto r = verify_hs256(kRfcToken, key, kRfcExp - 1);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->find("iss")->as_string(), "joe");
  EXPECT_TRUE(r->find("http://example.com/is_root")->as_bool());
  // Its exp has long passed.
  expect_error(verify_hs256(kRfcToken, key, kRfcExp), kExpired);
}

TEST(JwtTest, SignVerifyRoundTrip) {
  Value claims = Value::object({{"sub", "ada"}, {"roles", Value::array({"admin", "dev"})}, {"exp", kNow + 60}});
  std::string token = sign_hs256(claims, kSecret);
  auto r = verify_hs256(token, kSecret, kNow);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, claims);
}

TEST(JwtTest, SignRefusesClaimsWithoutJsonForm) {
  EXPECT_EQ(sign_hs256(Value::object({{"b", Binary{1, 2}}}), kSecret), "");
}

TEST(JwtTest, TamperedPayload) {
  std::string token = hs256(R"({"sub":"ada","admin":false})");
  std::size_t a = token.find('.');
  std::size_t b = token.find('.', a + 1);
  std::string forged = token.substr(0, a + 1) + b64url(R"({"sub":"ada","admin":true})") + token.substr(b);
  expect_error(verify_hs256(forged, kSecret, kNow), kInvalidSignature);
}

TEST(JwtTest, TamperedHeader) {
  std::string token = hs256(R"({"sub":"ada"})");
  std::string forged = b64url(R"({"alg":"HS256"})") + token.substr(token.find('.'));
  expect_error(verify_hs256(forged, kSecret, kNow), kInvalidSignature);
}

TEST(JwtTest, TamperedSignature) {
  std::string token = hs256(R"({"sub":"ada"})");
  // Flip a bit in the first signature character (all 6 bits of it are significant).
  std::size_t sig = token.rfind('.') + 1;
  token[sig] = token[sig] == 'A' ? 'B' : 'A';
  expect_error(verify_hs256(token, kSecret, kNow), kInvalidSignature);
}

TEST(JwtTest, TruncatedAndExtendedSignature) {
  std::string token = hs256(R"({"sub":"ada"})");
  std::size_t sig = token.rfind('.') + 1;
  ASSERT_EQ(token.size() - sig, 43u);  // 32 bytes
  // 40 characters: 30 bytes, well-formed base64url but the wrong size.
  expect_error(verify_hs256(token.substr(0, sig + 40), kSecret, kNow), kInvalidSignature);
  // 44 + 2 characters: 34 bytes.
  expect_error(verify_hs256(token.substr(0, sig + 40) + "AAAAAA", kSecret, kNow), kInvalidSignature);
  // 45 characters: a length of 4n+1 is not base64 at all.
  expect_error(verify_hs256(token + "AA", kSecret, kNow), kMalformed);
}

TEST(JwtTest, NonCanonicalSignatureEncodingRefused) {
  // The last of 43 characters holds 2 spare bits; setting them must not yield a second
  // valid spelling of the same signature.
  std::string token = hs256(R"({"sub":"ada"})");
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char& last = token.back();
  last = alphabet[alphabet.find(last) | 1];
  auto r = verify_hs256(token, kSecret, kNow);
  ASSERT_FALSE(r.ok());
}

TEST(JwtTest, EmptySignature) {
  std::string token = hs256(R"({"sub":"ada"})");
  expect_error(verify_hs256(token.substr(0, token.rfind('.') + 1), kSecret, kNow), kInvalidSignature);
}

TEST(JwtTest, AlgNoneRefused) {
  std::string unsecured = b64url(R"({"alg":"none"})") + "." + b64url(R"({"sub":"ada"})") + ".";
  expect_error(verify_hs256(unsecured, kSecret, kNow), kUnsupportedAlgorithm);
  // Even with a signature that is valid HMAC of the input.
  expect_error(verify_hs256(make_token(R"({"alg":"none"})", R"({"sub":"ada"})", kSecret), kSecret, kNow),
               kUnsupportedAlgorithm);
  expect_error(verify_hs256(make_token(R"({"alg":"None"})", R"({"sub":"ada"})", kSecret), kSecret, kNow),
               kUnsupportedAlgorithm);
}

TEST(JwtTest, OtherAlgorithmsRefused) {
  for (const char* header :
       {R"({"alg":"HS512"})", R"({"alg":"HS384"})", R"({"alg":"RS256"})", R"({"alg":"ES256"})", R"({"alg":"hs256"})",
        R"({"alg":"HS256 "})", R"({"alg":["HS256"]})", R"({"alg":null})", R"({"typ":"JWT"})"}) {
    SCOPED_TRACE(header);
    expect_error(verify_hs256(make_token(header, R"({"sub":"ada"})", kSecret), kSecret, kNow), kUnsupportedAlgorithm);
  }
}

TEST(JwtTest, CritHeaderRefused) {
  expect_error(verify_hs256(make_token(R"({"alg":"HS256","crit":["exp"]})", R"({"sub":"a"})", kSecret), kSecret, kNow),
               kUnsupportedAlgorithm);
}

TEST(JwtTest, TypOptional) {
  EXPECT_TRUE(verify_hs256(make_token(R"({"alg":"HS256"})", R"({"sub":"a"})", kSecret), kSecret, kNow).ok());
  EXPECT_TRUE(
      verify_hs256(make_token(R"({"alg":"HS256","typ":"jwt"})", R"({"sub":"a"})", kSecret), kSecret, kNow).ok());
  expect_error(verify_hs256(make_token(R"({"alg":"HS256","typ":7})", R"({"sub":"a"})", kSecret), kSecret, kNow),
               kMalformed);
}

TEST(JwtTest, ExpWithLeeway) {
  std::string token = hs256(R"({"sub":"ada","exp":1700000000})");
  EXPECT_TRUE(verify_hs256(token, kSecret, kNow - 1).ok());
  expect_error(verify_hs256(token, kSecret, kNow), kExpired);  // RFC 7519 §4.1.4: now must be before exp
  expect_error(verify_hs256(token, kSecret, kNow + 100), kExpired);
  // Leeway 30: valid up to exp + 29, expired at exp + 30 (the limit) and past it.
  EXPECT_TRUE(verify_hs256(token, kSecret, kNow + 29, 30).ok());
  expect_error(verify_hs256(token, kSecret, kNow + 30, 30), kExpired);
  expect_error(verify_hs256(token, kSecret, kNow + 31, 30), kExpired);
  // A negative leeway is no leeway.
  EXPECT_TRUE(verify_hs256(token, kSecret, kNow - 1, -100).ok());
}

TEST(JwtTest, ExpInTheFuture) {
  std::string token = hs256(R"({"exp":1700003600})");
  EXPECT_TRUE(verify_hs256(token, kSecret, kNow).ok());
}

TEST(JwtTest, FractionalExp) {
  std::string token = hs256(R"({"exp":1700000000.5})");
  EXPECT_TRUE(verify_hs256(token, kSecret, kNow).ok());
  expect_error(verify_hs256(token, kSecret, kNow + 1), kExpired);
}

TEST(JwtTest, NbfWithLeeway) {
  std::string token = hs256(R"({"nbf":1700000000})");
  EXPECT_TRUE(verify_hs256(token, kSecret, kNow).ok());  // at nbf: valid
  EXPECT_TRUE(verify_hs256(token, kSecret, kNow + 1000).ok());
  expect_error(verify_hs256(token, kSecret, kNow - 1), kNotYetValid);
  EXPECT_TRUE(verify_hs256(token, kSecret, kNow - 30, 30).ok());  // at the leeway limit
  expect_error(verify_hs256(token, kSecret, kNow - 31, 30), kNotYetValid);
}

TEST(JwtTest, ExpAndNbfWindow) {
  std::string token = hs256(R"({"nbf":1700000000,"exp":1700000010,"iat":1700000000})");
  expect_error(verify_hs256(token, kSecret, kNow - 1), kNotYetValid);
  EXPECT_TRUE(verify_hs256(token, kSecret, kNow + 5).ok());
  expect_error(verify_hs256(token, kSecret, kNow + 10), kExpired);
}

TEST(JwtTest, NonNumericTimeClaims) {
  expect_error(verify_hs256(hs256(R"({"exp":"1800000000"})"), kSecret, kNow), kMalformed);
  expect_error(verify_hs256(hs256(R"({"nbf":true})"), kSecret, kNow), kMalformed);
  expect_error(verify_hs256(hs256(R"({"iat":null})"), kSecret, kNow), kMalformed);
  expect_error(verify_hs256(hs256(R"({"exp":[1]})"), kSecret, kNow), kMalformed);
}

TEST(JwtTest, AbsurdTimeClaimsRefused) {
  // At the limit (9999-12-31T23:59:59Z) and past it; before 1970; absurdly far.
  EXPECT_TRUE(verify_hs256(hs256(R"({"exp":253402300799})"), kSecret, kNow).ok());
  EXPECT_TRUE(verify_hs256(hs256(R"({"exp":1700000001,"iat":0,"nbf":0})"), kSecret, kNow).ok());
  for (const char* claims : {R"({"exp":253402300800})", R"({"exp":253402300799.5})", R"({"exp":1e300})",
                             R"({"exp":-1})", R"({"nbf":-0.5})", R"({"iat":253402300800})", R"({"nbf":1e20})"}) {
    expect_error(verify_hs256(hs256(claims), kSecret, kNow), kMalformed);
  }
}

TEST(JwtTest, RequireExp) {
  VerifyOptions options;
  options.require_exp = true;
  std::string without = hs256(R"({"sub":"ada","iat":1700000000})");
  EXPECT_TRUE(verify_hs256(without, kSecret, kNow).ok());  // off by default
  expect_error(verify_hs256(without, kSecret, kNow, options), kNoExpiry);
  EXPECT_TRUE(verify_hs256(hs256(R"({"sub":"ada","exp":1700000001})"), kSecret, kNow, options).ok());
  expect_error(verify_hs256(hs256(R"({"exp":1700000000})"), kSecret, kNow, options), kExpired);
}

TEST(JwtTest, MaxLifetime) {
  VerifyOptions options;
  options.max_lifetime_seconds = 3600;
  // exp at most 3600 s from now: at the limit and past it.
  EXPECT_TRUE(verify_hs256(hs256(R"({"exp":1700003600})"), kSecret, kNow, options).ok());
  expect_error(verify_hs256(hs256(R"({"exp":1700003601})"), kSecret, kNow, options), kLifetimeTooLong);
  expect_error(verify_hs256(hs256(R"({"exp":253402300799})"), kSecret, kNow, options), kLifetimeTooLong);
  // The leeway tolerates an issuer's clock running ahead.
  options.leeway_seconds = 10;
  EXPECT_TRUE(verify_hs256(hs256(R"({"exp":1700003610})"), kSecret, kNow, options).ok());
  expect_error(verify_hs256(hs256(R"({"exp":1700003611})"), kSecret, kNow, options), kLifetimeTooLong);
  options.leeway_seconds = 0;
  // With iat: exp - iat counts too (a long-lived token near its end is still refused).
  EXPECT_TRUE(verify_hs256(hs256(R"({"iat":1699997400,"exp":1700001000})"), kSecret, kNow, options).ok());
  expect_error(verify_hs256(hs256(R"({"iat":1699997399,"exp":1700001000})"), kSecret, kNow, options), kLifetimeTooLong);
  // No exp, no lifetime to check (require_exp is the option for that).
  EXPECT_TRUE(verify_hs256(hs256(R"({"sub":"ada"})"), kSecret, kNow, options).ok());
  // Without a maximum, a far exp is fine.
  EXPECT_TRUE(verify_hs256(hs256(R"({"exp":253402300799})"), kSecret, kNow, VerifyOptions{}).ok());
}

TEST(JwtTest, ClaimsMustBeAnObject) {
  expect_error(verify_hs256(hs256("[1,2]"), kSecret, kNow), kMalformed);
  expect_error(verify_hs256(hs256("\"ada\""), kSecret, kNow), kMalformed);
  expect_error(verify_hs256(hs256("not json"), kSecret, kNow), kMalformed);
  expect_error(verify_hs256(hs256(""), kSecret, kNow), kMalformed);
  expect_error(verify_hs256(hs256(R"({"a":1)"), kSecret, kNow), kMalformed);
}

TEST(JwtTest, HeaderMustBeAnObject) {
  expect_error(verify_hs256(make_token("[]", R"({"a":1})", kSecret), kSecret, kNow), kMalformed);
  expect_error(verify_hs256(make_token("HS256", R"({"a":1})", kSecret), kSecret, kNow), kMalformed);
}

TEST(JwtTest, MalformedSegments) {
  std::string token = hs256(R"({"sub":"ada"})");
  std::size_t a = token.find('.');
  std::size_t b = token.rfind('.');
  for (const std::string& bad :
       {std::string(""), std::string("."), std::string(".."), std::string("..."), std::string("abc"),
        std::string("a.b"), token.substr(0, b), token + ".", token + "." + token.substr(b + 1), "." + token,
        token.substr(a + 1), std::string("a.b.c.d.e")}) {
    SCOPED_TRACE(bad);
    expect_error(verify_hs256(bad, kSecret, kNow), kMalformed);
  }
}

TEST(JwtTest, CharactersOutsideBase64UrlRefused) {
  std::string token = hs256(R"({"sub":"ada"})");
  std::size_t a = token.find('.');
  // '+' and '/' belong to base64, not base64url; whitespace and '=' padding are not allowed.
  for (std::string insert : {"+", "/", "=", " ", "\n", "\t", "*", "%3D"}) {
    SCOPED_TRACE(insert);
    std::string bad = token;
    bad.insert(a, insert);
    expect_error(verify_hs256(bad, kSecret, kNow), kMalformed);
  }
}

TEST(JwtTest, PaddedSegmentsRefused) {
  // {"alg":"HS256"} is 15 bytes: its base64 form ends in "=" padding.
  std::string header = R"({"alg":"HS256"})";
  std::string claims = R"({"sub":"a"})";  // 11 bytes: one '=' in base64
  std::string good = make_token(header, claims, kSecret);
  ASSERT_TRUE(verify_hs256(good, kSecret, kNow).ok());
  std::size_t a = good.find('.');
  std::size_t b = good.rfind('.');
  std::string padded_header = good.substr(0, a) + "=" + good.substr(a);
  expect_error(verify_hs256(padded_header, kSecret, kNow), kMalformed);
  std::string padded_claims = good.substr(0, b) + "=" + good.substr(b);
  expect_error(verify_hs256(padded_claims, kSecret, kNow), kMalformed);
  expect_error(verify_hs256(good + "=", kSecret, kNow), kMalformed);
}

TEST(JwtTest, HugeTokenRefused) {
  std::string big(kMaxTokenLength, 'a');
  std::string token = hs256(R"({"pad":")" + big + R"("})");
  ASSERT_GT(token.size(), kMaxTokenLength);
  auto r = verify_hs256(token, kSecret, kNow);
  expect_error(r, kMalformed);
  EXPECT_EQ(r.error().code, ErrorCode::kLimitExceeded);
  expect_error(verify_hs256(std::string(10'000'000, 'A'), kSecret, kNow), kMalformed);
}

TEST(JwtTest, TokenAtLengthLimitAccepted) {
  // Grow the claims until the token is exactly kMaxTokenLength bytes long.
  std::string token;
  for (std::size_t n = kMaxTokenLength * 3 / 4 - 200; n < kMaxTokenLength; ++n) {
    token = hs256(R"({"pad":")" + std::string(n, 'x') + R"("})");
    if (token.size() >= kMaxTokenLength) break;
  }
  ASSERT_EQ(token.size(), kMaxTokenLength);
  EXPECT_TRUE(verify_hs256(token, kSecret, kNow).ok());
  expect_error(verify_hs256(token + "x", kSecret, kNow), kMalformed);
}

TEST(JwtTest, EmptySecretNeverVerifies) {
  std::string token = make_token(R"({"alg":"HS256"})", R"({"sub":"a"})", "");
  expect_error(verify_hs256(token, "", kNow), kInvalidSignature);
}

TEST(JwtTest, DeepJsonRefused) {
  std::string deep(1000, '[');
  deep += std::string(1000, ']');
  expect_error(verify_hs256(hs256(R"({"a":)" + deep + "}"), kSecret, kNow), kMalformed);
}

}  // namespace
}  // namespace chorus::jwt

namespace chorus {
namespace {

using jwt::kSecret;

// Runs the middleware on a detached socket (no namespace or connection: the middleware only
// reads the handshake and writes data()).
struct MiddlewareRun {
  bool called = false;
  std::optional<ConnectError> error;
  Value user;
};

MiddlewareRun run_middleware(const Handshake& handshake, JwtOptions options = {kSecret, 0}) {
  auto socket =
      std::make_shared<Socket>("sid", nullptr, nullptr, nullptr, std::make_shared<const Handshake>(handshake));
  MiddlewareRun run;
  jwt_middleware(std::move(options))(*socket, [&run](std::optional<ConnectError> e) {
    run.called = true;
    run.error = std::move(e);
  });
  if (const Value* user = socket->data().find("user")) run.user = *user;
  return run;
}

std::string valid_token(std::string_view sub) {
  return jwt::sign_hs256(Value::object({{"sub", std::string(sub)}}), kSecret);
}

void expect_refused(const MiddlewareRun& run, const std::string& reason) {
  ASSERT_TRUE(run.called);
  ASSERT_TRUE(run.error.has_value());
  EXPECT_EQ(run.error->message, "unauthorized: " + reason);
  EXPECT_EQ(run.error->data, Value::object({{"reason", reason}}));
  EXPECT_TRUE(run.user.is_null());
}

TEST(JwtMiddlewareTest, TokenFromAuth) {
  Handshake h;
  h.auth = Value::object({{"token", valid_token("auth-user")}});
  auto run = run_middleware(h);
  ASSERT_TRUE(run.called);
  EXPECT_FALSE(run.error.has_value());
  EXPECT_EQ(run.user, Value::object({{"sub", "auth-user"}}));
}

TEST(JwtMiddlewareTest, TokenFromQuery) {
  Handshake h;
  h.query["token"] = valid_token("query-user");
  auto run = run_middleware(h);
  EXPECT_FALSE(run.error.has_value());
  EXPECT_EQ(run.user.find("sub")->as_string(), "query-user");
}

TEST(JwtMiddlewareTest, TokenFromBearerHeader) {
  for (const char* scheme : {"Bearer ", "bearer ", "BEARER  "}) {
    Handshake h;
    h.headers["authorization"] = scheme + valid_token("header-user") + " ";
    auto run = run_middleware(h);
    EXPECT_FALSE(run.error.has_value()) << scheme;
    EXPECT_EQ(run.user.find("sub")->get_string(), "header-user");
  }
}

TEST(JwtMiddlewareTest, AuthBeatsQueryBeatsHeader) {
  Handshake h;
  h.auth = Value::object({{"token", valid_token("auth")}});
  h.query["token"] = valid_token("query");
  h.headers["authorization"] = "Bearer " + valid_token("header");
  EXPECT_EQ(run_middleware(h).user.find("sub")->as_string(), "auth");
  h.auth = Value::object();
  EXPECT_EQ(run_middleware(h).user.find("sub")->as_string(), "query");
  h.query.clear();
  EXPECT_EQ(run_middleware(h).user.find("sub")->as_string(), "header");
}

TEST(JwtMiddlewareTest, MissingToken) {
  Handshake h;
  expect_refused(run_middleware(h), "missing token");
  h.headers["authorization"] = "Basic dXNlcjpwYXNz";
  expect_refused(run_middleware(h), "missing token");
  h.headers["authorization"] = "Bearer ";
  expect_refused(run_middleware(h), "missing token");
}

TEST(JwtMiddlewareTest, NonStringAuthTokenIsMalformed) {
  Handshake h;
  h.auth = Value::object({{"token", 12345}});
  h.query["token"] = valid_token("query");  // not used: the client did send a token
  expect_refused(run_middleware(h), "malformed token");
}

TEST(JwtMiddlewareTest, BadTokensRefusedWithTheirReason) {
  Handshake h;
  h.auth = Value::object({{"token", jwt::sign_hs256(Value::object({{"sub", "x"}}), "other-secret")}});
  expect_refused(run_middleware(h), "invalid signature");
  h.auth = Value::object({{"token", "garbage"}});
  expect_refused(run_middleware(h), "malformed token");
  h.auth = Value::object({{"token", jwt::sign_hs256(Value::object({{"exp", 1}}), kSecret)}});
  expect_refused(run_middleware(h), "token expired");
}

TEST(JwtMiddlewareTest, LeewayOption) {
  auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  Handshake h;
  h.auth = Value::object({{"token", jwt::sign_hs256(Value::object({{"exp", now - 5}}), kSecret)}});
  expect_refused(run_middleware(h), "token expired");
  auto run = run_middleware(h, JwtOptions{kSecret, 60});
  EXPECT_FALSE(run.error.has_value());
}

TEST(JwtMiddlewareTest, RequireExpAndMaxLifetimeOptions) {
  auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  JwtOptions options{kSecret, 0};
  options.require_exp = true;
  options.max_lifetime_seconds = 24 * 3600;
  Handshake h;
  h.auth = Value::object({{"token", valid_token("no-exp")}});
  expect_refused(run_middleware(h, options), "token has no expiry");
  h.auth = Value::object({{"token", jwt::sign_hs256(Value::object({{"exp", now + 48 * 3600}}), kSecret)}});
  expect_refused(run_middleware(h, options), "token lifetime too long");
  h.auth = Value::object({{"token", jwt::sign_hs256(Value::object({{"sub", "ok"}, {"exp", now + 3600}}), kSecret)}});
  auto run = run_middleware(h, options);
  EXPECT_FALSE(run.error.has_value());
  EXPECT_EQ(run.user.find("sub")->as_string(), "ok");
}

}  // namespace
}  // namespace chorus
