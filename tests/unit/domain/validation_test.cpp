#include "domain/validation.hpp"

#include <gtest/gtest.h>

using namespace chat::domain;
using chat::core::errc;

TEST(validation, utf8) {
    EXPECT_TRUE(is_valid_utf8("héllo wörld ✓ 😀"));
    EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
    EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
    EXPECT_FALSE(is_valid_utf8("abc\xE2\x82"));       // truncated
    EXPECT_EQ(utf8_length("héllo"), 5u);
}

TEST(validation, app_name_is_trimmed_and_bounded) {
    EXPECT_EQ(*normalize_app_name("  instaBug \n"), "instaBug");
    EXPECT_EQ(normalize_app_name("   ").error().code, errc::invalid_field);
    EXPECT_EQ(normalize_app_name("").error().code, errc::invalid_field);
    EXPECT_TRUE(normalize_app_name(std::string(255, 'a')).has_value());
    EXPECT_FALSE(normalize_app_name(std::string(256, 'a')).has_value());
    // 255 characters of two bytes each: counted in characters, not bytes.
    std::string accents;
    for (int i = 0; i < 255; ++i) accents += "é";
    EXPECT_TRUE(normalize_app_name(accents).has_value());
    EXPECT_FALSE(normalize_app_name("a\x01b").has_value());
    EXPECT_FALSE(normalize_app_name("\xff").has_value());
}

TEST(validation, body) {
    EXPECT_EQ(*validate_body(" wassup!!!! ", 100), " wassup!!!! ");
    EXPECT_EQ(validate_body(" \t\n", 100).error().code, errc::invalid_field);
    EXPECT_FALSE(validate_body(std::string(101, 'x'), 100).has_value());
    EXPECT_TRUE(validate_body(std::string(100, 'x'), 100).has_value());
    EXPECT_FALSE(validate_body("\xC3", 100).has_value());
}

TEST(validation, tokens) {
    EXPECT_TRUE(is_plausible_token("abcdefg"));
    EXPECT_TRUE(is_plausible_token("Ab-_09xyzAb-_09xyzAb-_"));
    EXPECT_FALSE(is_plausible_token(""));
    EXPECT_FALSE(is_plausible_token("a{b}"));
    EXPECT_FALSE(is_plausible_token("a b"));
    EXPECT_FALSE(is_plausible_token(std::string(65, 'a')));
}

TEST(validation, numbers) {
    EXPECT_EQ(*parse_number("1", "chat"), 1u);
    EXPECT_EQ(*parse_number("9007199254740992", "chat"), 9007199254740992u);
    for (auto bad : {"0", "01", "-1", "1.5", "abc", "", "9007199254740993", "99999999999999999999999", " 1"})
        EXPECT_EQ(parse_number(bad, "chat").error().code, errc::bad_request) << bad;
}

TEST(validation, limit_and_after) {
    EXPECT_EQ(*parse_limit(std::nullopt, 20, 100), 20);
    EXPECT_EQ(*parse_limit("100", 20, 100), 100);
    for (auto bad : {"0", "101", "-1", "x", ""}) EXPECT_FALSE(parse_limit(bad, 20, 100).has_value()) << bad;
    EXPECT_EQ(*parse_after(std::nullopt), 0u);
    EXPECT_EQ(*parse_after("42"), 42u);
    EXPECT_FALSE(parse_after("-3").has_value());
}

TEST(validation, idempotency_key) {
    EXPECT_EQ(*validate_idempotency_key("retry-123"), "retry-123");
    EXPECT_FALSE(validate_idempotency_key("").has_value());
    EXPECT_FALSE(validate_idempotency_key("has space").has_value());
    EXPECT_FALSE(validate_idempotency_key(std::string(256, 'k')).has_value());
}
