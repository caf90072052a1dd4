#include "api/router.hpp"

#include <gtest/gtest.h>

using boost::beast::http::verb;
using chat::api::router;

TEST(router, captures_parameters) {
    router<int> r;
    r.add(verb::get, "/api/v1/apps/:token/chats/:chat", 1);
    auto m = r.find(verb::get, "/api/v1/apps/abc/chats/7");
    ASSERT_NE(m.handler, nullptr);
    EXPECT_EQ(*m.handler, 1);
    EXPECT_EQ(m.captured.at("token"), "abc");
    EXPECT_EQ(m.captured.at("chat"), "7");
}

TEST(router, literal_routes_declared_first_win) {
    router<int> r;
    r.add(verb::get, "/m/search", 1);
    r.add(verb::get, "/m/:id", 2);
    EXPECT_EQ(*r.find(verb::get, "/m/search").handler, 1);
    EXPECT_EQ(*r.find(verb::get, "/m/5").handler, 2);
}

TEST(router, unknown_path_and_wrong_method) {
    router<int> r;
    r.add(verb::get, "/a/:x", 1);
    r.add(verb::put, "/a/:x", 2);
    auto none = r.find(verb::get, "/b");
    EXPECT_EQ(none.handler, nullptr);
    EXPECT_FALSE(none.path_known);
    auto wrong = r.find(verb::delete_, "/a/1");
    EXPECT_EQ(wrong.handler, nullptr);
    EXPECT_TRUE(wrong.path_known);
    EXPECT_EQ(wrong.allow, "GET, HEAD, PUT");
    EXPECT_EQ(r.find(verb::get, "/a/1/extra").handler, nullptr);
}

TEST(router, tolerates_repeated_and_trailing_slashes) {
    router<int> r;
    r.add(verb::get, "/api/v1/apps", 1);
    EXPECT_NE(r.find(verb::get, "/api/v1/apps/").handler, nullptr);
    EXPECT_NE(r.find(verb::get, "//api//v1/apps").handler, nullptr);
}

TEST(router, head_is_served_by_the_get_route) {
    router<int> r;
    r.add(verb::post, "/a", 1);
    r.add(verb::get, "/a", 2);
    auto m = r.find(verb::head, "/a");
    ASSERT_NE(m.handler, nullptr);
    EXPECT_EQ(*m.handler, 2);
    EXPECT_EQ(m.allow, "POST, GET, HEAD");
    auto post_only = r.find(verb::head, "/b");
    EXPECT_EQ(post_only.handler, nullptr);
    r.add(verb::post, "/c", 3);
    auto c = r.find(verb::head, "/c");
    EXPECT_EQ(c.handler, nullptr);
    EXPECT_TRUE(c.path_known);
    EXPECT_EQ(c.allow, "POST");
}
