#include "store/numbering.hpp"

#include <gtest/gtest.h>

#include "store/elastic.hpp"
#include "store/rate_limit.hpp"

using namespace chat::store;

TEST(numbering, fingerprint_is_stable_and_discriminating) {
    EXPECT_EQ(fingerprint("hello"), fingerprint("hello"));
    EXPECT_NE(fingerprint("hello"), fingerprint("hellp"));
    EXPECT_EQ(fingerprint(""), 1469598103934665603ULL);  // FNV-1a offset basis: stable across builds
}

TEST(elastic, ids_and_routing_are_deterministic_and_chat_scoped) {
    EXPECT_EQ(elastic_client::doc_id(1, 2, 3), "1:2:3");
    EXPECT_EQ(elastic_client::routing(1, 2), "1:2");
    EXPECT_NE(elastic_client::doc_id(1, 23, 4), elastic_client::doc_id(1, 2, 34));
}

namespace {
using chat::store::redis::reply;

allocation_request message_request() {
    return allocation_request{.counter_key = "chat:{t}:1",
                              .idempotency_key = "",
                              .pending_key = "",
                              .creation_id = "c-1",
                              .fingerprint = 42,
                              .created_at_ms = 1000};
}
}  // namespace

TEST(numbering, an_allocation_is_read_from_the_scripts_answer) {
    auto a = read_allocation(
        reply::make_array({reply::make_integer(1), reply::make_string("7"), reply::make_integer(12)}),
        message_request());
    ASSERT_TRUE(a);
    EXPECT_EQ(a->status, allocation::kind::allocated);
    EXPECT_EQ(a->app_id, 7u);
    EXPECT_EQ(a->number, 12u);
    EXPECT_EQ(a->creation_id, "c-1");
    EXPECT_EQ(a->created_at_ms, 1000);
}

TEST(numbering, an_unknown_parent_and_a_replay_are_told_apart) {
    auto unknown = read_allocation(reply::make_array({reply::make_integer(0)}), message_request());
    ASSERT_TRUE(unknown);
    EXPECT_EQ(unknown->status, allocation::kind::unknown_parent);

    auto replay = read_allocation(reply::make_array({reply::make_integer(2), reply::make_string("7"),
                                                     reply::make_string("5|c-0|42|900")}),
                                  message_request());
    ASSERT_TRUE(replay);
    EXPECT_EQ(replay->status, allocation::kind::replayed);
    EXPECT_EQ(replay->number, 5u);
    EXPECT_EQ(replay->creation_id, "c-0");
    EXPECT_EQ(replay->created_at_ms, 900);

    auto other = read_allocation(reply::make_array({reply::make_integer(2), reply::make_string("7"),
                                                    reply::make_string("5|c-0|43|900")}),
                                 message_request());
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().code, chat::core::errc::conflict);
}

TEST(numbering, an_odd_answer_is_an_outage_not_a_number) {
    // Whatever Redis (or something posing as it) answers, no number is made up from it.
    for (const auto& odd :
         {reply::make_nil(), reply::make_string("ERR boom", reply::kind::error), reply::make_array({}),
          reply::make_array({reply::make_string("1")}),
          reply::make_array({reply::make_integer(1), reply::make_string("7")}),
          reply::make_array({reply::make_integer(1), reply::make_string("x"), reply::make_integer(3)}),
          reply::make_array({reply::make_integer(1), reply::make_string("7"), reply::make_integer(0)}),
          reply::make_array({reply::make_integer(3), reply::make_string("7"), reply::make_integer(3)}),
          reply::make_array({reply::make_integer(2), reply::make_string("7"), reply::make_integer(3)})}) {
        auto a = read_allocation(odd, message_request());
        ASSERT_FALSE(a);
        EXPECT_EQ(a.error().code, chat::core::errc::unavailable);
    }
    auto torn = read_allocation(
        reply::make_array({reply::make_integer(2), reply::make_string("7"), reply::make_string("5|c-0")}),
        message_request());
    ASSERT_FALSE(torn);
    EXPECT_EQ(torn.error().code, chat::core::errc::internal);
}

TEST(rate_limit, a_decision_is_read_from_the_scripts_answer) {
    auto ok =
        chat::store::read_rate_decision(reply::make_array({reply::make_integer(1), reply::make_integer(0)}));
    ASSERT_TRUE(ok);
    EXPECT_TRUE(ok->allowed);
    auto refused = chat::store::read_rate_decision(
        reply::make_array({reply::make_integer(0), reply::make_integer(250)}));
    ASSERT_TRUE(refused);
    EXPECT_FALSE(refused->allowed);
    EXPECT_EQ(refused->retry_after_ms, 250);
    EXPECT_FALSE(chat::store::read_rate_decision(reply::make_string("NOSCRIPT", reply::kind::error)));
    EXPECT_FALSE(chat::store::read_rate_decision(reply::make_array({reply::make_integer(1)})));
}
