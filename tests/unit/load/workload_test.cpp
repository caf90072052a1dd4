#include "workload.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace chat::load;

TEST(load_mix, picks_in_proportion_to_the_weights_and_never_weight_zero) {
    auto weights = parse_mix("create_message=70,get_message=20,search=10");
    op_mix mix(weights);
    std::mt19937_64 rng(1);
    std::map<op_kind, int> seen;
    const int n = 200000;
    for (int i = 0; i < n; ++i) ++seen[mix.pick(rng)];
    EXPECT_NEAR(seen[op_kind::create_message] / double(n), 0.70, 0.01);
    EXPECT_NEAR(seen[op_kind::get_message] / double(n), 0.20, 0.01);
    EXPECT_NEAR(seen[op_kind::search] / double(n), 0.10, 0.01);
    EXPECT_EQ(seen.count(op_kind::create_app), 0u);
    EXPECT_EQ(seen.count(op_kind::replay), 0u);
    EXPECT_EQ(seen.count(op_kind::delete_message), 0u);
}

TEST(load_mix, a_single_operation_is_always_chosen) {
    op_mix mix(parse_mix("get_chat=1"));
    std::mt19937_64 rng(2);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(mix.pick(rng), op_kind::get_chat);
}

TEST(load_hot_cold, hot_share_goes_to_the_hot_fraction) {
    std::mt19937_64 rng(3);
    const std::size_t total = 100, hot = 10;
    int to_hot = 0;
    const int n = 100000;
    std::vector<int> hits(total);
    for (int i = 0; i < n; ++i) {
        auto k = pick_index(rng, total, hot, 0.8);
        ASSERT_LT(k, total);
        ++hits[k];
        to_hot += k < hot;
    }
    EXPECT_NEAR(to_hot / double(n), 0.8, 0.01);
    for (std::size_t k = 0; k < total; ++k) EXPECT_GT(hits[k], 0) << k;  // cold chats are still used
}

TEST(load_hot_cold, degenerate_sets) {
    std::mt19937_64 rng(4);
    for (int i = 0; i < 100; ++i) {
        EXPECT_EQ(pick_index(rng, 1, 1, 0.8), 0u);
        EXPECT_LT(pick_index(rng, 5, 5, 0.0), 5u);  // all hot
        EXPECT_GE(pick_index(rng, 5, 0, 0.8), 0u);  // none hot
        EXPECT_GE(pick_index(rng, 5, 2, 0.0), 2u);  // share 0: always cold
    }
}

TEST(load_bodies, lengths_are_mostly_short_with_a_long_tail) {
    std::mt19937_64 rng(5);
    const int n = 100000;
    int short_ones = 0, long_ones = 0;
    for (int i = 0; i < n; ++i) {
        auto len = message_length(rng);
        ASSERT_GE(len, 20u);
        ASSERT_LE(len, 2000u);
        short_ones += len < 200;
        long_ones += len >= 200;
    }
    EXPECT_NEAR(short_ones / double(n), 0.9, 0.01);
    EXPECT_GT(long_ones, 0);
}

TEST(load_bodies, made_of_vocabulary_words_at_the_asked_length) {
    std::mt19937_64 rng(6);
    chat::bench::vocabulary vocab(rng, 1000);
    for (std::size_t len : {20u, 150u, 1999u}) {
        auto body = make_body(rng, vocab, len);
        EXPECT_GE(body.size(), len);
        EXPECT_LT(body.size(), len + 16);
        for (char c : body) ASSERT_TRUE((c >= 'a' && c <= 'z') || c == ' ' || c == ',' || c == '?') << body;
    }
}

TEST(load_world, reads_only_name_acknowledged_messages_and_their_words) {
    world w;
    std::mt19937_64 rng(7);
    auto app = w.add_app("tok");
    auto empty = w.add_chat(app, 1);
    auto full = w.add_chat(app, 2);
    w.add_message(full, 5, 0xabc, "hello world again");
    w.set_hot(0.5, 0.5, rng);
    for (int i = 0; i < 50; ++i) {
        auto t = w.pick_chat(rng, true);
        ASSERT_TRUE(t);
        EXPECT_EQ(t->chat, 2u);
        EXPECT_EQ(t->message, 5u);
        EXPECT_EQ(t->message_hash, 0xabcu);
        EXPECT_TRUE(t->word == "hello" || t->word == "world" || t->word == "again") << t->word;
    }
    (void)empty;
    EXPECT_TRUE(w.claim_body(1));
    EXPECT_FALSE(w.claim_body(1));
}
