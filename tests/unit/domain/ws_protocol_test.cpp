#include "domain/ws_protocol.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

using namespace chat::domain;
using chat::core::errc;
namespace json = boost::json;

namespace {

constexpr std::size_t max_body = 10000;

ws_refusal refused(std::string_view text) {
    auto r = parse_ws_frame(text, max_body);
    EXPECT_FALSE(r.has_value()) << text;
    return r.has_value() ? ws_refusal{} : r.error();
}

}  // namespace

TEST(ws_protocol, subscribe_with_and_without_after) {
    auto r = parse_ws_frame(R"({"subscribe": {"chat": 3, "after": 17}})", max_body);
    ASSERT_TRUE(r.has_value());
    auto s = std::get<ws_subscribe>(*r);
    EXPECT_EQ(s.chat, 3u);
    EXPECT_EQ(s.after, 17u);
    auto live = std::get<ws_subscribe>(*parse_ws_frame(R"({"subscribe": {"chat": 1}})", max_body));
    EXPECT_FALSE(live.after.has_value());
    auto null_after =
        std::get<ws_subscribe>(*parse_ws_frame(R"({"subscribe": {"chat": 1, "after": null}})", max_body));
    EXPECT_FALSE(null_after.after.has_value());
    auto zero =
        std::get<ws_subscribe>(*parse_ws_frame(R"({"subscribe": {"chat": 1, "after": 0}})", max_body));
    EXPECT_EQ(zero.after, 0u);
}

TEST(ws_protocol, unsubscribe_and_send) {
    auto u = std::get<ws_unsubscribe>(*parse_ws_frame(R"({"unsubscribe": {"chat": 9}})", max_body));
    EXPECT_EQ(u.chat, 9u);
    auto s = std::get<ws_send>(
        *parse_ws_frame(R"({"send": {"chat": 2, "body": "hi \u00e9", "key": "k-1"}})", max_body));
    EXPECT_EQ(s.chat, 2u);
    EXPECT_EQ(s.body, "hi \xC3\xA9");
    EXPECT_EQ(s.key, "k-1");
    auto content =
        std::get<ws_send>(*parse_ws_frame(R"({"send": {"chat": 2, "content": "x", "key": "k"}})", max_body));
    EXPECT_EQ(content.body, "x");
}

TEST(ws_protocol, malformed_frames_are_bad_requests) {
    for (auto text : {"", "not json", "[1]", "42", "{}", R"({"subscribe": {"chat": 1}, "send": {}})",
                      R"({"publish": {"chat": 1}})", R"({"subscribe": 1})", R"({"subscribe": [1]})",
                      R"({"subscribe": {"chat": 1})"}) {
        auto r = refused(text);
        EXPECT_EQ(r.error.code, errc::bad_request) << text;
    }
    EXPECT_EQ(refused(R"({"subscribe": 1})").command, "subscribe");
    EXPECT_EQ(refused(R"({"nope": {}})").command, "");
}

TEST(ws_protocol, bad_fields_are_invalid_and_name_the_chat) {
    for (auto text : {R"({"subscribe": {}})", R"({"subscribe": {"chat": 0}})",
                      R"({"subscribe": {"chat": -1}})", R"({"subscribe": {"chat": 1.5}})",
                      R"({"subscribe": {"chat": "1"}})", R"({"subscribe": {"chat": 9007199254740993}})",
                      R"({"unsubscribe": {"chat": true}})", R"({"send": {"body": "x", "key": "k"}})"}) {
        auto r = refused(text);
        EXPECT_EQ(r.error.code, errc::invalid_field) << text;
        EXPECT_FALSE(r.chat.has_value()) << text;
    }
    auto after = refused(R"({"subscribe": {"chat": 4, "after": -2}})");
    EXPECT_EQ(after.error.code, errc::invalid_field);
    EXPECT_EQ(after.chat, 4u);
    EXPECT_EQ(after.command, "subscribe");
    EXPECT_EQ(refused(R"({"subscribe": {"chat": 4, "after": "3"}})").error.code, errc::invalid_field);
}

TEST(ws_protocol, send_follows_the_rules_of_the_post) {
    auto no_key = refused(R"({"send": {"chat": 1, "body": "x"}})");
    EXPECT_EQ(no_key.error.code, errc::invalid_field);
    EXPECT_EQ(no_key.chat, 1u);
    EXPECT_FALSE(no_key.key.has_value());
    // A key that breaks the Idempotency-Key rule is what the POST answers 400 for.
    EXPECT_EQ(refused(R"({"send": {"chat": 1, "body": "x", "key": ""}})").error.code, errc::bad_request);
    EXPECT_EQ(refused(R"({"send": {"chat": 1, "body": "x", "key": "with space"}})").error.code,
              errc::bad_request);
    auto blank = refused(R"({"send": {"chat": 1, "body": "   ", "key": "k"}})");
    EXPECT_EQ(blank.error.code, errc::invalid_field);
    EXPECT_EQ(blank.key, "k");  // known once the key is valid, so the client can match the answer
    EXPECT_EQ(refused(R"({"send": {"chat": 1, "body": 5, "key": "k"}})").error.code, errc::invalid_field);
    EXPECT_EQ(refused(R"({"send": {"chat": 1, "body": "a\u0000b", "key": "k"}})").error.code,
              errc::invalid_field);
    std::string big =
        R"({"send": {"chat": 1, "key": "k", "body": ")" + std::string(max_body + 1, 'a') + "\"}}";
    EXPECT_EQ(refused(big).error.code, errc::invalid_field);
    std::string fits = R"({"send": {"chat": 1, "key": "k", "body": ")" + std::string(max_body, 'a') + "\"}}";
    EXPECT_TRUE(parse_ws_frame(fits, max_body).has_value());
}

TEST(ws_protocol, server_frames) {
    auto err = json::parse(ws_error_frame(
        ws_refusal{chat::core::make_error(errc::not_found, "chat not found"), "subscribe", 7, std::nullopt}));
    EXPECT_EQ(err.at("error").at("code"), "not_found");
    EXPECT_EQ(err.at("error").at("message"), "chat not found");
    EXPECT_EQ(err.at("command"), "subscribe");
    EXPECT_EQ(err.at("chat"), 7);
    EXPECT_FALSE(err.as_object().contains("key"));
    auto bare = json::parse(ws_error_frame(ws_refused(errc::bad_request, "frame is not valid JSON")));
    EXPECT_EQ(bare.as_object().size(), 1u);
    auto limited = ws_refused(errc::rate_limited, "slow down", "send", 1);
    limited.error.retry_after_s = 3;
    EXPECT_EQ(json::parse(ws_error_frame(limited)).at("retry_after"), 3);

    EXPECT_EQ(json::parse(ws_subscribed_frame(2, 5)),
              json::parse(R"({"subscribed": {"chat": 2, "after": 5}})"));
    EXPECT_EQ(json::parse(ws_subscribed_frame(2, std::nullopt)),
              json::parse(R"({"subscribed": {"chat": 2, "after": null}})"));
    EXPECT_EQ(json::parse(ws_unsubscribed_frame(2)), json::parse(R"({"unsubscribed": {"chat": 2}})"));
    EXPECT_EQ(json::parse(ws_sent_frame(2, 9, "k", true)),
              json::parse(R"({"sent": {"chat": 2, "number": 9, "key": "k", "replayed": true}})"));
}

TEST(ws_protocol, close_reasons_fit_a_control_frame) {
    EXPECT_LE(ws_slow_reason.size(), 123u);
    EXPECT_LE(ws_shutdown_reason.size(), 123u);
    EXPECT_NE(ws_slow_reason.find("after"), std::string_view::npos);
}
