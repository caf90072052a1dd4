#include "core/crypto.hpp"

#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace chat::core {

namespace {

constexpr char b64url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64url_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

struct jwt_free_t {
    void operator()(jwt_t* j) const { jwt_free(j); }
};
using jwt_ptr = std::unique_ptr<jwt_t, jwt_free_t>;
struct c_free {
    void operator()(char* p) const { std::free(p); }
};
using c_string = std::unique_ptr<char, c_free>;

error bad_token(std::string message) {
    return make_error(errc::unauthorized, std::move(message));
}

}  // namespace

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    // A CSPRNG that cannot produce bytes is a broken machine, not an input: a bug-level failure.
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1)
        throw std::runtime_error("RAND_bytes failed");
    return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    std::string out(32, '\0');
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(),
         reinterpret_cast<unsigned char*>(out.data()), &len);
    out.resize(len);
    return out;
}

// The standard alphabet is base64url's with '+' and '/' for '-' and '_', padded.
std::string base64_encode(std::string_view bytes) {
    auto out = base64url_encode(bytes);
    for (auto& c : out) c = c == '-' ? '+' : c == '_' ? '/' : c;
    while (out.size() % 4 != 0) out.push_back('=');
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    std::string url(text);
    for (auto& c : url) {
        if (c == '-' || c == '_') return std::nullopt;
        c = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    return base64url_decode(url);
}

digest sha256(std::string_view data) {
    digest d{};
    SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
    return d;
}

bool constant_time_equal(const digest& a, const digest& b) {
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string to_hex(const digest& d) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(d.size() * 2);
    for (auto b : d) {
        out.push_back(hex[b >> 4]);
        out.push_back(hex[b & 0xf]);
    }
    return out;
}

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char byte : bytes) {
        acc = (acc << 8) | byte;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(b64url_alphabet[(acc >> bits) & 0x3f]);
        }
    }
    if (bits > 0) out.push_back(b64url_alphabet[(acc << (6 - bits)) & 0x3f]);
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    if (text.size() % 4 == 1) return std::nullopt;  // no whole byte ends there
    std::string out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : text) {
        int v = b64url_value(c);
        if (v < 0) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    // Canonical only: the bits left over must be zero, so one byte string has one encoding.
    if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

std::string make_secret() {
    return std::string(secret_prefix) + base64url_encode(random_bytes(64));
}

bool looks_like_secret(std::string_view credential) {
    return credential.substr(0, secret_prefix.size()) == secret_prefix;
}

std::string make_secret_id() {
    return "sec_" + base64url_encode(random_bytes(9));
}

result<jwt_header> read_jwt_header(std::string_view token) {
    auto dot = token.find('.');
    if (dot == std::string_view::npos || token.find('.', dot + 1) == std::string_view::npos)
        return bad_token("the bearer token is not a JWT");
    auto text = base64url_decode(token.substr(0, dot));
    if (!text) return bad_token("the token's header is not base64url");
    boost::system::error_code ec;
    auto v = boost::json::parse(*text, ec);
    if (ec || !v.is_object()) return bad_token("the token's header is not a JSON object");
    const auto& o = v.as_object();
    jwt_header h;
    const auto* alg = o.if_contains("alg");
    if (alg == nullptr || !alg->is_string()) return bad_token("the token's header has no alg");
    h.alg = std::string(alg->as_string());
    if (const auto* kid = o.if_contains("kid")) {
        if (!kid->is_string()) return bad_token("the token's kid is not a string");
        h.kid = std::string(kid->as_string());
    }
    if (const auto* typ = o.if_contains("typ"); typ && (!typ->is_string() || typ->as_string() != "JWT"))
        return bad_token("the token's typ is not JWT");
    return h;
}

result<std::string> verify_hs256(std::string_view token, const digest& key) {
    std::string text(token);  // libjwt wants a NUL-terminated string
    if (text.find('\0') != std::string::npos) return bad_token("the token is malformed");
    jwt_t* raw = nullptr;
    int rc = jwt_decode(&raw, text.c_str(), key.data(), static_cast<int>(key.size()));
    jwt_ptr jwt(raw);
    if (rc != 0 || !jwt) return bad_token("the token's signature does not verify");
    if (jwt_get_alg(jwt.get()) != JWT_ALG_HS256) return bad_token("the token is not HS256");
    c_string claims(jwt_get_grants_json(jwt.get(), nullptr));
    if (!claims) return bad_token("the token has no claims");
    return std::string(claims.get());
}

result<std::string> sign_hs256(std::string_view claims_json, const digest& key, std::string_view kid) {
    jwt_t* raw = nullptr;
    if (jwt_new(&raw) != 0) return make_error(errc::internal, "cannot make a token");
    jwt_ptr jwt(raw);
    std::string claims(claims_json), kid_text(kid);
    if (jwt_add_grants_json(jwt.get(), claims.c_str()) != 0 ||
        jwt_set_alg(jwt.get(), JWT_ALG_HS256, key.data(), static_cast<int>(key.size())) != 0 ||
        (!kid_text.empty() && jwt_add_header(jwt.get(), "kid", kid_text.c_str()) != 0))
        return make_error(errc::internal, "cannot make a token");
    c_string encoded(jwt_encode_str(jwt.get()));
    if (!encoded) return make_error(errc::internal, "cannot sign a token");
    return std::string(encoded.get());
}

}  // namespace chat::core
