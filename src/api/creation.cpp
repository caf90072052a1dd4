#include "api/creation.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/keys.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "domain/creation.hpp"
#include "domain/event.hpp"
#include "store/live.hpp"
#include "store/read_state.hpp"

namespace chat::api {

namespace asio = boost::asio;
using core::errc;
using core::make_error;

std::optional<core::error> rate_limit_refusal(const core::result<store::rate_decision>& d) {
    if (!d || d->allowed) return std::nullopt;  // fails open; the error is in chat_dependency_errors_total
    core::metrics::rate_limited().Increment();
    auto err = make_error(errc::rate_limited, "too many requests; retry later");
    err.retry_after_s = static_cast<int>((d->retry_after_ms + 999) / 1000);
    return err;
}

asio::awaitable<std::optional<core::error>> creation_flow::admit(const std::string& token,
                                                                 const std::optional<std::string>& user) {
    bool user_limited = user && settings_.user_rate_limit_rps > 0;
    if (settings_.rate_limit_rps <= 0 && !user_limited) co_return std::nullopt;
    // (A named value: GCC 12 miscompiles a temporary made inside a co_await expression.)
    std::string limited_user;
    if (user_limited) limited_user = *user;
    auto decision = co_await stores_.take_token(token, limited_user);
    co_return rate_limit_refusal(decision);
}

task<created_chat> creation_flow::create_chat(std::string token, std::optional<std::string> idempotency_key,
                                              std::string request_id, std::optional<std::string> creator) {
    if (auto limited = co_await admit(token, creator)) co_return *limited;
    store::allocation_request req{
        .counter_key = core::keys::app(token),
        .idempotency_key = idempotency_key ? core::keys::app_idempotency(token, *idempotency_key) : "",
        .unregistered_key = core::keys::app_unregistered(token),
        .pending_key = "",
        .creation_id = core::make_creation_id(),
        // The creator is part of the request (the same key from another user is another request); without
        // one the fingerprint is the one servers before users computed.
        .fingerprint = store::fingerprint(creator ? "POST chats\n" + *creator : std::string("POST chats")),
        .created_at_ms = core::now_ms()};
    auto alloc = co_await stores_.allocate(req);
    if (!alloc) co_return alloc.error();
    if (alloc->status == store::allocation::kind::unknown_parent) {
        const std::string parent = "application";
        co_return co_await stores_.unknown_parent(parent);
    }
    // A replay publishes the same event again: if the first attempt never reached the broker this
    // completes it, and if it did the worker recognises the creation id and stores nothing twice.
    domain::chat_created ev{
        alloc->app_id,         token,  alloc->number, alloc->creation_id, alloc->created_at_ms,
        std::move(request_id), creator};
    creation_stores::redis_commands nothing_after_confirm;  // (GCC 12: no braced list in a co_await)
    auto published =
        co_await stores_.publish(domain::encode(ev), alloc->creation_id, std::move(nothing_after_confirm));
    if (!published) co_return published.error();
    // A few quick attempts ride out a Redis blip (a failover, a restart) before leaving it to the
    // worker, which registers every chat it stores, and to the recovery of message creation. The chat
    // is durably queued either way.
    auto registered =
        co_await stores_.register_chat(token, alloc->number, alloc->app_id, alloc->created_at_ms, creator);
    for (int attempt = 1; !registered && attempt < settings_.registration_attempts; ++attempt) {
        asio::steady_timer pause(co_await asio::this_coro::executor, settings_.registration_pause * attempt);
        co_await pause.async_wait(asio::use_awaitable);
        registered = co_await stores_.register_chat(token, alloc->number, alloc->app_id, alloc->created_at_ms,
                                                    creator);
    }
    if (!registered) spdlog::warn("chat registration deferred to the worker: {}", registered.error().message);
    co_return created_chat{alloc->number, alloc->created_at_ms,
                           alloc->status == store::allocation::kind::replayed};
}

task<created_message> creation_flow::create_message(std::string token, std::uint64_t chat, std::string body,
                                                    std::optional<std::string> idempotency_key,
                                                    std::string request_id,
                                                    std::optional<std::string> sender) {
    if (auto limited = co_await admit(token, sender)) co_return *limited;
    store::allocation_request req{
        .counter_key = core::keys::chat(token, chat),
        .idempotency_key = idempotency_key ? core::keys::chat_idempotency(token, chat, *idempotency_key) : "",
        .unregistered_key = "",
        .pending_key = core::keys::chat_pending(token, chat),
        .creation_id = core::make_creation_id(),
        // The sender is part of the request: the same key from another user is another request.
        .fingerprint = store::fingerprint(sender ? *sender + '\n' + body : body),
        .created_at_ms = core::now_ms()};
    auto alloc = co_await stores_.allocate(req);
    if (!alloc) co_return alloc.error();
    if (alloc->status == store::allocation::kind::unknown_parent)
        alloc = co_await stores_.recover_chat(token, chat, req);
    if (!alloc) co_return alloc.error();
    if (alloc->status == store::allocation::kind::unknown_parent) {
        const std::string parent = "chat";
        co_return co_await stores_.unknown_parent(parent);
    }
    domain::message_created ev{
        alloc->app_id,         token, chat, alloc->number, body, alloc->creation_id, alloc->created_at_ms,
        std::move(request_id), sender};
    // After the confirm, in one Redis pipeline with the other confirmed messages of the batch: the
    // acknowledged entry over the allocation's placeholder (read-your-writes, see domain/creation.hpp),
    // then the live event for subscribers on every API server (after the entry, so whoever hears of
    // the message can read it). If that write is lost, the placeholder stays and reads answer 503
    // (retry) until the worker stored the message.
    auto after_confirm = store::pending_commands(
        token, chat, alloc->number, domain::encode(domain::acknowledged{body, alloc->created_at_ms, sender}));
    // A user has read what it sends: its own messages never count as unread to it.
    if (sender) after_confirm.push_back(store::sender_read_command(token, chat, *sender, alloc->number));
    after_confirm.push_back(store::live_publish_command(
        domain::live_event{domain::live_kind::created, token, chat, alloc->number, body, alloc->created_at_ms,
                           alloc->created_at_ms, sender}));
    auto published =
        co_await stores_.publish(domain::encode(ev), alloc->creation_id, std::move(after_confirm));
    if (!published) co_return published.error();
    co_return created_message{alloc->number, std::move(body), alloc->created_at_ms,
                              alloc->status == store::allocation::kind::replayed, std::move(sender)};
}

}  // namespace chat::api
