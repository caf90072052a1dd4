#include "domain/event.hpp"

#include <gtest/gtest.h>

using namespace chat::domain;

namespace {
const std::string cid(32, 'a');
}

TEST(event, message_round_trips) {
    message_created m{7, "tok", 3, 42, "héllo \"quoted\"\n", cid, 1700000000123};
    auto decoded = decode(encode(m));
    ASSERT_TRUE(decoded.has_value());
    auto* out = std::get_if<message_created>(&*decoded);
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(out->app_id, 7u);
    EXPECT_EQ(out->token, "tok");
    EXPECT_EQ(out->chat_number, 3u);
    EXPECT_EQ(out->number, 42u);
    EXPECT_EQ(out->body, m.body);
    EXPECT_EQ(out->creation_id, cid);
    EXPECT_EQ(out->created_at_ms, 1700000000123);
}

TEST(event, chat_and_edit_round_trip) {
    auto c = decode(encode(chat_created{1, "tok", 9, cid, 5}));
    ASSERT_TRUE(c.has_value());
    EXPECT_EQ(std::get<chat_created>(*c).number, 9u);
    auto e = decode(encode(message_edited{1, 2, 3}));
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(std::get<message_edited>(*e).number, 3u);
}

TEST(event, poison_is_an_error_not_a_crash) {
    for (
        std::string bad :
        {"", "not json", "[]", "{}", R"({"type":"chat.created"})", R"({"type":"nope"})",
         R"({"type":"chat.created","app_id":"x","token":"t","number":1,"creation_id":"c","created_at":1})",
         // creation id that is not 32 hex characters would end up in SQL text
         R"({"type":"chat.created","app_id":1,"token":"t","number":1,"creation_id":"'; DROP","created_at":1})",
         R"({"type":"chat.created","app_id":1,"token":"t{x}","number":1,"creation_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","created_at":1})",
         R"({"type":"message.edited","app_id":0,"chat_number":1,"number":1})"}) {
        EXPECT_FALSE(decode(bad).has_value()) << bad;
    }
}

TEST(event, request_id_travels_and_is_optional) {
    auto with = decode(encode(message_created{7, "tok", 3, 42, "hi", cid, 1, "req-1"}));
    ASSERT_TRUE(with.has_value());
    EXPECT_EQ(request_id(*with), "req-1");
    auto edited = decode(encode(message_edited{1, 2, 3, "req-2"}));
    ASSERT_TRUE(edited.has_value());
    EXPECT_EQ(request_id(*edited), "req-2");
    // Events queued before request ids existed still decode, with an empty id.
    auto old = decode(R"({"type":"chat.created","app_id":1,"token":"tok","number":9,"creation_id":")" + cid +
                      R"(","created_at":5})");
    ASSERT_TRUE(old.has_value());
    EXPECT_EQ(request_id(*old), "");
    // A wrong-typed request id is dropped, not a reason to dead-letter the creation.
    auto odd = decode(R"({"type":"chat.created","app_id":1,"token":"tok","number":9,"creation_id":")" + cid +
                      R"(","created_at":5,"request_id":17})");
    ASSERT_TRUE(odd.has_value());
    EXPECT_EQ(request_id(*odd), "");
}
