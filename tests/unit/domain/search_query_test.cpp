#include "domain/search_query.hpp"

#include <gtest/gtest.h>

using namespace chat::domain;

TEST(search_query, splits_like_the_analyzer_and_lowercases) {
    auto f = parse_search_query("  Hello, WORLD-wide ");
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(*f, (std::vector<std::string>{"hello", "world", "wide"}));
}

TEST(search_query, query_syntax_is_not_syntax) {
    auto f = parse_search_query(R"(he*llo "quoted" (x) OR \ {"a":1} ?)");
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(*f, (std::vector<std::string>{"he", "llo", "quoted", "x", "or", "a", "1"}));
}

TEST(search_query, keeps_non_ascii_letters) {
    auto f = parse_search_query("Ünïcode café");
    ASSERT_TRUE(f.has_value());
    EXPECT_EQ(f->size(), 2u);
    EXPECT_EQ((*f)[1], "caf\xC3\xA9");
}

TEST(search_query, rejects_empty_long_and_invalid) {
    EXPECT_FALSE(parse_search_query("").has_value());
    EXPECT_FALSE(parse_search_query("*** ???").has_value());
    EXPECT_FALSE(parse_search_query(std::string(201, 'a')).has_value());
    EXPECT_FALSE(parse_search_query("a b c d e f g h i").has_value());
    EXPECT_FALSE(parse_search_query("\xff").has_value());
}

TEST(search_query, wildcard_pattern_escapes_specials) {
    EXPECT_EQ(wildcard_pattern("ell"), "*ell*");
    EXPECT_EQ(wildcard_pattern("a*b?c\\"), "*a\\*b\\?c\\\\*");
}
