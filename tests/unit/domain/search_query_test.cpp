#include "domain/search_query.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

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
    EXPECT_EQ((*f)[0], "unicode");  // folded: case and accents (domain/search_terms.hpp)
    EXPECT_EQ((*f)[1], "cafe");
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

// A cursor near 2^64 once wrapped around `cursor + limit > 10000` and reached Elasticsearch.
TEST(search_query, search_window_refuses_cursors_past_the_window_without_overflow) {
    constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    EXPECT_EQ(search_window(0, 20).value(), 0u);
    EXPECT_EQ(search_window(9980, 20).value(), 9980u);
    EXPECT_EQ(search_window(10000, 0).value(), 10000u);
    EXPECT_FALSE(search_window(9981, 20));
    EXPECT_FALSE(search_window(0, 10001));
    for (std::uint64_t cursor : {max, max - 5, max - 19, max - 20, max - 9999, max - 10000,
                                 std::uint64_t{1} << 63, std::uint64_t{18446744073709551610ULL}}) {
        auto w = search_window(cursor, 20);
        ASSERT_FALSE(w) << cursor;
        EXPECT_EQ(w.error().code, chat::core::errc::invalid_field);
        EXPECT_EQ(w.error().message, "results past the first 10000 hits cannot be paged; narrow the search");
    }
    EXPECT_FALSE(search_window(20, max));
    EXPECT_FALSE(search_window(max, max));
    EXPECT_FALSE(search_window(1, max, max));
    EXPECT_EQ(search_window(0, max, max).value(), 0u);
    EXPECT_EQ(search_window(max - 20, 20, max).value(), max - 20);
}

TEST(search_query, page_window_checks_the_bound_before_multiplying) {
    constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    EXPECT_EQ(page_window(1, 10).value(), 0u);
    EXPECT_EQ(page_window(2, 10).value(), 10u);
    EXPECT_EQ(page_window(1000, 10).value(), 9990u);
    EXPECT_EQ(page_window(1, 10000).value(), 0u);
    EXPECT_EQ(page_window(10000, 1).value(), 9999u);
    EXPECT_FALSE(page_window(1001, 10));
    EXPECT_FALSE(page_window(2, 10000));
    EXPECT_FALSE(page_window(0, 10));
    EXPECT_FALSE(page_window(1, 0));
    EXPECT_FALSE(page_window(1, 10001));
    // (page - 1) * limit wraps around to 0 for these: refused all the same.
    EXPECT_FALSE(page_window((std::uint64_t{1} << 32) + 1, std::uint64_t{1} << 32));
    EXPECT_FALSE(page_window((std::uint64_t{1} << 63) + 1, 2));
    EXPECT_FALSE(page_window(max, max));
    EXPECT_FALSE(page_window(max, 1));
    auto w = page_window(max, 20);
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().code, chat::core::errc::invalid_field);
    EXPECT_EQ(page_window(1, max, max).value(), 0u);
    EXPECT_FALSE(page_window(2, max, max));
    EXPECT_EQ(page_window(max, 1, max).value(), max - 1);
}

TEST(search_query, timestamps_as_epoch_ms_or_rfc3339) {
    EXPECT_EQ(parse_timestamp("0", "since").value(), 0);
    EXPECT_EQ(parse_timestamp("1700000000123", "since").value(), 1700000000123);
    EXPECT_EQ(parse_timestamp("2023-11-14T22:13:20Z", "since").value(), 1700000000000);
    EXPECT_EQ(parse_timestamp("2023-11-14T22:13:20.123Z", "since").value(), 1700000000123);
    EXPECT_EQ(parse_timestamp("2023-11-14T22:13:20.1239999Z", "since").value(), 1700000000123);
    EXPECT_EQ(parse_timestamp("2023-11-15T00:13:20+02:00", "since").value(), 1700000000000);
    EXPECT_EQ(parse_timestamp("2023-11-14T21:13:20-01:00", "since").value(), 1700000000000);
    EXPECT_EQ(parse_timestamp("2024-02-29T00:00:00Z", "since").value(), 1709164800000);
    EXPECT_EQ(parse_timestamp("9999-12-31T23:59:59.999Z", "until").value(), 253402300799999);
    for (std::string_view bad :
         {"", "-1", "1e9", "1234567890123456", "2023-11-14", "2023-11-14T22:13:20", "2023-13-14T22:13:20Z",
          "2023-02-29T00:00:00Z", "2023-11-14T24:00:00Z", "2023-11-14T22:60:00Z", "2023-11-14T22:13:60Z",
          "1969-12-31T23:59:59Z", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20+0200",
          "2023-11-14T22:13:20Zx", "2023-11-14 22:13:20Z", "yesterday"}) {
        auto r = parse_timestamp(bad, "since");
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().code, chat::core::errc::invalid_field);
        EXPECT_EQ(r.error().message, "since must be epoch milliseconds or an RFC 3339 date-time");
    }
}
