#include "store/publisher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>

#include "core/metrics.hpp"
#include "domain/event.hpp"
#include "store/amqp.hpp"
#include "store/redis.hpp"

namespace chat::store {

using core::errc;
using core::make_error;

publisher::publisher(core::amqp_config cfg, core::redis_config redis, int connections, std::size_t max_batch,
                     std::size_t envelope_max_events)
    : cfg_(std::move(cfg)),
      redis_cfg_(std::move(redis)),
      connections_(connections),
      max_batch_(max_batch),
      envelope_max_events_(
          std::clamp<std::size_t>(envelope_max_events, 1, domain::max_decoded_envelope_events)) {}

publisher::~publisher() {
    stop();
}

void publisher::start() {
    for (int i = 0; i < connections_; ++i) threads_.emplace_back([this] { run(); });
}

void publisher::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
    // Anything still queued (no thread could take it) fails cleanly.
    std::deque<item> left;
    {
        std::lock_guard lock(mu_);
        left.swap(queue_);
    }
    for (auto& it : left) complete(it, make_error(errc::unavailable, "publisher stopped"));
}

std::uint64_t publisher::batches() const {
    std::lock_guard lock(mu_);
    return batches_;
}

std::uint64_t publisher::messages() const {
    std::lock_guard lock(mu_);
    return messages_;
}

std::uint64_t publisher::envelopes() const {
    std::lock_guard lock(mu_);
    return envelopes_;
}

void publisher::enqueue(std::string body, std::string message_id, redis_commands after_confirm,
                        handler_type handler) {
    {
        std::lock_guard lock(mu_);
        if (!stopping_) {
            queue_.push_back(
                item{std::move(body), std::move(message_id), std::move(after_confirm), std::move(handler)});
            cv_.notify_one();
            return;
        }
    }
    item it{{}, {}, {}, std::move(handler)};
    complete(it, make_error(errc::unavailable, "publisher stopped"));
}

void publisher::complete(item& it, core::result<void> r) {
    it.handler(std::move(r));
}

std::vector<publisher::envelope> publisher::pack(const std::vector<item>& batch) const {
    std::vector<envelope> out;
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        auto size = batch[i].body.size() + 24;  // the item's length line and newline, generously
        if (out.empty() || out.back().count >= envelope_max_events_ || bytes + size > max_envelope_bytes) {
            out.push_back({i, 0, {}, 0});
            bytes = 0;
        }
        ++out.back().count;
        bytes += size;
    }
    std::vector<std::string_view> views;
    for (auto& env : out) {
        if (env.count == 1) continue;
        views.clear();
        for (std::size_t k = env.first; k < env.first + env.count; ++k) views.push_back(batch[k].body);
        env.body = domain::encode_envelope(views);
    }
    return out;
}

void publisher::finish(group& g, const core::result<void>& outcome, const amqp_session& session,
                       redis_connection& redis) {
    {
        std::lock_guard lock(mu_);
        ++batches_;
        messages_ += g.batch.size();
        envelopes_ += g.envelopes.size();
    }
    // Per event: was the broker message holding it confirmed? A nacked envelope fails all of its
    // events; a failed publish or confirm fails the whole group.
    std::vector<char> confirmed(g.batch.size(), 0);
    bool all = outcome.has_value();
    for (const auto& env : g.envelopes) {
        bool ok = outcome && !session.nacked(env.seq);
        all = all && ok;
        for (std::size_t k = env.first; ok && k < env.first + env.count; ++k) confirmed[k] = 1;
    }
    core::metrics::broker_confirm(
        g.batch.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - g.started).count(),
        all);
    core::metrics::broker_messages(g.envelopes.size());
    // The confirmed requests' Redis commands, in one round trip, before anyone hears back.
    redis_commands after;
    for (std::size_t i = 0; i < g.batch.size(); ++i)
        if (confirmed[i])
            for (auto& cmd : g.batch[i].after_confirm) after.push_back(std::move(cmd));
    if (!after.empty()) {
        auto replies = redis.pipeline(after);
        bool failed = !replies;
        for (std::size_t k = 0; replies && k < replies->size(); ++k)
            failed = failed || is_error((*replies)[k].get());
        if (failed) spdlog::warn("publisher: after-confirm Redis writes skipped ({} commands)", after.size());
    }
    for (std::size_t i = 0; i < g.batch.size(); ++i)
        complete(g.batch[i], confirmed[i]
                                 ? core::result<void>{}
                                 : core::result<void>{
                                       outcome ? make_error(errc::unavailable, "broker refused the message")
                                               : outcome.error()});
}

core::result<void> publisher::send(amqp_session& session, group& g) {
    if (!session.is_open()) {
        g.fresh_connection = true;
        if (auto ok = session.open(true, 0); !ok) {
            spdlog::warn("publisher: {}", ok.error().message);
            return ok.error();
        }
    }
    ++g.attempts;
    for (auto& env : g.envelopes) {
        // The message id is the first event's creation id: an operator can find the envelope from it.
        const auto& first = g.batch[env.first];
        auto seq = env.count == 1 ? session.publish(cfg_.queue, first.body, first.message_id)
                                  : session.publish(cfg_.queue, env.body, first.message_id, {},
                                                    domain::envelope_content_type.data());
        if (!seq) return seq.error();
        env.seq = *seq;
    }
    return {};
}

void publisher::run() {
    amqp_session session(cfg_);
    redis_connection redis(redis_cfg_);
    std::deque<group> window;  // published, waiting for their confirms, oldest first
    int backoff_ms = 50;
    // The connection failed with groups in flight: publish them again on a fresh one (harmless: the
    // worker recognises the creation ids). A group gets two attempts, and none when it already went
    // out on a connection opened for it, so an outage fails requests fast instead of piling up.
    auto recover = [&](core::error why) {
        session.close();
        for (auto it = window.begin(); it != window.end();) {
            if (it->attempts >= 2 || it->fresh_connection) {
                finish(*it, core::result<void>{why}, session, redis);
                it = window.erase(it);
            } else {
                ++it;
            }
        }
        for (auto it = window.begin(); it != window.end();) {
            it->started = std::chrono::steady_clock::now();
            if (auto ok = send(session, *it); !ok) {
                // Nothing more can go out now: fail everything still in flight.
                session.close();
                for (auto& g : window) finish(g, core::result<void>{ok.error()}, session, redis);
                window.clear();
                // The broker is unreachable: wait a little before the next attempt so that a burst
                // of requests during an outage fails fast instead of hammering the broker.
                std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
                backoff_ms = std::min(backoff_ms * 2, 2000);
                return;
            }
            ++it;
        }
    };
    while (true) {
        // Take the next group: wait for requests only when nothing is in flight, and keep at most
        // confirm_window groups waiting for their confirms.
        std::optional<group> next;
        bool more_queued = false;
        {
            std::unique_lock lock(mu_);
            if (window.empty()) {
                cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
                if (queue_.empty()) return;  // stopping and drained
            }
            if (window.size() < confirm_window && !queue_.empty()) {
                next.emplace();
                while (!queue_.empty() && next->batch.size() < max_batch_) {
                    next->batch.push_back(std::move(queue_.front()));
                    queue_.pop_front();
                }
            }
            more_queued = !queue_.empty();
        }
        if (next) {
            next->envelopes = pack(next->batch);
            next->started = std::chrono::steady_clock::now();
            window.push_back(std::move(*next));
            if (auto ok = send(session, window.back()); !ok) {
                recover(ok.error());
                continue;
            }
        }
        // Confirms: only those already here while more requests wait to go out; a short wait while
        // another group could still be taken (requests arriving meanwhile are picked up within it);
        // otherwise until a confirm arrives.
        auto wait = more_queued && window.size() < confirm_window ? std::chrono::microseconds(0)
                    : window.size() < confirm_window              ? std::chrono::microseconds(1000)
                                                                  : std::chrono::microseconds(50000);
        if (auto ok = session.poll_confirms(wait); !ok) {
            recover(ok.error());
            continue;
        }
        while (!window.empty() && session.confirmed_up_to() >= window.front().envelopes.back().seq) {
            finish(window.front(), {}, session, redis);
            session.forget_nacks_up_to(window.front().envelopes.back().seq);
            window.pop_front();
            backoff_ms = 50;
        }
        if (!window.empty() &&
            std::chrono::steady_clock::now() - window.front().started > std::chrono::seconds(10))
            recover(core::make_error(errc::unavailable, "timed out waiting for publisher confirms"));
    }
}

}  // namespace chat::store
