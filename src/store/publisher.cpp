#include "store/publisher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>

#include "core/metrics.hpp"
#include "core/spawn.hpp"
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
    std::vector<item> left;
    {
        std::lock_guard lock(mu_);
        for (auto& it : queue_) left.push_back(std::move(it));
        queue_.clear();
    }
    std::vector<core::result<void>> outcomes(left.size(), make_error(errc::unavailable, "publisher stopped"));
    complete(left, std::move(outcomes));
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
                        boost::asio::any_io_executor executor, handler_type handler) {
    {
        std::lock_guard lock(mu_);
        if (!stopping_) {
            queue_.push_back(item{std::move(body), std::move(message_id), std::move(after_confirm),
                                  std::move(executor), std::move(handler)});
            cv_.notify_one();
            return;
        }
    }
    std::vector<item> refused;
    refused.push_back(item{{}, {}, {}, std::move(executor), std::move(handler)});
    std::vector<core::result<void>> outcome(1, make_error(errc::unavailable, "publisher stopped"));
    complete(refused, std::move(outcome));
}

void publisher::complete(std::vector<item>& items, std::vector<core::result<void>> outcomes) {
    // Requests run on their connections' strands, so their executors differ; what they share is the
    // io_context. One post per run of items on one context, to the first item's executor: it resumes
    // that request and posts every other one to its own executor from there. A post from inside the
    // context takes no lock with one I/O thread, and with several it lets idle ones share the batch.
    auto context_of = [](const item& it) {
        return &boost::asio::query(it.executor, boost::asio::execution::context);
    };
    std::size_t i = 0;
    while (i < items.size()) {
        auto j = i + 1;
        while (j < items.size() && context_of(items[j]) == context_of(items[i])) ++j;
        std::vector<resumption> group;
        group.reserve(j - i);
        for (auto k = i; k < j; ++k)
            group.push_back(
                {std::move(items[k].executor), std::move(items[k].handler), std::move(outcomes[k])});
        auto first = group.front().executor;
        boost::asio::post(first, [group = std::move(group)]() mutable {
            for (std::size_t k = 1; k < group.size(); ++k) {
                auto ex = group[k].executor;  // (the lambda below takes group[k] apart)
                boost::asio::post(ex, [r = std::move(group[k])]() mutable { resume(r); });
            }
            resume(group.front());
        });
        i = j;
    }
}

void publisher::resume(resumption& r) {
    // A handler that throws must not take the rest of its batch with it (they were posted first anyway).
    try {
        r.handler(std::move(r.outcome));
    } catch (...) {
        core::log_escape{"publisher_completion"}(std::current_exception());
    }
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

core::result<void> publisher::publish_batch(amqp_session& session, const std::vector<item>& batch,
                                            std::vector<envelope>& envelopes,
                                            std::vector<std::uint64_t>& nacked) {
    nacked.clear();
    if (!session.is_open()) {
        if (auto ok = session.open(true, 0); !ok) {
            spdlog::warn("publisher: {}", ok.error().message);
            return ok.error();
        }
    }
    for (auto& env : envelopes) {
        // The message id is the first event's creation id: an operator can find the envelope from it.
        const auto& first = batch[env.first];
        auto seq = env.count == 1 ? session.publish(cfg_.queue, first.body, first.message_id)
                                  : session.publish(cfg_.queue, env.body, first.message_id, {},
                                                    domain::envelope_content_type.data());
        if (!seq) return seq.error();
        env.seq = *seq;
    }
    auto waited = session.wait_confirms(envelopes.back().seq,
                                        std::chrono::steady_clock::now() + std::chrono::seconds(10));
    if (!waited) return waited.error();
    nacked = std::move(*waited);
    return {};
}

void publisher::run() {
    amqp_session session(cfg_);
    redis_connection redis(redis_cfg_);
    int backoff_ms = 50;
    while (true) {
        std::vector<item> batch;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping and drained
            while (!queue_.empty() && batch.size() < max_batch_) {
                batch.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        // Two attempts: a connection that was fine when last used may have been closed since (broker
        // restart); the second attempt uses a fresh one. Publishing a batch twice is harmless: the
        // worker recognises the creation ids.
        core::result<void> outcome;
        auto envelopes = pack(batch);
        std::vector<std::uint64_t> nacked;
        auto started = std::chrono::steady_clock::now();
        for (int attempt = 0; attempt < 2; ++attempt) {
            bool was_open = session.is_open();
            outcome = publish_batch(session, batch, envelopes, nacked);
            if (outcome || !was_open) break;
        }
        {
            std::lock_guard lock(mu_);
            ++batches_;
            messages_ += batch.size();
            envelopes_ += envelopes.size();
        }
        core::metrics::broker_confirm(
            batch.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
            outcome.has_value() && nacked.empty());
        core::metrics::broker_messages(envelopes.size());
        // Per event: was the broker message holding it confirmed? A nacked envelope fails all of its
        // events; a failed publish or confirm fails the whole batch.
        std::vector<char> confirmed(batch.size(), 0);
        for (const auto& env : envelopes) {
            bool ok = outcome && std::find(nacked.begin(), nacked.end(), env.seq) == nacked.end();
            for (std::size_t k = env.first; ok && k < env.first + env.count; ++k) confirmed[k] = 1;
        }
        // The confirmed requests' Redis commands, in one round trip, before anyone hears back.
        redis_commands after;
        for (std::size_t i = 0; i < batch.size(); ++i)
            if (confirmed[i])
                for (auto& cmd : batch[i].after_confirm) after.push_back(std::move(cmd));
        if (!after.empty()) {
            auto replies = redis.pipeline(after);
            bool failed = !replies;
            for (std::size_t k = 0; replies && k < replies->size(); ++k)
                failed = failed || is_error((*replies)[k].get());
            if (failed)
                spdlog::warn("publisher: after-confirm Redis writes skipped ({} commands)", after.size());
        }
        std::vector<core::result<void>> outcomes;
        outcomes.reserve(batch.size());
        for (std::size_t i = 0; i < batch.size(); ++i)
            outcomes.push_back(
                confirmed[i]
                    ? core::result<void>{}
                    : core::result<void>{outcome ? make_error(errc::unavailable, "broker refused the message")
                                                 : outcome.error()});
        complete(batch, std::move(outcomes));
        if (!outcome) {
            // The broker is unreachable: wait a little before the next attempt so that a burst of
            // requests during an outage fails fast instead of hammering the broker.
            std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms));
            backoff_ms = std::min(backoff_ms * 2, 2000);
        } else {
            backoff_ms = 50;
        }
    }
}

}  // namespace chat::store
