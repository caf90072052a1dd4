#include "domain/creation.hpp"

#include <gtest/gtest.h>

using namespace chat::domain;

TEST(creation, pending_entries_round_trip_and_are_told_apart) {
    EXPECT_EQ(parse_pending(encode(placeholder{1764350000123})), pending_entry{placeholder{1764350000123}});
    acknowledged a{"@1 looks like a placeholder, \"quoted\"", 17};
    EXPECT_EQ(parse_pending(encode(a)), pending_entry{a});
    // The numbering script writes "@" .. created_at itself: that exact text is a placeholder.
    EXPECT_EQ(parse_pending("@1764350000123"), pending_entry{placeholder{1764350000123}});
}

TEST(creation, anything_else_is_no_entry_of_ours) {
    for (const char* odd : {"", "@", "@12x", "@-", "{}", R"({"body":1,"created_at":2})", R"({"body":"x"})",
                            R"({"body":"x","created_at":1.5})", "[1]", "{"})
        EXPECT_EQ(parse_pending(odd), std::nullopt) << odd;
}

TEST(creation, a_read_tells_acknowledged_being_created_and_absent) {
    const std::int64_t now = 10 * handed_out_ttl_ms;
    EXPECT_EQ(read_pending(std::nullopt, now).state, pending_state::absent);

    auto ack = read_pending(encode(acknowledged{"hi", 5}), now);
    EXPECT_EQ(ack.state, pending_state::acknowledged);
    ASSERT_TRUE(ack.message);
    EXPECT_EQ(ack.message->body, "hi");

    // A fresh placeholder: the number was handed out, the confirm may still come.
    EXPECT_EQ(read_pending(encode(placeholder{now - 1}), now).state, pending_state::being_created);
    EXPECT_EQ(read_pending(encode(placeholder{now - handed_out_ttl_ms + 1}), now).state,
              pending_state::being_created);
    // An old one is a gap: its creation failed.
    EXPECT_EQ(read_pending(encode(placeholder{now - handed_out_ttl_ms}), now).state, pending_state::absent);
    // Unreadable but present: something of ours wrote it, so never "absent".
    EXPECT_EQ(read_pending(std::string("{garbage"), now).state, pending_state::being_created);
}
