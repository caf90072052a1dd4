#include "verifier.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "http_client.hpp"
#include "recorder.hpp"

using namespace chat::load;

TEST(load_gaps, contiguous_numbers_have_no_gap) {
    auto g = find_gaps({1, 2, 3, 4}, 0);
    EXPECT_TRUE(g.missing.empty());
    EXPECT_TRUE(g.allowed);
    EXPECT_TRUE(find_gaps({}, 0).missing.empty());
}

TEST(load_gaps, a_hole_is_allowed_only_with_as_many_failed_creations) {
    auto g = find_gaps({1, 2, 4, 7}, 3);
    EXPECT_EQ(g.missing, (std::vector<std::uint64_t>{3, 5, 6}));
    EXPECT_TRUE(g.allowed);
    EXPECT_FALSE(find_gaps({1, 2, 4, 7}, 2).allowed);
    EXPECT_FALSE(find_gaps({2}, 0).allowed);  // number 1 missing
    EXPECT_TRUE(find_gaps({2}, 1).allowed);
}

TEST(load_judge, outcomes_and_error_kinds) {
    attempt_result ok{attempt_result::outcome::answered, 201, R"({"number": 3})", false, {}};
    EXPECT_EQ(judge(ok, 201).what, verdict::kind::ok);

    attempt_result unavailable{attempt_result::outcome::answered,
                               503,
                               R"({"error": {"code": "unavailable", "message": "redis"}})",
                               false,
                               {}};
    auto v = judge(unavailable, 201);
    EXPECT_EQ(v.what, verdict::kind::retryable);
    EXPECT_EQ(v.error, "503 unavailable");
    EXPECT_FALSE(v.bad);

    attempt_result limited{attempt_result::outcome::answered,
                           429,
                           R"({"error": {"code": "rate_limited", "message": "slow down"}})",
                           false,
                           {}};
    v = judge(limited, 201);
    EXPECT_EQ(v.what, verdict::kind::failed);
    EXPECT_EQ(v.error, "429 rate_limited");
    EXPECT_FALSE(v.bad);

    attempt_result html_502{attempt_result::outcome::answered, 502, "<html>bad gateway</html>", false, {}};
    v = judge(html_502, 201);
    EXPECT_EQ(v.error, "bad_failure");
    EXPECT_TRUE(v.bad);

    attempt_result not_found{attempt_result::outcome::answered,
                             404,
                             R"({"error": {"code": "not_found", "message": "chat not found"}})",
                             false,
                             {}};
    EXPECT_TRUE(judge(not_found, 200).bad);

    attempt_result garbage{attempt_result::outcome::answered, 200, "{not json", false, {}};
    EXPECT_TRUE(judge(garbage, 200).bad);

    for (auto [o, kind] : {std::pair{attempt_result::outcome::closed, "closed"},
                           std::pair{attempt_result::outcome::timeout, "timeout"},
                           std::pair{attempt_result::outcome::connect_failed, "connect_failed"}}) {
        attempt_result r{o, 0, "", false, "x"};
        auto t = judge(r, 201);
        EXPECT_EQ(t.what, verdict::kind::retryable);
        EXPECT_EQ(t.error, kind);
        EXPECT_FALSE(t.bad);
    }
    attempt_result malformed{attempt_result::outcome::malformed, 0, "", false, "bad version"};
    EXPECT_TRUE(judge(malformed, 201).bad);
}

TEST(load_record, round_trips_through_the_file) {
    run_record r;
    r.acks.push_back({ack_kind::app, "tokA", 0, 0, 0, 100});
    r.acks.push_back({ack_kind::chat, "tokA", 3, 0, 0, 101});
    r.acks.push_back({ack_kind::message, "tokA", 3, 9, 0xfedcba9876543210ULL, 102});
    r.failed_messages[{"tokA", 3}] = 2;
    r.failed_chats["tokA"] = 1;
    auto path = testing::TempDir() + "record.tsv";
    write_record(path, r);
    auto back = read_record(path);
    ASSERT_EQ(back.acks.size(), 3u);
    EXPECT_EQ(back.acks[2].kind, ack_kind::message);
    EXPECT_EQ(back.acks[2].hash, 0xfedcba9876543210ULL);
    EXPECT_EQ(back.acks[2].number, 9u);
    EXPECT_EQ(back.acks[1].chat, 3u);
    EXPECT_EQ((back.failed_messages[{"tokA", 3}]), 2u);
    EXPECT_EQ(back.failed_chats["tokA"], 1u);
    std::ofstream(path, std::ios::app) << "message\ttokA\tnot-a-number\n";
    EXPECT_THROW(read_record(path), std::runtime_error);
    std::remove(path.c_str());
}

TEST(load_recorder, counts_only_the_measured_window_and_merges) {
    recorder a, b;
    a.op_done(op_kind::create_message, true, true, 1, 1000);
    a.op_done(op_kind::create_message, false, true, 1, 999999);  // warmup or setup
    b.op_done(op_kind::create_message, true, false, 3, 2000);
    b.attempt_error(op_kind::create_message, "closed");
    b.final_error(op_kind::create_message, "closed");
    b.bad(op_kind::replay, "wrong_number", "x", "t", "r");
    b.failed_message("tok", 1);
    a.merge(std::move(b));
    const auto& s = a.ops()[index_of(op_kind::create_message)];
    EXPECT_EQ(s.count, 2u);
    EXPECT_EQ(s.ok, 1u);
    EXPECT_EQ(s.failed, 1u);
    EXPECT_EQ(s.retries, 2u);
    EXPECT_EQ(s.latency_us.max(), 2000u);
    EXPECT_EQ(a.wrong_numbers(), 1u);
    EXPECT_EQ(a.bad_failures(), 0u);
    EXPECT_EQ((a.errors().at({"closed", op_kind::create_message}).final), 1u);
    EXPECT_EQ((a.record().failed_messages.at({"tok", 1})), 1u);
}
