// The rules of a message's life after its creation (domain/lifecycle.hpp): a deletion wins whatever
// the order, markers only move forward, unread is exact.
#include "domain/lifecycle.hpp"

#include <gtest/gtest.h>

using namespace chat::domain;
using chat::core::errc;

TEST(lifecycle, a_creation_meets_its_own_row_a_tombstone_or_another_creation) {
    EXPECT_EQ(judge_creation("c1", false, "c1"), creation_outcome::stored);
    EXPECT_EQ(judge_creation("c2", false, "c1"), creation_outcome::conflict);
    // Deleted before it was stored (a tombstone without creation id) or after: nothing comes back.
    EXPECT_EQ(judge_creation("", true, "c1"), creation_outcome::deleted);
    EXPECT_EQ(judge_creation("c1", true, "c1"), creation_outcome::deleted);
}

TEST(lifecycle, a_creation_arriving_in_a_deleted_chat_or_from_an_erased_sender_is_erased) {
    EXPECT_FALSE(erased_on_arrival(false, std::nullopt, 100));
    EXPECT_TRUE(erased_on_arrival(true, std::nullopt, 100));
    EXPECT_TRUE(erased_on_arrival(false, 100, 100));  // sent the very millisecond of the request
    EXPECT_TRUE(erased_on_arrival(false, 150, 100));
    // Written after the erasure was asked for: the id is used anew, the message stays.
    EXPECT_FALSE(erased_on_arrival(false, 50, 100));
}

TEST(lifecycle, a_marker_moves_forward_only_and_never_past_the_last_message) {
    EXPECT_EQ(*move_marker(0, 3, 5), 3u);
    EXPECT_EQ(*move_marker(4, 3, 5), 4u);  // lower: accepted, nothing changes
    EXPECT_EQ(*move_marker(4, 4, 5), 4u);
    EXPECT_EQ(*move_marker(4, 5, 5), 5u);
    EXPECT_EQ(move_marker(4, 6, 5).error().code, errc::invalid_field);
    EXPECT_EQ(*move_marker(0, 0, 0), 0u);
}

TEST(lifecycle, unread_counts_the_numbers_above_the_marker_minus_the_deleted_ones) {
    EXPECT_EQ(unread(10, 4, 0), 6u);
    EXPECT_EQ(unread(10, 4, 2), 4u);
    EXPECT_EQ(unread(10, 10, 0), 0u);
    EXPECT_EQ(unread(3, 5, 0), 0u);   // a marker above a counter restored lower never goes negative
    EXPECT_EQ(unread(10, 4, 9), 0u);  // nor does a deleted set that counts more than it should
}

TEST(lifecycle, retention_is_whole_days_or_none) {
    EXPECT_EQ(*parse_retention_days(std::nullopt), std::nullopt);
    EXPECT_EQ(*parse_retention_days(1), std::optional<int>(1));
    EXPECT_EQ(*parse_retention_days(36500), std::optional<int>(36500));
    for (std::int64_t bad : {0, -1, 36501})
        EXPECT_EQ(parse_retention_days(bad).error().code, errc::invalid_field) << bad;
}
