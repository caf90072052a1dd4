#pragma once
// The cryptography of credentials, from well-kept libraries only: OpenSSL (SHA-256, constant-time
// comparison, RAND_bytes) and libjwt (HS256 JSON Web Tokens; Debian's build compares signatures in
// constant time, CVE-2024-25189). Nothing here logs: secrets and tokens never reach a log line.
//
// Application secrets are 64 random bytes ("sk_" + 86 base64url characters) and are stored only as
// their SHA-256. HMAC hashes a key longer than its block (64 bytes) before using it (RFC 2104 §2), so
// a token signed with the secret itself (any JWT library) verifies with the stored hash as the key:
// the server verifies and mints user tokens without ever keeping a secret.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace chat::core {

using digest = std::array<std::uint8_t, 32>;

digest sha256(std::string_view data);
// Equal contents, in time independent of where they differ.
bool constant_time_equal(const digest& a, const digest& b);
// Lowercase hex of a digest (64 characters).
std::string to_hex(const digest& d);

std::string base64url_encode(std::string_view bytes);
// RFC 4648 §4 (the standard alphabet), padded with '='.
std::string base64_encode(std::string_view bytes);
// The standard alphabet, padding optional; std::nullopt when not base64.
std::optional<std::string> base64_decode(std::string_view text);
// HMAC-SHA256 (RFC 2104) of `data` with `key`: 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view data);
// `n` bytes from the CSPRNG.
std::string random_bytes(std::size_t n);
// RFC 4648 §5 without padding (padding is refused, as JWT requires); std::nullopt when not base64url.
std::optional<std::string> base64url_decode(std::string_view text);

// A new application secret: "sk_" and 64 bytes from the CSPRNG, base64url (89 characters).
std::string make_secret();
inline constexpr std::string_view secret_prefix = "sk_";
inline constexpr std::size_t secret_length = 89;
// Whether a bearer credential has the shape of a secret (a JWT never starts with "sk_").
bool looks_like_secret(std::string_view credential);
// A short public handle for a secret: "sec_" and 12 random base64url characters.
std::string make_secret_id();

// The header of a JWT (its first segment, decoded), without checking the signature.
struct jwt_header {
    std::string alg;
    std::string kid;  // empty when absent
};
// errc::unauthorized when the token is not three base64url segments or its header is not a JSON
// object with a string "alg" (and, if present, a string "kid" and "typ" equal to "JWT").
result<jwt_header> read_jwt_header(std::string_view token);
// Verifies an HS256 token with `key` (the stored SHA-256 of a secret) and returns its claims as JSON
// text. errc::unauthorized when the signature does not match or the token is malformed. The caller
// checks alg == "HS256" first (read_jwt_header): libjwt would follow the header's alg.
result<std::string> verify_hs256(std::string_view token, const digest& key);
// Signs `claims_json` (a JSON object) as an HS256 token with `key`, naming `kid` in its header.
result<std::string> sign_hs256(std::string_view claims_json, const digest& key, std::string_view kid);

}  // namespace chat::core
