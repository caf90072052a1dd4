#include "api/live_feed.hpp"

#include <algorithm>
#include <map>

#include "core/metrics.hpp"
#include "core/time.hpp"

namespace chat::api {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;
using core::errc;

namespace {

// A stored message as its feed sends it: a tombstone goes out as its deletion.
domain::live_event from_row(const std::string& token, std::uint64_t chat, const store::message_row& m) {
    domain::live_event e{domain::live_kind::created,
                         token,
                         chat,
                         m.number,
                         m.body,
                         m.created_at_ms,
                         m.updated_at_ms,
                         m.sender};
    if (m.deleted_at_ms) {
        e.kind = domain::live_kind::deleted;
        e.body.clear();
        e.deleted_at_ms = m.deleted_at_ms;
    }
    return e;
}

// A number storage says was deleted, without its row (the deletion is acknowledged, not stored yet).
domain::live_event tombstone(const std::string& token, std::uint64_t chat, std::uint64_t number) {
    auto now = core::now_ms();
    return domain::live_event{domain::live_kind::deleted, token, chat, number, {}, 0, now, {}, now};
}

}  // namespace

chat_feed::chat_feed(service& svc, feed_start start, feed_sink& sink, const live_settings& s, caller who,
                     std::uint64_t chat)
    : svc_(svc),
      sub_(std::move(start.sub)),
      sink_(sink),
      settings_(s),
      who_(std::move(who)),
      token_(who_.token()),
      chat_(chat),
      seq_(start.after, s.max_buffer),
      replay_first_(start.replay) {}

void chat_feed::stop() {
    stopped_ = true;
    sub_->close();  // wakes the wait in follow()
}

asio::awaitable<feed_end> chat_feed::run() {
    // (No co_await inside && or ?: here: GCC 12 miscompiles a co_await in a short-circuited operand.)
    if (replay_first_) {
        bool replayed = co_await replay();
        if (!replayed) co_return stopped_ ? feed_end::stopped : feed_end::client_gone;
    }
    auto end = co_await follow();
    co_return end;
}

// Replays what storage holds above the start, then what was handed out since.
asio::awaitable<bool> chat_feed::replay() {
    for (;;) {
        auto rows = co_await svc_.list_messages(token_, chat_, seq_.delivered(), page_);
        if (!rows) break;  // storage is away: the live loop fills the gaps later
        for (const auto& m : *rows) seq_.offer(from_row(token_, chat_, m), clock::now());
        if (!co_await flush()) co_return false;
        if (static_cast<int>(rows->size()) < page_) break;
    }
    co_await learn_top();
    co_return co_await fill_gaps(std::chrono::milliseconds(0));
}

asio::awaitable<feed_end> chat_feed::follow() {
    auto next_heartbeat = clock::now() + settings_.heartbeat;
    for (;;) {
        if (stopped_) co_return feed_end::stopped;
        for (auto& e : sub_->take()) {
            switch (e.kind) {
                case domain::live_kind::chat_deleted:
                    co_return feed_end::chat_deleted;
                case domain::live_kind::read:
                    if (!co_await send(e)) co_return feed_end::client_gone;
                    continue;
                case domain::live_kind::updated:
                    // Only for messages the client has: a later creation event carries the new body.
                    if (e.number > seq_.delivered()) continue;
                    if (!co_await send(e)) co_return feed_end::client_gone;
                    continue;
                case domain::live_kind::deleted:
                    if (e.number <= seq_.delivered()) {
                        if (!co_await send(e)) co_return feed_end::client_gone;
                        continue;
                    }
                    // Not delivered yet: its slot goes out as the deletion, whichever event fills it.
                    deleted_ahead_[e.number] = e.deleted_at_ms.value_or(e.updated_at_ms);
                    break;
                case domain::live_kind::created:
                    break;
            }
            if (!seq_.offer(e, clock::now())) co_return feed_end::slow;
        }
        if (stopped_) co_return feed_end::stopped;
        if (sub_->overflowed()) co_return feed_end::slow;
        if (sub_->closed())
            co_return sub_->reason() == live_subscription::end_reason::revoked ? feed_end::revoked
                                                                               : feed_end::shutdown;
        if (!co_await flush()) co_return feed_end::client_gone;
        if (sub_->take_resync()) co_await learn_top();
        if (!co_await fill_gaps(settings_.gap_grace)) co_return feed_end::client_gone;
        auto now = clock::now();
        if (now >= next_heartbeat) {
            // Access is withdrawn at once by the fan-out (live_hub::withdraw); this catches an event lost
            // in transit and a token that expired (from the cache: no round trip in the common case).
            bool holds = co_await svc_.still_holds(who_, chat_);
            if (!holds) co_return feed_end::revoked;
            if (!co_await sink_.idle()) co_return feed_end::client_gone;
            // A cheap safety net for a fan-out event lost in transit: the counter shows what exists.
            co_await learn_top();
            next_heartbeat = now + settings_.heartbeat;
        }
        auto wake = next_heartbeat;
        if (seq_.known_top() > seq_.delivered()) wake = std::min(wake, now + settings_.gap_grace);
        co_await sub_->wait(wake);
    }
}

asio::awaitable<bool> chat_feed::send(const domain::live_event& event) {
    if (stopped_) co_return false;
    domain::live_event e = event;
    if (auto it = deleted_ahead_.find(e.number);
        it != deleted_ahead_.end() && e.kind == domain::live_kind::created) {
        e.kind = domain::live_kind::deleted;
        e.body.clear();
        e.deleted_at_ms = it->second;
    }
    if (e.kind == domain::live_kind::created || e.kind == domain::live_kind::deleted)
        deleted_ahead_.erase(deleted_ahead_.begin(), deleted_ahead_.upper_bound(e.number));
    double lag = -1;
    if (e.kind == domain::live_kind::created && !replaying_)
        lag = std::max<std::int64_t>(0, core::now_ms() - e.created_at_ms) / 1000.0;
    bool ok = co_await sink_.deliver(e);
    if (ok) core::metrics::live_event_sent(domain::event_name(e.kind), lag);
    co_return ok;
}

asio::awaitable<bool> chat_feed::flush() {
    while (auto e = seq_.take(clock::now()))
        if (!co_await send(*e)) co_return false;
    co_return true;
}

asio::awaitable<void> chat_feed::learn_top() {
    auto top = co_await svc_.last_number(token_, chat_);
    if (top) seq_.expect_up_to(*top, clock::now());
}

// Looks up each number awaited for longer than `grace`: found, it flows; never created, it is skipped;
// still being created, it is awaited a little longer.
asio::awaitable<bool> chat_feed::fill_gaps(clock::duration grace) {
    while (auto gap = seq_.gap(clock::now(), grace)) {
        auto m = co_await svc_.get_message(token_, chat_, *gap);
        if (stopped_) co_return false;
        if (m) {
            seq_.offer(from_row(token_, chat_, *m), clock::now());
        } else if (m.error().code == errc::gone) {
            seq_.offer(tombstone(token_, chat_, *gap), clock::now());
        } else if (m.error().code == errc::not_found) {
            seq_.skip(*gap, clock::now());
        } else {
            seq_.retry_later(clock::now());
            break;
        }
        if (!co_await flush()) co_return false;
    }
    replaying_ = false;
    co_return true;
}

}  // namespace chat::api
