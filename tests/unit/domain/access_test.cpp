// Who may do what: every route of api/handlers.cpp with every kind of caller, in both modes; the
// credential and claim rules; the events that withdraw access from live connections.
#include "domain/access.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

using namespace chat::domain;
using chat::core::errc;

namespace {

// Every route under /api/v1/apps/{token} and the action handlers.cpp gives it. The test below reads
// handlers.cpp, so a route added without its line here fails.
const std::map<std::string, action> route_actions = {
    {"put /api/v1/apps/:token", action::rename_app},
    {"get /api/v1/apps/:token/ws", action::read_app},
    {"get /api/v1/apps/:token", action::read_app},
    {"post /api/v1/apps/:token/secrets", action::manage_secrets},
    {"get /api/v1/apps/:token/secrets", action::manage_secrets},
    {"delete /api/v1/apps/:token/secrets/:secret", action::manage_secrets},
    {"post /api/v1/apps/:token/webhooks", action::manage_webhooks},
    {"get /api/v1/apps/:token/webhooks", action::manage_webhooks},
    {"get /api/v1/apps/:token/webhooks/:webhook", action::manage_webhooks},
    {"put /api/v1/apps/:token/webhooks/:webhook", action::manage_webhooks},
    {"delete /api/v1/apps/:token/webhooks/:webhook", action::manage_webhooks},
    {"post /api/v1/apps/:token/webhooks/:webhook/rotate", action::manage_webhooks},
    {"get /api/v1/apps/:token/webhooks/:webhook/deliveries", action::manage_webhooks},
    {"post /api/v1/apps/:token/webhooks/:webhook/replay", action::manage_webhooks},
    {"post /api/v1/apps/:token/users/:user/tokens", action::manage_users},
    {"post /api/v1/apps/:token/users/:user/revoke", action::manage_users},
    {"post /api/v1/apps/:token/chats", action::create_chat},
    {"get /api/v1/apps/:token/chats", action::list_chats},
    {"get /api/v1/apps/:token/chats/:chat", action::read_chat},
    {"get /api/v1/apps/:token/chats/:chat/members", action::read_chat},
    {"put /api/v1/apps/:token/chats/:chat/members/:user", action::manage_members},
    {"delete /api/v1/apps/:token/chats/:chat/members/:user", action::manage_members},
    {"post /api/v1/apps/:token/chats/:chat/messages", action::write_chat},
    {"get /api/v1/apps/:token/chats/:chat/messages", action::read_chat},
    {"get /api/v1/apps/:token/chats/:chat/stream", action::read_chat},
    {"get /api/v1/apps/:token/chats/:chat/messages/search", action::read_chat},
    {"get /api/v1/apps/:token/chats/:chat/messages/autocomplete", action::read_chat},
    {"get /api/v1/apps/:token/chats/:chat/messages/:message", action::read_chat},
    {"put /api/v1/apps/:token/chats/:chat/messages/:message", action::write_chat},
    {"delete /api/v1/apps/:token/chats/:chat/messages/:message", action::write_chat},
    {"get /api/v1/apps/:token/chats/:chat/messages/:message/versions", action::read_chat},
    {"delete /api/v1/apps/:token/chats/:chat", action::delete_chat},
    {"put /api/v1/apps/:token/chats/:chat/read", action::read_chat},
    {"get /api/v1/apps/:token/chats/:chat/read", action::read_chat},
    {"delete /api/v1/apps/:token/users/:user", action::manage_users},
    {"get /api/v1/apps/:token/users/:user/erasure", action::manage_users},
};

principal anonymous() {
    return {};
}
principal secret() {
    principal p;
    p.who = principal::kind::secret;
    p.secret_id = "sec_a";
    return p;
}
principal user(std::string name, std::optional<std::vector<std::uint64_t>> chats = std::nullopt) {
    principal p;
    p.who = principal::kind::user;
    p.user = std::move(name);
    p.chats = std::move(chats);
    p.secret_id = "sec_a";
    p.issued_at_ms = 1000;
    p.expires_at_ms = 9'000'000;
    return p;
}

verdict run(const principal& p, action a, access_mode mode, std::uint64_t chat, bool member) {
    bool m = needs_membership(p, a, mode) && member;
    return decide(p, a, mode, is_chat_action(a) ? std::optional<std::uint64_t>(chat) : std::nullopt, m);
}

std::string read_source(const std::string& relative) {
    std::ifstream in(std::string(CHAT_SOURCE_DIR) + "/" + relative, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST(access, every_application_route_names_the_action_this_table_expects) {
    auto src = read_source("src/api/handlers.cpp");
    static const std::regex add_call(
        R"re(add\(verb::(\w+),\s*"(/api/v1/apps/[^"]+)",\s*&handlers::\w+,\s*a::(\w+))re");
    std::set<std::string> seen;
    for (std::sregex_iterator it(src.begin(), src.end(), add_call), end; it != end; ++it) {
        std::string method = (*it)[1];
        if (method.back() == '_') method.pop_back();
        std::string key = method + " " + std::string((*it)[2]);
        seen.insert(key);
        auto expected = route_actions.find(key);
        ASSERT_NE(expected, route_actions.end()) << "route without an entry in this test: " << key;
        EXPECT_EQ(name_of(expected->second), std::string((*it)[3])) << key;
    }
    EXPECT_EQ(seen.size(), route_actions.size()) << "handlers.cpp lost a route this table lists";
}

TEST(access, open_applications_keep_the_reference_api_without_a_credential) {
    for (const auto& [route, a] : route_actions) {
        auto v = run(anonymous(), a, access_mode::open, 1, false);
        bool secret_only = a == action::manage_secrets || a == action::manage_webhooks ||
                           a == action::manage_users || a == action::manage_members;
        EXPECT_EQ(v, secret_only ? verdict::unauthorized : verdict::allow) << route;
    }
    EXPECT_EQ(run(anonymous(), action::configure_app, access_mode::open, 0, false), verdict::unauthorized);
}

TEST(access, restricted_applications_refuse_every_route_without_a_credential) {
    for (const auto& [route, a] : route_actions)
        EXPECT_EQ(run(anonymous(), a, access_mode::restricted, 1, true), verdict::unauthorized) << route;
}

TEST(access, the_secret_may_do_everything_in_either_mode) {
    for (auto mode : {access_mode::open, access_mode::restricted}) {
        for (const auto& [route, a] : route_actions)
            EXPECT_EQ(run(secret(), a, mode, 7, false), verdict::allow) << route;
        EXPECT_EQ(run(secret(), action::configure_app, mode, 0, false), verdict::allow);
    }
}

TEST(access, a_user_reaches_only_its_chats_and_the_rest_looks_absent) {
    for (const auto& [route, a] : route_actions) {
        auto as_member = run(user("ann"), a, access_mode::restricted, 1, true);
        auto as_stranger = run(user("ann"), a, access_mode::restricted, 1, false);
        switch (a) {
            case action::read_chat:
            case action::write_chat:
                EXPECT_EQ(as_member, verdict::allow) << route;
                EXPECT_EQ(as_stranger, verdict::not_found) << route;  // exactly as a chat that does not exist
                break;
            case action::read_app:
            case action::create_chat:
            case action::list_chats:
                EXPECT_EQ(as_member, verdict::allow) << route;
                EXPECT_EQ(as_stranger, verdict::allow) << route;
                break;
            default:  // managing the application (and deleting a whole chat) is the secret's
                EXPECT_EQ(as_member, verdict::forbidden) << route;
                EXPECT_EQ(as_stranger, verdict::forbidden) << route;
        }
    }
}

TEST(access, a_chats_claim_narrows_what_a_member_reaches) {
    auto scoped = user("ann", std::vector<std::uint64_t>{2, 5});
    EXPECT_EQ(run(scoped, action::read_chat, access_mode::restricted, 5, true), verdict::allow);
    EXPECT_EQ(run(scoped, action::read_chat, access_mode::restricted, 3, true), verdict::not_found);
    EXPECT_EQ(run(scoped, action::write_chat, access_mode::restricted, 3, true), verdict::not_found);
    // A token limited to some chats makes no new ones.
    EXPECT_EQ(run(scoped, action::create_chat, access_mode::restricted, 0, false), verdict::forbidden);
}

TEST(access, in_an_open_application_a_user_token_identifies_without_limiting_reads) {
    EXPECT_EQ(run(user("ann"), action::read_chat, access_mode::open, 1, false), verdict::allow);
    EXPECT_FALSE(needs_membership(user("ann"), action::read_chat, access_mode::open));
    EXPECT_EQ(run(user("ann"), action::configure_app, access_mode::open, 0, false), verdict::forbidden);
}

TEST(access, only_the_sender_changes_its_message_unless_the_caller_speaks_for_the_application) {
    EXPECT_EQ(may_change_message(user("ann"), std::string("ann")), verdict::allow);
    EXPECT_EQ(may_change_message(user("ann"), std::string("bob")), verdict::forbidden);
    EXPECT_EQ(may_change_message(user("ann"), std::nullopt), verdict::forbidden);
    EXPECT_EQ(may_change_message(secret(), std::string("bob")), verdict::allow);
    EXPECT_EQ(may_change_message(anonymous(), std::string("bob")), verdict::allow);
}

TEST(access, refusals_say_what_a_client_needs_and_not_found_repeats_the_route_answer) {
    EXPECT_EQ(refusal(verdict::unauthorized, "").code, errc::unauthorized);
    EXPECT_EQ(refusal(verdict::forbidden, "").code, errc::forbidden);
    auto nf = refusal(verdict::not_found, "chat not found");
    EXPECT_EQ(nf.code, errc::not_found);
    EXPECT_EQ(nf.message, "chat not found");
}

TEST(access, credentials_come_from_a_bearer_header_or_where_allowed_the_query) {
    EXPECT_EQ(*read_credential(std::nullopt, std::nullopt), "");
    EXPECT_EQ(*read_credential(std::string_view("Bearer abc.def.ghi"), std::nullopt), "abc.def.ghi");
    EXPECT_EQ(*read_credential(std::string_view("bearer sk_x"), std::nullopt), "sk_x");
    EXPECT_EQ(*read_credential(std::nullopt, std::string_view("a.b.c")), "a.b.c");
    // The header wins over the query.
    EXPECT_EQ(*read_credential(std::string_view("Bearer h"), std::string_view("q")), "h");
    for (std::string_view bad :
         {"Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer a b", "Bearer a\"b", "Token x"})
        EXPECT_EQ(read_credential(bad, std::nullopt).error().code, errc::unauthorized) << bad;
    EXPECT_EQ(read_credential(std::nullopt, std::string_view("")).error().code, errc::unauthorized);
    std::string huge = "Bearer " + std::string(max_credential_bytes + 1, 'a');
    EXPECT_EQ(read_credential(std::string_view(huge), std::nullopt).error().code, errc::unauthorized);
}

TEST(access, user_ids_are_visible_characters) {
    EXPECT_TRUE(validate_user_id("ann"));
    EXPECT_TRUE(validate_user_id("user/42@example.com"));
    EXPECT_TRUE(validate_user_id("Zoë_李"));
    EXPECT_TRUE(validate_user_id(std::string(128, 'u')));
    for (std::string bad : {std::string(), std::string(129, 'u'), std::string("a b"), std::string("a\nb"),
                            std::string("a\x01"), std::string("\xff"), std::string("a\u200bb")})
        EXPECT_FALSE(validate_user_id(bad)) << bad;
}

TEST(access, claims_need_sub_and_exp_and_read_the_rest) {
    auto c = parse_claims(R"({"sub":"ann","exp":1800000000,"iat":1799999000.25,"nbf":1,"chats":[1,2]})");
    ASSERT_TRUE(c);
    EXPECT_EQ(c->sub, "ann");
    EXPECT_EQ(c->expires_at_ms, 1800000000000);
    EXPECT_EQ(*c->issued_at_ms, 1799999000250);
    EXPECT_EQ(*c->not_before_ms, 1000);
    EXPECT_EQ(*c->chats, (std::vector<std::uint64_t>{1, 2}));
    for (const char* bad :
         {R"({"exp":1800000000})", R"({"sub":"ann"})", R"({"sub":"","exp":1})", R"({"sub":7,"exp":1})",
          R"({"sub":"ann","exp":"soon"})", R"({"sub":"ann","exp":-1})", R"({"sub":"ann","exp":1e300})",
          R"({"sub":"ann","exp":1,"nbf":"x"})", R"({"sub":"ann","exp":1,"chats":[0]})",
          R"({"sub":"ann","exp":1,"chats":"1"})", R"({"sub":"ann","exp":1,"chats":[1.5]})", "[]", "{"})
        EXPECT_EQ(parse_claims(bad).error().code, errc::unauthorized) << bad;
}

TEST(access, the_clock_and_revocations_judge_claims) {
    token_claims c{
        "ann", 100'000, std::optional<std::int64_t>(50'000), std::optional<std::int64_t>(40'000), {}};
    EXPECT_TRUE(check_claims(c, 60'000, 0));
    EXPECT_FALSE(check_claims(c, 100'000 + clock_leeway_ms, 0));     // expired
    EXPECT_TRUE(check_claims(c, 100'000 + clock_leeway_ms - 1, 0));  // within the leeway
    EXPECT_FALSE(check_claims(c, 50'000 - clock_leeway_ms - 1, 0));  // not valid yet
    EXPECT_TRUE(check_claims(c, 60'000, 40'000));                    // issued at the revocation: newer
    EXPECT_FALSE(check_claims(c, 60'000, 40'001));                   // issued before it
    c.issued_at_ms.reset();
    EXPECT_FALSE(check_claims(c, 60'000, 1));  // no iat: cannot be newer than a revocation
    EXPECT_TRUE(check_claims(c, 60'000, 0));
}

namespace {
app_access app_with(std::initializer_list<std::pair<std::string, std::string>> secrets) {
    app_access a;
    a.app_id = 9;
    a.token = "tok";
    a.mode = access_mode::restricted;
    for (const auto& [id, s] : secrets) a.secrets.push_back({id, chat::core::sha256(s), 1});
    return a;
}
std::string token_for(const std::string& claims, const std::string& secret, const std::string& kid = "") {
    return *chat::core::sign_hs256(claims, chat::core::sha256(secret), kid);
}
}  // namespace

TEST(access, secrets_authenticate_by_their_hash_and_any_of_several_works) {
    std::string a = "sk_" + std::string(86, 'a'), b = "sk_" + std::string(86, 'b');
    auto app = app_with({{"sec_a", a}, {"sec_b", b}});
    EXPECT_EQ(authenticate_secret(app, a)->secret_id, "sec_a");
    EXPECT_EQ(authenticate_secret(app, b)->secret_id, "sec_b");
    EXPECT_EQ(authenticate_secret(app, "sk_" + std::string(86, 'c')).error().code, errc::unauthorized);
}

TEST(access, user_tokens_verify_with_the_secret_that_signed_them_with_or_without_kid) {
    std::string a = "sk_" + std::string(86, 'a'), b = "sk_" + std::string(86, 'b');
    auto app = app_with({{"sec_a", a}, {"sec_b", b}});
    const std::string claims = R"({"sub":"ann","exp":1800000000})";
    auto with_kid = verify_user_token(app, token_for(claims, b, "sec_b"));
    ASSERT_TRUE(with_kid);
    EXPECT_EQ(with_kid->secret_id, "sec_b");
    auto without = verify_user_token(app, token_for(claims, b));
    ASSERT_TRUE(without);
    EXPECT_EQ(without->secret_id, "sec_b");
    // A kid naming the other secret is not tried with this one.
    EXPECT_FALSE(verify_user_token(app, token_for(claims, b, "sec_a")));
    // Another application's secret, a revoked one: refused.
    EXPECT_FALSE(verify_user_token(app, token_for(claims, "sk_" + std::string(86, 'z'))));
    EXPECT_FALSE(verify_user_token(app_with({{"sec_a", a}}), token_for(claims, b)));
}

TEST(access, every_algorithm_but_hs256_is_refused_before_any_key_is_used) {
    std::string a = "sk_" + std::string(86, 'a');
    auto app = app_with({{"sec_a", a}});
    auto b64 = [](std::string_view s) { return chat::core::base64url_encode(s); };
    const std::string body = b64(R"({"sub":"ann","exp":1800000000})");
    for (const char* header :
         {R"({"alg":"none"})", R"({"alg":"none","typ":"JWT"})", R"({"alg":"RS256"})", R"({"alg":"HS512"})",
          R"({"alg":"hs256"})", R"({"typ":"JWT"})", R"({"alg":1})"}) {
        for (const std::string& sig : {std::string(), b64("x")})
            EXPECT_EQ(verify_user_token(app, b64(header) + "." + body + "." + sig).error().code,
                      errc::unauthorized)
                << header;
    }
    // A tampered payload under a valid signature.
    auto good = token_for(R"({"sub":"ann","exp":1800000000})", a);
    auto tampered = good.substr(0, good.find('.') + 1) + b64(R"({"sub":"bob","exp":1800000000})") +
                    good.substr(good.rfind('.'));
    EXPECT_FALSE(verify_user_token(app, tampered));
    for (const char* junk : {"", ".", "..", "a.b", "a.b.c.d", "%%%.x.y"})
        EXPECT_FALSE(verify_user_token(app, junk)) << junk;
}

TEST(access, access_events_round_trip_and_end_exactly_the_connections_they_take_away) {
    access_event removed{access_event::kind::member, "tok", 9, 4, "ann", "", false, true, 0};
    auto back = decode_access_event(encode(removed));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->chat, 4u);
    EXPECT_TRUE(back->removed);
    EXPECT_TRUE(ends_connection(removed, user("ann"), 4));
    EXPECT_FALSE(ends_connection(removed, user("ann"), 5));
    EXPECT_FALSE(ends_connection(removed, user("bob"), 4));
    EXPECT_FALSE(ends_connection(removed, secret(), 4));

    access_event revoked{access_event::kind::user, "tok", 9, 0, "ann", "", false, false, 2000};
    back = decode_access_event(encode(revoked));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->before_ms, 2000);
    EXPECT_TRUE(ends_connection(revoked, user("ann"), 4));  // issued at 1000
    auto fresh = user("ann");
    fresh.issued_at_ms = 2000;
    EXPECT_FALSE(ends_connection(revoked, fresh, 4));

    access_event secret_gone{access_event::kind::app, "tok", 9, 0, "", "sec_a", true, false, 0};
    back = decode_access_event(encode(secret_gone));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->secret_id, "sec_a");
    EXPECT_TRUE(ends_connection(secret_gone, user("ann"), 4));  // signed by it
    EXPECT_TRUE(ends_connection(secret_gone, secret(), 0));
    EXPECT_TRUE(ends_connection(secret_gone, anonymous(), 0));  // restricted now

    access_event reopened{access_event::kind::app, "tok", 9, 0, "", "", false, false, 0};
    EXPECT_FALSE(ends_connection(reopened, anonymous(), 3));
    for (const char* junk :
         {"", "{}", R"({"kind":"x","token":"t","app_id":1})", R"({"kind":"member","token":"t","app_id":1})"})
        EXPECT_FALSE(decode_access_event(junk)) << junk;
}

TEST(access, a_chat_is_deleted_by_the_application_never_by_a_user) {
    for (auto mode : {access_mode::open, access_mode::restricted})
        EXPECT_EQ(run(user("ann"), action::delete_chat, mode, 1, true), verdict::forbidden);
    EXPECT_EQ(run(anonymous(), action::delete_chat, access_mode::open, 1, false), verdict::allow);
    EXPECT_EQ(run(anonymous(), action::delete_chat, access_mode::restricted, 1, false),
              verdict::unauthorized);
    EXPECT_EQ(run(secret(), action::delete_chat, access_mode::restricted, 1, false), verdict::allow);
}
