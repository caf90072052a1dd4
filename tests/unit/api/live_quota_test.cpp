// The fair share of live connections: one application cannot take another's room, one user cannot
// take its application's, and a lease gives its place back.
#include "api/live_quota.hpp"

#include <gtest/gtest.h>

#include <vector>

using namespace chat;

TEST(live_quota, an_application_past_its_share_is_refused_and_the_others_are_not) {
    api::live_quota q(3, 100);
    std::vector<api::live_quota::lease> held;
    for (int i = 0; i < 3; ++i) held.push_back(std::move(*q.acquire("a", "")));
    auto refused = q.acquire("a", "");
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, core::errc::rate_limited);
    EXPECT_GT(refused.error().retry_after_s, 0);
    EXPECT_TRUE(q.acquire("b", ""));
    held.pop_back();
    EXPECT_TRUE(q.acquire("a", ""));
}

TEST(live_quota, a_user_past_its_count_is_refused_without_counting_against_its_application) {
    api::live_quota q(10, 2);
    auto first = q.acquire("a", "ann");
    auto second = q.acquire("a", "ann");
    ASSERT_TRUE(first && second);
    EXPECT_FALSE(q.acquire("a", "ann"));
    EXPECT_EQ(q.held("a"), 2u);
    EXPECT_TRUE(q.acquire("a", "bob"));
    EXPECT_TRUE(q.acquire("b", "ann"));  // another application's "ann" is another user
}

TEST(live_quota, leases_return_their_place_when_moved_and_destroyed) {
    api::live_quota q(1, 1);
    {
        auto l = q.acquire("a", "ann");
        ASSERT_TRUE(l);
        auto moved = std::move(*l);
        EXPECT_FALSE(q.acquire("a", "ann"));
    }
    EXPECT_EQ(q.held("a"), 0u);
    EXPECT_TRUE(q.acquire("a", "ann"));
}
