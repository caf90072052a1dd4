#include "core/keys.hpp"

#include <gtest/gtest.h>

namespace {
// The hash tag Redis Cluster hashes: the text between the first '{' and the next '}'.
std::string hash_tag(const std::string& key) {
    auto open = key.find('{');
    auto close = key.find('}', open + 1);
    return key.substr(open + 1, close - open - 1);
}
}  // namespace

using namespace chat::core;

TEST(keys, application_keys_share_the_token_slot) {
    EXPECT_EQ(hash_tag(keys::app("abc")), "abc");
    EXPECT_EQ(hash_tag(keys::app_idempotency("abc", "k{1}")), "abc");
    EXPECT_EQ(hash_tag(keys::app_unregistered("abc")), "abc");
    EXPECT_EQ(hash_tag(keys::app_rate("abc")), "abc");
}

TEST(keys, chat_keys_share_a_per_chat_slot) {
    EXPECT_EQ(hash_tag(keys::chat("abc", 7)), "abc:7");
    EXPECT_EQ(hash_tag(keys::chat_pending("abc", 7)), "abc:7");
    EXPECT_EQ(hash_tag(keys::chat_idempotency("abc", 7, "x")), "abc:7");
    EXPECT_NE(keys::chat("abc", 7), keys::chat("abc", 70));
    EXPECT_NE(keys::chat("abc", 7), keys::chat_pending("abc", 7));
}
