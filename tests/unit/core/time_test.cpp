#include "core/time.hpp"

#include <gtest/gtest.h>

using namespace chat::core;

TEST(time, iso8601_is_utc_with_milliseconds) {
    EXPECT_EQ(iso8601(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(iso8601(1764300148123), "2025-11-28T03:22:28.123Z");
}

TEST(time, sql_datetime_round_trips) {
    std::int64_t t = 1764300148123;
    EXPECT_EQ(sql_datetime(t), "2025-11-28 03:22:28.123");
    EXPECT_EQ(parse_sql_datetime(sql_datetime(t)), t);
    EXPECT_EQ(parse_sql_datetime("2025-11-28 03:22:28"), 1764300148000);
    EXPECT_EQ(parse_sql_datetime("garbage"), -1);
}
