// The creation flow over fake stores: each case is one way a creation can go (a number, a replay, an
// unknown parent, a lost registration, a broker that does not confirm, Redis away, the rate limit).
#include "api/creation.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <deque>

#include "domain/creation.hpp"
#include "domain/event.hpp"
#include "domain/live.hpp"

using namespace chat;
using chat::api::creation_flow;
using chat::api::task;
using chat::core::errc;

namespace {

core::error away() {
    return core::make_error(errc::unavailable, "storage is unavailable, retry");
}

store::allocation allocated(std::uint64_t number, const store::allocation_request& req) {
    return store::allocation{store::allocation::kind::allocated, 7, number, req.creation_id,
                             req.created_at_ms};
}

// Answers from queues set by the test (the default when a queue is empty), and records every call.
struct fake_stores final : api::creation_stores {
    std::deque<core::result<store::rate_decision>> tokens;
    std::deque<core::result<store::allocation>> allocations;  // empty: a fresh number each time
    std::deque<core::result<store::allocation>> recoveries;
    std::deque<core::result<void>> publishes;
    std::deque<core::result<void>> registrations;

    std::vector<store::allocation_request> allocated_requests;
    struct published_event {
        std::string event, creation_id;
        redis_commands after_confirm;
    };
    std::vector<published_event> published;
    std::vector<std::uint64_t> registered;
    std::vector<std::string> creators;       // of each registration ("" for none)
    std::vector<std::string> limited_users;  // the user of each rate-limit call ("" for none)
    int recover_calls = 0;
    std::vector<std::string> unknown;
    std::uint64_t next_number = 0;

    template <class T>
    static core::result<T> next(std::deque<core::result<T>>& q, core::result<T> fallback) {
        if (q.empty()) return fallback;
        auto r = std::move(q.front());
        q.pop_front();
        return r;
    }

    task<store::rate_decision> take_token(const std::string&, const std::string& user) override {
        limited_users.push_back(user);
        co_return next(tokens, core::result<store::rate_decision>(store::rate_decision{}));
    }
    task<store::allocation> allocate(const store::allocation_request& req) override {
        allocated_requests.push_back(req);
        co_return next(allocations, core::result<store::allocation>(allocated(++next_number, req)));
    }
    boost::asio::awaitable<core::error> unknown_parent(const std::string& what) override {
        unknown.push_back(what);
        co_return core::make_error(errc::not_found, what + " not found");
    }
    task<store::allocation> recover_chat(const std::string&, std::uint64_t,
                                         const store::allocation_request& req) override {
        ++recover_calls;
        co_return next(recoveries, core::result<store::allocation>(allocated(++next_number, req)));
    }
    task<void> publish(std::string event, std::string creation_id, redis_commands after_confirm) override {
        published.push_back({std::move(event), std::move(creation_id), std::move(after_confirm)});
        co_return next(publishes, core::result<void>{});
    }
    task<void> register_chat(const std::string&, std::uint64_t chat, std::uint64_t, std::int64_t,
                             const std::optional<std::string>& creator) override {
        registered.push_back(chat);
        creators.push_back(creator.value_or(""));
        co_return next(registrations, core::result<void>{});
    }
};

template <class T>
core::result<T> run(boost::asio::awaitable<core::result<T>> flow) {
    boost::asio::io_context ioc;
    auto f = boost::asio::co_spawn(ioc, std::move(flow), boost::asio::use_future);
    ioc.run();
    return f.get();
}

api::creation_settings quick(int rate_limit = 0) {
    return {.rate_limit_rps = rate_limit,
            .registration_attempts = 3,
            .registration_pause = std::chrono::milliseconds(1)};
}

}  // namespace

TEST(creation_flow, a_message_gets_its_number_once_the_broker_confirmed) {
    fake_stores s;
    creation_flow flow(s, quick());
    auto m = run(flow.create_message("tok", 3, "hello", std::nullopt, "req-1"));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->number, 1u);
    EXPECT_FALSE(m->replayed);
    ASSERT_EQ(s.published.size(), 1u);
    auto ev = domain::decode(s.published[0].event);
    ASSERT_TRUE(ev);
    const auto* created = std::get_if<domain::message_created>(&*ev);
    ASSERT_NE(created, nullptr);
    EXPECT_EQ(created->number, 1u);
    EXPECT_EQ(created->body, "hello");
    EXPECT_EQ(s.published[0].creation_id, s.allocated_requests[0].creation_id);
    // After the confirm: the acknowledged entry (readable as such), then the live event.
    const auto& after = s.published[0].after_confirm;
    ASSERT_GE(after.size(), 2u);
    EXPECT_EQ(after.front()[0], "HSET");
    auto entry = domain::parse_pending(after.front()[3]);
    ASSERT_TRUE(entry);
    EXPECT_EQ(std::get<domain::acknowledged>(*entry).body, "hello");
    EXPECT_EQ(after.back()[0], "PUBLISH");
    EXPECT_EQ(s.allocated_requests[0].fingerprint, store::fingerprint("hello"));
}

TEST(creation_flow, a_replay_publishes_the_first_creation_again_and_says_so) {
    fake_stores s;
    s.allocations.push_back(store::allocation{store::allocation::kind::replayed, 7, 5, "first-id", 900});
    creation_flow flow(s, quick());
    auto m = run(flow.create_message("tok", 3, "hello", std::string("key-1"), "req-1"));
    ASSERT_TRUE(m);
    EXPECT_TRUE(m->replayed);
    EXPECT_EQ(m->number, 5u);
    EXPECT_EQ(m->created_at_ms, 900);
    ASSERT_EQ(s.published.size(), 1u);
    EXPECT_EQ(s.published[0].creation_id, "first-id");  // the worker recognises it: stored once
    EXPECT_FALSE(s.allocated_requests[0].idempotency_key.empty());
}

TEST(creation_flow, an_unknown_chat_is_recovered_from_storage_or_refused_without_publishing) {
    fake_stores s;
    s.allocations.push_back(store::allocation{});  // unknown parent
    creation_flow flow(s, quick());
    auto healed = run(flow.create_message("tok", 3, "hi", std::nullopt, "r"));
    ASSERT_TRUE(healed);
    EXPECT_EQ(s.recover_calls, 1);
    EXPECT_EQ(s.published.size(), 1u);

    fake_stores t;
    t.allocations.push_back(store::allocation{});
    t.recoveries.push_back(core::make_error(errc::not_found, "chat not found"));
    creation_flow refused(t, quick());
    auto none = run(refused.create_message("tok", 3, "hi", std::nullopt, "r"));
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().code, errc::not_found);
    EXPECT_TRUE(t.published.empty());
}

TEST(creation_flow, an_unknown_application_creates_no_chat) {
    fake_stores s;
    s.allocations.push_back(store::allocation{});
    creation_flow flow(s, quick());
    auto c = run(flow.create_chat("tok", std::nullopt, "r"));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, errc::not_found);
    EXPECT_EQ(s.unknown, std::vector<std::string>{"application"});
    EXPECT_TRUE(s.published.empty());
    EXPECT_TRUE(s.registered.empty());
}

TEST(creation_flow, a_chat_is_registered_after_its_confirm_and_a_lost_registration_still_answers_201) {
    fake_stores s;
    creation_flow flow(s, quick());
    auto c = run(flow.create_chat("tok", std::nullopt, "r"));
    ASSERT_TRUE(c);
    EXPECT_EQ(s.registered, std::vector<std::uint64_t>{c->number});
    EXPECT_FALSE(s.allocated_requests[0].unregistered_key.empty());  // the handed-out mark

    fake_stores lost;
    for (int i = 0; i < 3; ++i) lost.registrations.push_back(away());
    creation_flow flaky(lost, quick());
    auto d = run(flaky.create_chat("tok", std::nullopt, "r"));
    ASSERT_TRUE(d);  // durably queued: the worker registers what it stores
    EXPECT_EQ(lost.registered.size(), 3u);

    fake_stores blip;
    blip.registrations.push_back(away());
    creation_flow retried(blip, quick());
    ASSERT_TRUE(run(retried.create_chat("tok", std::nullopt, "r")));
    EXPECT_EQ(blip.registered.size(), 2u);  // stops at the first success
}

TEST(creation_flow, no_confirm_no_201_and_no_registration) {
    fake_stores s;
    s.publishes.push_back(core::make_error(errc::unavailable, "the message queue is unavailable, retry"));
    creation_flow flow(s, quick());
    auto c = run(flow.create_chat("tok", std::nullopt, "r"));
    ASSERT_FALSE(c);
    EXPECT_EQ(c.error().code, errc::unavailable);
    EXPECT_TRUE(s.registered.empty());

    fake_stores t;
    t.publishes.push_back(core::make_error(errc::unavailable, "the message queue is unavailable, retry"));
    creation_flow messages(t, quick());
    auto m = run(messages.create_message("tok", 1, "x", std::nullopt, "r"));
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, errc::unavailable);
}

TEST(creation_flow, redis_away_is_a_retryable_error_and_nothing_is_published) {
    fake_stores s;
    s.allocations.push_back(away());
    creation_flow flow(s, quick());
    auto m = run(flow.create_message("tok", 1, "x", std::nullopt, "r"));
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, errc::unavailable);
    EXPECT_TRUE(s.published.empty());
    EXPECT_EQ(s.recover_calls, 0);
}

TEST(creation_flow, the_rate_limit_refuses_before_a_number_is_taken_and_fails_open) {
    fake_stores s;
    s.tokens.push_back(store::rate_decision{false, 1500});
    creation_flow flow(s, quick(10));
    auto m = run(flow.create_message("tok", 1, "x", std::nullopt, "r"));
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code, errc::rate_limited);
    EXPECT_EQ(m.error().retry_after_s, 2);
    EXPECT_TRUE(s.allocated_requests.empty());  // no number consumed

    s.tokens.push_back(away());  // Redis cannot answer the limit: admitted
    EXPECT_TRUE(run(flow.create_message("tok", 1, "x", std::nullopt, "r")));

    fake_stores off;
    off.tokens.push_back(store::rate_decision{false, 1500});
    creation_flow unlimited(off, quick(0));
    EXPECT_TRUE(run(unlimited.create_chat("tok", std::nullopt, "r")));  // limit off: not even asked
    EXPECT_EQ(off.tokens.size(), 1u);
}

TEST(creation_flow, a_user_message_carries_its_sender_everywhere_and_draws_from_the_user_bucket) {
    fake_stores s;
    api::creation_settings settings = quick(0);
    settings.user_rate_limit_rps = 5;
    creation_flow flow(s, settings);
    auto m = run(flow.create_message("tok", 3, "hello", std::nullopt, "r", std::string("ann")));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->sender, std::optional<std::string>("ann"));
    EXPECT_EQ(s.limited_users, (std::vector<std::string>{"ann"}));
    auto ev = domain::decode(s.published[0].event);
    ASSERT_TRUE(ev);
    EXPECT_EQ(std::get<domain::message_created>(*ev).sender, std::optional<std::string>("ann"));
    auto entry = domain::parse_pending(s.published[0].after_confirm.front()[3]);
    EXPECT_EQ(std::get<domain::acknowledged>(*entry).sender, std::optional<std::string>("ann"));
    auto live = domain::decode_live(s.published[0].after_confirm.back()[2]);
    ASSERT_TRUE(live);
    EXPECT_EQ(live->sender, std::optional<std::string>("ann"));
    // The same key from another sender is another request.
    EXPECT_NE(s.allocated_requests[0].fingerprint, store::fingerprint("hello"));

    // No sender (an open application without a credential): no user bucket, the old fingerprint.
    ASSERT_TRUE(run(flow.create_message("tok", 3, "hello", std::nullopt, "r")));
    EXPECT_EQ(s.limited_users.size(), 1u);  // the application limit is off: not asked at all
    EXPECT_EQ(s.allocated_requests[1].fingerprint, store::fingerprint("hello"));
}

TEST(creation_flow, a_user_chat_names_its_creator_in_the_event_and_the_registration) {
    fake_stores s;
    creation_flow flow(s, quick());
    ASSERT_TRUE(run(flow.create_chat("tok", std::nullopt, "r", std::string("ann"))));
    auto ev = domain::decode(s.published[0].event);
    ASSERT_TRUE(ev);
    EXPECT_EQ(std::get<domain::chat_created>(*ev).creator, std::optional<std::string>("ann"));
    EXPECT_EQ(s.creators, (std::vector<std::string>{"ann"}));
    ASSERT_TRUE(run(flow.create_chat("tok", std::nullopt, "r")));
    EXPECT_EQ(s.allocated_requests[1].fingerprint, store::fingerprint("POST chats"));
}
