#include <gtest/gtest.h>

#include "worker/reindex.hpp"

using chat::worker::next_index_name;

TEST(reindex, next_index_name_bumps_the_version) {
    EXPECT_EQ(next_index_name("messages", "messages_v1"), "messages_v2");
    EXPECT_EQ(next_index_name("messages", "messages_v19"), "messages_v20");
    EXPECT_EQ(next_index_name("messages", "messages"), "messages_v2");
    EXPECT_EQ(next_index_name("messages", "messages_vx"), "messages_v2");
    EXPECT_EQ(next_index_name("messages", "messages_v99999999999999999999999"), "messages_v2");  // no throw
}
