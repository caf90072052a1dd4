#include "store/numbering.hpp"

#include <gtest/gtest.h>

#include "store/elastic.hpp"

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

TEST(numbering, pending_placeholder_is_told_from_a_message) {
    EXPECT_EQ(pending_placeholder_at("@1764350000123"), 1764350000123);
    EXPECT_EQ(pending_placeholder_at(R"({"body":"@1","created_at":1})"), std::nullopt);
    EXPECT_EQ(pending_placeholder_at(""), std::nullopt);
    EXPECT_EQ(pending_placeholder_at("@"), std::nullopt);
    EXPECT_EQ(pending_placeholder_at("@12x"), std::nullopt);
}
