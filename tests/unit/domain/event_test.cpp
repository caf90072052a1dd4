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

namespace {
std::string message_json(std::uint64_t number, std::string body = "hi") {
    return encode(message_created{7, "tok", 3, number, std::move(body), cid,
                                  1700000000000 + static_cast<std::int64_t>(number)});
}
}  // namespace

TEST(envelope, round_trips_every_event_and_its_exact_bytes) {
    std::vector<std::string> jsons{
        message_json(1, "line\nbreak and \"quotes\""), encode(chat_created{1, "tok", 9, cid, 5}),
        encode(message_edited{1, 2, 3, "req"}), message_json(2, std::string(9000, 'x'))};
    auto body = encode_envelope({jsons.begin(), jsons.end()});
    EXPECT_TRUE(body.starts_with("chat.envelope/1 4\n"));
    auto items = decode_delivery(body);
    ASSERT_TRUE(items.has_value()) << items.error().message;
    ASSERT_EQ(items->size(), 4u);
    for (std::size_t i = 0; i < jsons.size(); ++i) {
        EXPECT_EQ((*items)[i].json, jsons[i]);
        ASSERT_TRUE((*items)[i].ev.has_value()) << i;
    }
    EXPECT_EQ(std::get<message_created>(*(*items)[0].ev).body, "line\nbreak and \"quotes\"");
    EXPECT_EQ(std::get<chat_created>(*(*items)[1].ev).number, 9u);
    EXPECT_EQ(request_id(*(*items)[2].ev), "req");
    EXPECT_EQ(std::get<message_created>(*(*items)[3].ev).body.size(), 9000u);
}

TEST(envelope, an_old_single_event_message_is_one_item) {
    auto json = message_json(5);
    auto items = decode_delivery(json);
    ASSERT_TRUE(items.has_value());
    ASSERT_EQ(items->size(), 1u);
    EXPECT_EQ((*items)[0].json, json);
    ASSERT_TRUE((*items)[0].ev.has_value());
    EXPECT_EQ(std::get<message_created>(*(*items)[0].ev).number, 5u);
    // Old-format poison is one poison item (dead-lettered alone, as before), not a broken envelope.
    for (std::string bad : {"", "not json", "{}", "  chat.envelope/1 1\n"}) {
        auto one = decode_delivery(bad);
        ASSERT_TRUE(one.has_value()) << bad;
        ASSERT_EQ(one->size(), 1u);
        EXPECT_EQ((*one)[0].json, bad);
        EXPECT_FALSE((*one)[0].ev.has_value()) << bad;
    }
}

TEST(envelope, one_poison_item_among_good_ones_stays_alone) {
    std::vector<std::string> jsons{message_json(1), "this is not json",
                                   R"({"type":"message.created","app_id":0})", "", message_json(2)};
    auto items = decode_delivery(encode_envelope({jsons.begin(), jsons.end()}));
    ASSERT_TRUE(items.has_value()) << items.error().message;
    ASSERT_EQ(items->size(), 5u);
    EXPECT_TRUE((*items)[0].ev.has_value());
    EXPECT_FALSE((*items)[1].ev.has_value());
    EXPECT_FALSE((*items)[2].ev.has_value());
    EXPECT_FALSE((*items)[3].ev.has_value());
    EXPECT_TRUE((*items)[4].ev.has_value());
    EXPECT_EQ((*items)[1].json, "this is not json");
    EXPECT_EQ((*items)[2].json, jsons[2]);
}

TEST(envelope, an_empty_envelope_holds_nothing) {
    auto body = encode_envelope({});
    EXPECT_EQ(body, "chat.envelope/1 0\n");
    auto items = decode_delivery(body);
    ASSERT_TRUE(items.has_value());
    EXPECT_TRUE(items->empty());
}

TEST(envelope, broken_framing_refuses_the_whole_message) {
    auto good = message_json(1);
    auto len = std::to_string(good.size());
    for (std::string bad : {
             std::string("chat.envelope/2 1\n") + len + "\n" + good + "\n",  // unknown version
             std::string("chat.envelope/"),
             std::string("chat.envelope/1 "),
             std::string("chat.envelope/1 \n"),
             std::string("chat.envelope/1 -1\n"),
             std::string("chat.envelope/1 01\n") + len + "\n" + good + "\n",  // leading zero
             std::string("chat.envelope/1 1"),                                // no newline
             std::string("chat.envelope/1 2\n") + len + "\n" + good + "\n",   // fewer items than counted
             std::string("chat.envelope/1 1\n") + len + "\n" + good,          // last item not ended
             std::string("chat.envelope/1 1\n") + len + "\n" + good + "\nX",  // trailing bytes
             std::string("chat.envelope/1 1\n") + std::to_string(good.size() + 1) + "\n" + good + "\n",
             std::string("chat.envelope/1 1\n") + std::to_string(good.size() - 1) + "\n" + good + "\n",
             std::string("chat.envelope/1 1\nx\n") + good + "\n",
             std::string("chat.envelope/1 1\n99999999999999999999999\n") + good + "\n",
             std::string("chat.envelope/1 1\n18446744073709551615\n") + good + "\n",
         }) {
        auto r = decode_delivery(bad);
        EXPECT_FALSE(r.has_value()) << bad;
    }
}

TEST(envelope, huge_counts_are_refused_before_any_allocation) {
    for (std::string bad : {"chat.envelope/1 18446744073709551615\n", "chat.envelope/1 9999999999999999999\n",
                            "chat.envelope/1 99999999999999999999\n", "chat.envelope/1 10001\n",
                            "chat.envelope/1 5000\n2\n{}\n"}) {
        auto r = decode_delivery(bad);
        EXPECT_FALSE(r.has_value()) << bad;
    }
    // The largest count accepted, really present.
    std::vector<std::string_view> many(max_decoded_envelope_events, std::string_view("{}"));
    auto r = decode_delivery(encode_envelope(many));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->size(), max_decoded_envelope_events);
    EXPECT_FALSE((*r)[0].ev.has_value());
    std::vector<std::string_view> too_many(max_decoded_envelope_events + 1, std::string_view("{}"));
    EXPECT_FALSE(decode_delivery(encode_envelope(too_many)).has_value());
}
