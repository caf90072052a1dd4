#include "worker/jobs.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <thread>

#include "core/metrics.hpp"
#include "core/time.hpp"
#include "store/erasure_store.hpp"
#include "store/numbering.hpp"
#include "store/read_state.hpp"
#include "store/scan_store.hpp"

namespace chat::worker {

using core::errc;
using core::make_error;

jobs::jobs(const core::config& cfg, std::atomic<bool>& stop)
    : cfg_(cfg), stop_(stop), db_(cfg.mysql), redis_(cfg.redis), amqp_(cfg.amqp) {}

core::result<std::optional<std::size_t>> jobs::refresh_counts() {
    store::named_lock lock(db_, "chat.count_refresh");
    auto locked = lock.try_acquire();
    if (!locked) return locked.error();
    if (!*locked) return std::optional<std::size_t>{};  // another worker is on it
    std::size_t refreshed = 0;
    core::result<std::optional<std::size_t>> out = std::optional<std::size_t>{refreshed};
    // One pass over the marks in key order per run: a mark re-marked while we count it (a busy chat)
    // keeps its row and is counted again next run, instead of keeping this run going forever.
    std::uint64_t after_app = 0, after_chat = 0;
    while (!stop_) {
        auto marks = store::count_marks_after(db_, {after_app, after_chat}, 500);
        if (!marks) {
            out = marks.error();
            break;
        }
        if (marks->empty()) break;
        bool failed = false;
        for (const auto& m : *marks) {
            after_app = m.app_id;
            after_chat = m.chat;
            auto r = store::refresh_count(db_, m);
            if (!r) {
                out = r.error();
                failed = true;
                break;
            }
            ++refreshed;
        }
        if (failed) break;
        out = std::optional<std::size_t>{refreshed};
    }
    return out;
}

core::result<void> jobs::wait_for_drained_queue() {
    // While Redis has no numbering state the API accepts no creation, so the queue drains. Seeding
    // from MySQL before the queued creations are stored would hand out their numbers again.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int empty_checks = 0;
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
        if (!amqp_.is_open())
            if (auto ok = amqp_.open(false); !ok) return ok.error();
        auto depth = amqp_.queue_depth(cfg_.amqp.queue);
        if (!depth) return depth.error();
        // Twice empty, a batch delay apart plus margin: deliveries in flight in a worker are stored by then.
        empty_checks = *depth == 0 ? empty_checks + 1 : 0;
        if (empty_checks >= 2) return {};
        std::this_thread::sleep_for(std::chrono::milliseconds(cfg_.batch_delay_ms + 1000));
    }
    spdlog::warn(
        "recovery: queue did not drain in 60 s; seeding anyway (conflicts are caught by the worker)");
    return {};
}

core::result<bool> jobs::recover_numbering() {
    auto seeded = store::is_seeded(redis_);
    if (!seeded) return seeded.error();
    if (*seeded) return false;
    store::named_lock lock(db_, "chat.recovery");
    auto locked = lock.try_acquire();
    if (!locked) return locked.error();
    if (!*locked) return false;
    seeded = store::is_seeded(redis_);
    if (!seeded) return seeded.error();
    if (*seeded) return false;
    spdlog::warn("recovery: Redis has no numbering state; loading it from MySQL");
    if (auto ok = wait_for_drained_queue(); !ok) return ok.error();
    std::size_t apps = 0, chats = 0;
    std::uint64_t after = 0;
    while (!stop_) {
        auto page = store::apps_after(db_, after, 1000);
        if (!page) return page.error();
        if (page->empty()) break;
        for (const auto& app : *page) {
            if (auto ok = store::raise_app_counter(redis_, app.token, app.id, app.last_chat); !ok)
                return ok.error();
            after = app.id;
            ++apps;
        }
    }
    store::chat_key last{0, 0};
    while (!stop_) {
        auto page = store::chats_after(db_, last, 1000);
        if (!page) return page.error();
        if (page->empty()) break;
        // Deletions and read markers of the page's chats, restored with them.
        std::vector<store::chat_key> keys;
        for (const auto& c : *page) keys.emplace_back(c.app_id, c.number);
        auto lives = store::lifecycles(db_, keys);
        if (!lives) return lives.error();
        for (const auto& c : *page) {
            last = {c.app_id, c.number};
            if (auto life = lives->find(last); life != lives->end())
                if (auto ok = store::restore_lifecycle(redis_, c.token, c.number, life->second); !ok)
                    return ok.error();
            if (auto ok = store::register_chat(redis_, c.token, c.number, c.app_id, c.created_at_ms,
                                               c.last_message);
                !ok)
                return ok.error();
            ++chats;
        }
    }
    if (stop_) return false;
    if (auto ok = store::mark_seeded(redis_); !ok) return ok.error();
    spdlog::warn("recovery: numbering state loaded ({} applications, {} chats)", apps, chats);
    return true;
}

core::result<void> jobs::note_deleted(const std::string& token, const std::vector<store::message_key>& keys) {
    std::map<std::uint64_t, std::vector<std::uint64_t>> by_chat;
    for (const auto& [a, c, n] : keys) by_chat[c].push_back(n);
    for (const auto& [chat, numbers] : by_chat)
        if (auto ok = store::add_deleted(redis_, token, chat, numbers); !ok) return ok.error();
    return {};
}

core::result<std::optional<std::size_t>> jobs::run_erasures() {
    store::named_lock lock(db_, "chat.erasure");
    auto locked = lock.try_acquire();
    if (!locked) return locked.error();
    if (!*locked) return std::optional<std::size_t>{};
    // A pass erases for at most a few seconds, a bounded batch at a time, so that it yields the lock
    // and a long erasure (a chat of millions) shows progress in its status meanwhile.
    constexpr int batch = 1000;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::size_t erased = 0;
    auto jobs_todo = store::unfinished_erasures(db_, 20);
    if (!jobs_todo) return jobs_todo.error();
    for (const auto& job : *jobs_todo) {
        if (job.what == store::erasure_job::kind::user) {
            // Its read markers go first, in Redis (where reads find them) and in MariaDB.
            auto chats = store::marker_chats(db_, job.app_id, job.user);
            if (!chats) return chats.error();
            if (auto ok = store::drop_markers(redis_, job.token, *chats, job.user); !ok) return ok.error();
            if (auto ok = store::delete_markers(db_, job.app_id, job.user); !ok) return ok.error();
        }
        for (;;) {
            if (stop_ || std::chrono::steady_clock::now() >= until) return std::optional<std::size_t>{erased};
            auto keys = store::erase_step(db_, job, batch, core::now_ms());
            if (!keys) return keys.error();
            if (keys->empty()) {
                if (auto ok = store::finish_erasure(db_, job.id, core::now_ms()); !ok) return ok.error();
                spdlog::info("erasure {} finished: {} messages erased", job.id, job.erased + erased);
                break;
            }
            erased += keys->size();
            if (auto ok = note_deleted(job.token, *keys); !ok) return ok.error();
        }
    }
    return std::optional<std::size_t>{erased};
}

core::result<std::optional<std::size_t>> jobs::apply_retention() {
    store::named_lock lock(db_, "chat.retention");
    auto locked = lock.try_acquire();
    if (!locked) return locked.error();
    if (!*locked) return std::optional<std::size_t>{};
    auto rules = store::retention_rules(db_);
    if (!rules) return rules.error();
    std::size_t erased = 0;
    for (const auto& rule : *rules) {
        auto cutoff = core::now_ms() - static_cast<std::int64_t>(rule.days) * 86'400'000;
        for (;;) {
            if (stop_) return std::optional<std::size_t>{erased};
            auto keys = store::erase_older_than(db_, rule.app_id, cutoff, 1000, core::now_ms());
            if (!keys) return keys.error();
            if (keys->empty()) break;
            erased += keys->size();
            if (auto ok = note_deleted(rule.token, *keys); !ok) return ok.error();
        }
    }
    if (erased > 0) spdlog::info("retention: {} messages erased", erased);
    return std::optional<std::size_t>{erased};
}

void jobs::sample_queue_depth() {
    if (!amqp_.is_open())
        if (auto ok = amqp_.open(false); !ok) return;  // counted as a dependency error
    if (auto depth = amqp_.queue_depth(cfg_.amqp.queue); depth)
        core::metrics::queue_depth().Set(static_cast<double>(*depth));
    else
        amqp_.close();
}

void jobs::run() {
    auto next_counts = std::chrono::steady_clock::now() + std::chrono::seconds(cfg_.count_refresh_interval_s);
    auto next_recovery = std::chrono::steady_clock::now();
    auto next_depth = std::chrono::steady_clock::now();
    auto next_erasure = std::chrono::steady_clock::now();
    auto next_retention = std::chrono::steady_clock::now();
    while (!stop_) {
        auto now = std::chrono::steady_clock::now();
        if (now >= next_recovery) {
            if (auto r = recover_numbering(); !r) spdlog::warn("recovery: {}", r.error().message);
            next_recovery = now + std::chrono::seconds(cfg_.recovery_check_interval_s);
        }
        if (now >= next_counts) {
            auto r = refresh_counts();
            auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - now).count();
            if (!r) {
                core::metrics::count_refresh(false, took);
                spdlog::warn("count refresh: {}", r.error().message);
            } else if (*r) {  // this instance held the lock and ran it
                core::metrics::count_refresh(true, took);
                if (**r > 0) spdlog::info("count refresh: {} counters updated", **r);
            }
            next_counts = now + std::chrono::seconds(cfg_.count_refresh_interval_s);
        }
        if (now >= next_depth) {
            sample_queue_depth();
            next_depth = now + std::chrono::seconds(5);
        }
        if (now >= next_erasure) {
            if (auto r = run_erasures(); !r) {
                spdlog::warn("erasure: {}", r.error().message);
                db_.disconnect();  // the lock, if held, goes with the session
            }
            next_erasure = now + std::chrono::milliseconds(cfg_.erasure_interval_ms);
        }
        if (now >= next_retention) {
            if (auto r = apply_retention(); !r) {
                spdlog::warn("retention: {}", r.error().message);
                db_.disconnect();
            }
            next_retention = now + std::chrono::seconds(cfg_.retention_interval_s);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace chat::worker
