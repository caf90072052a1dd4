#include "domain/live.hpp"

#include <gtest/gtest.h>

using namespace chat::domain;
using namespace std::chrono_literals;

namespace {

const auto t0 = sequencer::clock::time_point{} + std::chrono::hours(1);

live_event msg(std::uint64_t n) {
    live_event e;
    e.token = "t";
    e.chat = 1;
    e.number = n;
    e.body = "m" + std::to_string(n);
    e.created_at_ms = 1;
    e.updated_at_ms = 1;
    return e;
}

std::vector<std::uint64_t> drain(sequencer& s, sequencer::clock::time_point now) {
    std::vector<std::uint64_t> out;
    while (auto e = s.take(now)) out.push_back(e->number);
    return out;
}

}  // namespace

TEST(live_event, round_trip_and_bad_input) {
    auto e = msg(7);
    e.kind = live_kind::updated;
    auto back = decode_live(encode(e));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->kind, live_kind::updated);
    EXPECT_EQ(back->number, 7u);
    EXPECT_EQ(back->body, "m7");
    for (
        auto bad :
        {"", "[]", "{}",
         R"({"event":"x","token":"t","chat":1,"number":1,"body":"","created_at":1,"updated_at":1})",
         R"({"event":"message.created","token":"t","chat":0,"number":1,"body":"","created_at":1,"updated_at":1})",
         R"({"event":"message.created","token":"t","chat":1,"number":-1,"body":"","created_at":1,"updated_at":1})"})
        EXPECT_FALSE(decode_live(bad)) << bad;
}

TEST(sequencer, delivers_in_order_once) {
    sequencer s(0, 100);
    s.offer(msg(2), t0);
    EXPECT_TRUE(drain(s, t0).empty());  // 1 is missing: 2 is held back
    s.offer(msg(1), t0);
    s.offer(msg(1), t0);  // twice from the fan-out
    EXPECT_EQ(drain(s, t0), (std::vector<std::uint64_t>{1, 2}));
    s.offer(msg(2), t0);  // late duplicate
    s.offer(msg(3), t0);
    EXPECT_EQ(drain(s, t0), (std::vector<std::uint64_t>{3}));
    EXPECT_EQ(s.delivered(), 3u);
}

TEST(sequencer, resume_point_drops_what_the_client_has) {
    sequencer s(5, 100);
    s.offer(msg(4), t0);
    s.offer(msg(5), t0);
    s.offer(msg(6), t0);
    EXPECT_EQ(drain(s, t0), (std::vector<std::uint64_t>{6}));
}

TEST(sequencer, reports_a_gap_after_the_grace_and_skips_a_hole) {
    sequencer s(0, 100);
    s.offer(msg(3), t0);
    EXPECT_FALSE(s.gap(t0 + 100ms, 500ms));
    ASSERT_EQ(s.gap(t0 + 600ms, 500ms), 1u);
    s.offer(msg(1), t0 + 600ms);  // found in storage
    EXPECT_EQ(drain(s, t0 + 600ms), (std::vector<std::uint64_t>{1}));
    // 2 never existed (its creation failed): skipped after its own grace, then 3 flows.
    ASSERT_EQ(s.gap(t0 + 1200ms, 500ms), 2u);
    s.skip(2, t0 + 1200ms);
    EXPECT_EQ(drain(s, t0), (std::vector<std::uint64_t>{3}));
    EXPECT_FALSE(s.gap(t0 + 5s, 500ms));
}

TEST(sequencer, a_known_counter_makes_a_gap_without_later_events) {
    sequencer s(0, 100);
    s.expect_up_to(2, t0);
    EXPECT_EQ(s.gap(t0 + 1s, 500ms), 1u);
    s.retry_later(t0 + 1s);
    EXPECT_FALSE(s.gap(t0 + 1200ms, 500ms));
    s.skip(7, t0);  // only the next awaited number can be skipped
    EXPECT_EQ(s.delivered(), 0u);
}

TEST(sequencer, bounded) {
    sequencer s(0, 2);
    EXPECT_TRUE(s.offer(msg(2), t0));
    EXPECT_TRUE(s.offer(msg(3), t0));
    EXPECT_FALSE(s.offer(msg(4), t0));
    EXPECT_TRUE(s.offer(msg(3), t0));  // a duplicate does not count
}
