#include "worker/index_catchup.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "core/metrics.hpp"
#include "core/time.hpp"
#include "store/batch_store.hpp"

namespace chat::worker {

namespace {
constexpr std::size_t entries_per_bulk = 1000;
constexpr int bulks_per_lock = 50;  // then the lock is released, so another worker may take a turn
constexpr const char* lock_name = "chat.index_catchup";
}  // namespace

index_catchup::index_catchup(const core::config& cfg, std::atomic<bool>& stop, index_health& health)
    : cfg_(cfg), stop_(stop), health_(health), db_(cfg.mysql), outbox_(db_), es_(cfg.es_url, cfg.es_index) {}

void index_catchup::sleep_for(std::chrono::milliseconds d) {
    for (auto waited = std::chrono::milliseconds(0); waited < d && !stop_;
         waited += std::chrono::milliseconds(50))
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

core::result<std::optional<std::size_t>> index_catchup::drain() {
    store::named_lock lock(db_, lock_name);
    auto locked = lock.try_acquire();
    if (!locked) return locked.error();
    if (!*locked) return std::optional<std::size_t>{};
    std::size_t indexed = 0;
    core::result<void> outcome;
    for (int round = 0; round < bulks_per_lock && !stop_; ++round) {
        auto entries = outbox_.oldest(entries_per_bulk);
        if (!entries) {
            outcome = entries.error();
            break;
        }
        if (entries->empty()) break;
        std::vector<store::message_doc> docs;
        for (const auto& e : *entries)
            if (e.doc) docs.push_back(*e.doc);
        if (auto ok = es_.bulk_index(docs); !ok) {
            health_.failed();
            outcome = ok.error();
            break;
        }
        health_.recovered();
        if (auto ok = outbox_.clear(*entries); !ok) {
            outcome = ok.error();  // indexed again next time: harmless
            break;
        }
        indexed += docs.size();
        core::metrics::index_caught_up(docs.size());
        if (entries->size() < entries_per_bulk) break;
    }
    if (auto age = outbox_.backlog_age_s(core::now_ms()); age) core::metrics::index_backlog_age().Set(*age);
    if (!outcome) return outcome.error();
    return std::optional<std::size_t>{indexed};
}

void index_catchup::run() {
    auto delay = std::chrono::milliseconds(200);
    while (!stop_) {
        auto done = drain();
        if (!done) {
            spdlog::warn("index catch-up: {}", done.error().message);
            db_.disconnect();  // the lock, if held, goes with the session
            sleep_for(delay);
            delay = std::min(delay * 2, std::chrono::milliseconds(cfg_.retry_max_backoff_ms));
            continue;
        }
        delay = std::chrono::milliseconds(200);
        // Idle (nothing waiting, or another worker's turn): look again shortly. A full pass: go on.
        if (!*done || **done < entries_per_bulk * bulks_per_lock) sleep_for(std::chrono::milliseconds(200));
    }
}

}  // namespace chat::worker
