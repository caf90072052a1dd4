#include "core/random.hpp"

#include <gtest/gtest.h>

#include <set>

TEST(random, tokens_are_22_url_safe_characters_and_distinct) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        auto t = chat::core::make_token();
        ASSERT_EQ(t.size(), 22u);
        for (char c : t)
            ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << t;
        seen.insert(t);
    }
    EXPECT_EQ(seen.size(), 1000u);
}

TEST(random, creation_ids_are_32_hex_characters) {
    auto id = chat::core::make_creation_id();
    ASSERT_EQ(id.size(), 32u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_NE(id, chat::core::make_creation_id());
}
