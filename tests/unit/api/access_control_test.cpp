// access_control over fake stores: a request authenticates and is authorized from what the server
// cached (no round trip in the common case), a change announced by any server is seen at once, a store
// that cannot answer keeps a recently read application usable, and revocations hold.
#include "api/access_control.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "core/crypto.hpp"

using namespace chat;

namespace {

const std::string secret_a = "sk_" + std::string(86, 'a');
const std::string secret_b = "sk_" + std::string(86, 'b');

struct fake_stores final : api::access_stores {
    domain::access_mode mode = domain::access_mode::restricted;
    std::vector<std::pair<std::string, std::string>> secrets{{"sec_a", secret_a}};
    std::set<std::tuple<std::uint64_t, std::string>> members{{1, "ann"}};
    std::int64_t revoked_before = 0;
    bool down = false;
    int app_loads = 0, member_loads = 0, revocation_loads = 0, uses = 0;

    api::task<std::optional<domain::app_access>> load_app(const std::string& token) override {
        ++app_loads;
        if (down) co_return core::make_error(core::errc::unavailable, "down");
        if (token != "tok") co_return std::optional<domain::app_access>{};
        domain::app_access a{7, token, mode, {}};
        for (const auto& [id, s] : secrets) a.secrets.push_back({id, core::sha256(s), 1});
        co_return std::optional<domain::app_access>(a);
    }
    api::task<std::int64_t> load_revocation(std::uint64_t, const std::string&) override {
        ++revocation_loads;
        co_return revoked_before;
    }
    api::task<api::membership> load_membership(const domain::app_access&, std::uint64_t chat,
                                               const std::string& user) override {
        ++member_loads;
        co_return api::membership{members.count({chat, user}) > 0, chat <= 3};
    }
    void secret_used(std::uint64_t, const std::string&) override { ++uses; }
};

template <class T>
T run(boost::asio::awaitable<T> a) {
    boost::asio::io_context ioc;
    auto f = boost::asio::co_spawn(ioc, std::move(a), boost::asio::use_future);
    ioc.run();
    return f.get();
}

std::int64_t now_ms = 1'800'000'000'000;

std::string user_token(const std::string& sub, const std::string& secret, double iat_s = 1'799'999'000,
                       std::optional<std::vector<int>> chats = std::nullopt) {
    boost::json::object claims{{"sub", sub}, {"exp", now_ms / 1000 + 3600}, {"iat", iat_s}};
    if (chats) claims["chats"] = boost::json::value_from(*chats);
    return *core::sign_hs256(boost::json::serialize(claims), core::sha256(secret), "");
}

struct harness {
    fake_stores stores;
    api::access_control access{stores, [] { return now_ms; }};

    core::result<api::caller> who(const std::string& credential, const std::string& token = "tok") {
        return run(access.authenticate(token, credential));
    }
    std::optional<core::error> may(const api::caller& c, domain::action a,
                                   std::optional<std::uint64_t> chat) {
        return run(access.authorize(c, a, chat, "chat not found"));
    }
};

}  // namespace

TEST(access_control, unknown_application_and_bad_credentials) {
    harness t;
    EXPECT_EQ(t.who("", "nope").error().code, core::errc::not_found);
    EXPECT_EQ(t.who("sk_" + std::string(86, 'z')).error().code, core::errc::unauthorized);
    EXPECT_EQ(t.who(user_token("ann", secret_b)).error().code, core::errc::unauthorized);
    EXPECT_EQ(t.who("not.a.jwt").error().code, core::errc::unauthorized);
    auto anon = t.who("");
    ASSERT_TRUE(anon);
    EXPECT_EQ(t.may(*anon, domain::action::read_app, std::nullopt)->code, core::errc::unauthorized);
}

TEST(access_control, the_common_request_is_answered_from_the_cache) {
    harness t;
    auto ann = t.who(user_token("ann", secret_a));
    ASSERT_TRUE(ann) << ann.error().message;
    EXPECT_FALSE(t.may(*ann, domain::action::write_chat, 1));
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(t.who(user_token("ann", secret_a)));
        EXPECT_FALSE(t.may(*ann, domain::action::write_chat, 1));
    }
    EXPECT_EQ(t.stores.app_loads, 1);
    EXPECT_EQ(t.stores.member_loads, 1);
    EXPECT_EQ(t.stores.revocation_loads, 1);
    EXPECT_EQ(t.stores.uses, 6);
}

TEST(access_control, a_stranger_finds_nothing_and_a_new_member_is_seen_once_announced) {
    harness t;
    auto bob = t.who(user_token("bob", secret_a));
    ASSERT_TRUE(bob);
    auto refused = t.may(*bob, domain::action::read_chat, 1);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->code, core::errc::not_found);
    EXPECT_EQ(refused->message, "chat not found");
    t.stores.members.insert({1, "bob"});
    EXPECT_TRUE(t.may(*bob, domain::action::read_chat, 1));  // still cached
    t.access.forget({domain::access_event::kind::member, "tok", 7, 1, "bob", "", true, false, 0});
    EXPECT_FALSE(t.may(*bob, domain::action::read_chat, 1));
}

TEST(access_control, no_negative_answer_is_kept_for_a_chat_that_does_not_exist_yet) {
    harness t;
    auto ann = t.who(user_token("ann", secret_a));
    EXPECT_TRUE(t.may(*ann, domain::action::read_chat, 9));  // chat 9 does not exist
    t.stores.members.insert({9, "ann"});                     // ann creates it
    EXPECT_FALSE(t.may(*ann, domain::action::read_chat, 9));
}

TEST(access_control, revocation_refuses_older_tokens_and_ends_what_they_opened) {
    harness t;
    auto ann = t.who(user_token("ann", secret_a, 1'799'999'000));
    ASSERT_TRUE(ann);
    EXPECT_TRUE(run(t.access.still_holds(*ann, 1)));
    t.stores.revoked_before = 1'799'999'500'000;
    t.access.forget(
        {domain::access_event::kind::user, "tok", 7, 0, "ann", "", true, false, t.stores.revoked_before});
    EXPECT_EQ(t.who(user_token("ann", secret_a, 1'799'999'000)).error().code, core::errc::unauthorized);
    EXPECT_TRUE(t.who(user_token("ann", secret_a, 1'799'999'500)));  // issued at the revocation
    EXPECT_FALSE(run(t.access.still_holds(*ann, 1)));
}

TEST(access_control, a_deleted_secret_takes_its_tokens_with_it) {
    harness t;
    t.stores.secrets.push_back({"sec_b", secret_b});
    auto by_b = t.who(user_token("ann", secret_b));
    ASSERT_TRUE(by_b);
    EXPECT_EQ(by_b->who.secret_id, "sec_b");
    t.stores.secrets.pop_back();
    t.access.forget({domain::access_event::kind::app, "tok", 7, 0, "", "sec_b", true, false, 0});
    EXPECT_EQ(t.who(user_token("ann", secret_b)).error().code, core::errc::unauthorized);
    EXPECT_EQ(t.who(secret_b).error().code, core::errc::unauthorized);
    EXPECT_FALSE(run(t.access.still_holds(*by_b, 1)));
    EXPECT_TRUE(t.who(secret_a));
}

TEST(access_control, a_store_that_cannot_answer_leaves_a_recent_application_usable) {
    harness t;
    ASSERT_TRUE(t.who(secret_a));
    t.stores.down = true;
    t.access.forget_all();  // nothing cached: the outage is an outage
    EXPECT_EQ(t.who(secret_a).error().code, core::errc::unavailable);
}

TEST(access_control, expired_tokens_end_their_connections) {
    harness t;
    auto token = user_token("ann", secret_a);  // an hour to live
    auto ann = t.who(token);
    ASSERT_TRUE(ann);
    now_ms += 2 * 3600 * 1000;
    EXPECT_FALSE(run(t.access.still_holds(*ann, 1)));
    auto later = t.who(token);
    now_ms -= 2 * 3600 * 1000;
    ASSERT_FALSE(later);
    EXPECT_EQ(later.error().code, core::errc::unauthorized);
}

TEST(access_control, a_chats_claim_is_checked_without_a_lookup) {
    harness t;
    auto scoped = t.who(user_token("ann", secret_a, 1'799'999'000, std::vector<int>{2}));
    ASSERT_TRUE(scoped);
    EXPECT_EQ(t.may(*scoped, domain::action::read_chat, 1)->code, core::errc::not_found);
    EXPECT_EQ(t.stores.member_loads, 0);
}
