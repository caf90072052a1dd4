// The cryptography of credentials: base64url, secrets, and that a token signed with a secret itself
// (as any JWT library of a customer does) verifies with the SHA-256 the server keeps.
#include "core/crypto.hpp"

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include <set>

using namespace chat::core;

namespace {
// HMAC-SHA256 with the secret itself as the key, straight from OpenSSL: what a customer's library does.
std::string hmac_with_raw_key(std::string_view key, std::string_view data) {
    unsigned char out[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    return std::string(reinterpret_cast<char*>(out), len);
}
}  // namespace

TEST(crypto, base64url_round_trips_and_refuses_what_is_not_canonical) {
    for (std::string s : {std::string(), std::string("f"), std::string("fo"), std::string("foo"),
                          std::string("\xff\xfe\x00\x01", 4), std::string(1000, '\x80')}) {
        auto text = base64url_encode(s);
        EXPECT_EQ(text.find_first_of("+/="), std::string::npos);
        EXPECT_EQ(base64url_decode(text), s);
    }
    EXPECT_EQ(base64url_decode("Zm9v"), "foo");
    for (const char* bad : {"Zm9v=", "Z", "Zm+v", "Zm/v", "Zg=", "Zh", "a b"})  // "Zh": trailing bits set
        EXPECT_EQ(base64url_decode(bad), std::nullopt) << bad;
}

TEST(crypto, secrets_are_512_random_bits_behind_a_prefix) {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        auto s = make_secret();
        EXPECT_EQ(s.size(), secret_length);
        EXPECT_TRUE(looks_like_secret(s));
        ASSERT_TRUE(base64url_decode(s.substr(3)));
        EXPECT_EQ(base64url_decode(s.substr(3))->size(), 64u);
        seen.insert(s);
    }
    EXPECT_EQ(seen.size(), 100u);
    EXPECT_FALSE(looks_like_secret("eyJhbGciOiJIUzI1NiJ9.e30.x"));
}

TEST(crypto, hmac_with_a_long_secret_equals_hmac_with_its_hash) {
    // RFC 2104 §2: a key longer than the block (64 bytes) is hashed first. Our secrets are 89 bytes.
    auto secret = make_secret();
    auto h = sha256(secret);
    std::string hashed(reinterpret_cast<const char*>(h.data()), h.size());
    EXPECT_EQ(hmac_with_raw_key(secret, "header.payload"), hmac_with_raw_key(hashed, "header.payload"));
}

TEST(crypto, a_token_signed_with_the_raw_secret_verifies_with_the_stored_hash) {
    auto secret = make_secret();
    std::string signing_input = base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." +
                                base64url_encode(R"({"sub":"ann","exp":1800000000})");
    std::string token = signing_input + "." + base64url_encode(hmac_with_raw_key(secret, signing_input));
    auto claims = verify_hs256(token, sha256(secret));
    ASSERT_TRUE(claims) << claims.error().message;
    EXPECT_NE(claims->find("\"ann\""), std::string::npos);
    // One flipped byte of the signature, or another key: refused.
    auto flipped = token;
    flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
    EXPECT_FALSE(verify_hs256(flipped, sha256(secret)));
    EXPECT_FALSE(verify_hs256(token, sha256(make_secret())));
}

TEST(crypto, tokens_we_sign_name_their_secret_and_verify) {
    auto secret = make_secret();
    auto token = sign_hs256(R"({"sub":"ann","exp":1800000000,"iat":1799999999.5})", sha256(secret), "sec_x");
    ASSERT_TRUE(token);
    auto header = read_jwt_header(*token);
    ASSERT_TRUE(header);
    EXPECT_EQ(header->alg, "HS256");
    EXPECT_EQ(header->kid, "sec_x");
    EXPECT_TRUE(verify_hs256(*token, sha256(secret)));
}

TEST(crypto, headers_that_are_not_ours_to_read_are_refused) {
    for (const char* bad : {"", "abc", "a.b", "!!.b.c"}) EXPECT_FALSE(read_jwt_header(bad)) << bad;
    auto h = [](const char* json) { return base64url_encode(json) + ".e30.x"; };
    EXPECT_FALSE(read_jwt_header(h("[]")));
    EXPECT_FALSE(read_jwt_header(h(R"({"typ":"JWT"})")));
    EXPECT_FALSE(read_jwt_header(h(R"({"alg":"HS256","typ":"JWS"})")));
    EXPECT_FALSE(read_jwt_header(h(R"({"alg":"HS256","kid":1})")));
    EXPECT_TRUE(read_jwt_header(h(R"({"alg":"none"})")));  // readable; refused by its alg elsewhere
}

TEST(crypto, digests_compare_whole) {
    EXPECT_TRUE(constant_time_equal(sha256("a"), sha256("a")));
    EXPECT_FALSE(constant_time_equal(sha256("a"), sha256("b")));
    EXPECT_EQ(to_hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
