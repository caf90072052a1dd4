#include "store/publisher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "core/metrics.hpp"
#include "store/amqp.hpp"
#include "store/redis.hpp"

namespace chat::store {

using core::errc;
using core::make_error;

publisher::publisher(core::amqp_config cfg, core::redis_config redis, int connections, std::size_t max_batch)
    : cfg_(std::move(cfg)), redis_cfg_(std::move(redis)), connections_(connections), max_batch_(max_batch) {}

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

core::result<void> publisher::publish_batch(amqp_session& session, std::vector<item>& batch,
                                            std::vector<std::uint64_t>& seqs,
                                            std::vector<std::uint64_t>& nacked) {
    seqs.clear();
    nacked.clear();
    if (!session.is_open()) {
        if (auto ok = session.open(true, 0); !ok) {
            spdlog::warn("publisher: {}", ok.error().message);
            return ok.error();
        }
    }
    for (auto& it : batch) {
        auto seq = session.publish(cfg_.queue, it.body, it.message_id);
        if (!seq) return seq.error();
        seqs.push_back(*seq);
    }
    auto waited =
        session.wait_confirms(seqs.back(), std::chrono::steady_clock::now() + std::chrono::seconds(10));
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
        std::vector<std::uint64_t> seqs;
        std::vector<std::uint64_t> nacked;
        auto started = std::chrono::steady_clock::now();
        for (int attempt = 0; attempt < 2; ++attempt) {
            bool was_open = session.is_open();
            outcome = publish_batch(session, batch, seqs, nacked);
            if (outcome || !was_open) break;
        }
        {
            std::lock_guard lock(mu_);
            ++batches_;
            messages_ += batch.size();
        }
        core::metrics::broker_confirm(
            batch.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
            outcome.has_value() && nacked.empty());
        // The confirmed requests' Redis commands, in one round trip, before anyone hears back.
        redis_commands after;
        for (std::size_t i = 0; outcome && i < batch.size(); ++i)
            if (std::find(nacked.begin(), nacked.end(), seqs[i]) == nacked.end())
                for (auto& cmd : batch[i].after_confirm) after.push_back(std::move(cmd));
        if (!after.empty()) {
            auto replies = redis.pipeline(after);
            bool failed = !replies;
            for (std::size_t k = 0; replies && k < replies->size(); ++k)
                failed = failed || is_error((*replies)[k].get());
            if (failed)
                spdlog::warn("publisher: after-confirm Redis writes skipped ({} commands)", after.size());
        }
        for (std::size_t i = 0; i < batch.size(); ++i) {
            bool ok = outcome && std::find(nacked.begin(), nacked.end(), seqs[i]) == nacked.end();
            complete(batch[i], ok ? core::result<void>{}
                                  : core::result<void>{
                                        outcome ? make_error(errc::unavailable, "broker refused the message")
                                                : outcome.error()});
        }
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
