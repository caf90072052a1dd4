#include "worker/jobs.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <thread>

#include "core/metrics.hpp"
#include "core/time.hpp"
#include "store/numbering.hpp"

namespace chat::worker {

using core::errc;
using core::make_error;

jobs::jobs(const core::config& cfg, std::atomic<bool>& stop)
    : cfg_(cfg), stop_(stop), db_(cfg.mysql), redis_(cfg.redis), amqp_(cfg.amqp) {}

core::result<bool> jobs::lock(const char* name) {
    auto rows = db_.query(fmt::format("SELECT GET_LOCK('{}', 0)", name));
    if (!rows) return rows.error();
    return !rows->empty() && rows->front()[0] && *rows->front()[0] == "1";
}

void jobs::unlock(const char* name) {
    (void)db_.query(fmt::format("SELECT RELEASE_LOCK('{}')", name));
}

core::result<std::optional<std::size_t>> jobs::refresh_counts() {
    auto locked = lock("chat.count_refresh");
    if (!locked) return locked.error();
    if (!*locked) return std::optional<std::size_t>{};  // another worker is on it
    std::size_t refreshed = 0;
    core::result<std::optional<std::size_t>> out = std::optional<std::size_t>{refreshed};
    // One pass over the marks in key order per run: a mark re-marked while we count it (a busy chat)
    // keeps its row and is counted again next run, instead of keeping this run going forever.
    std::uint64_t after_app = 0, after_chat = 0;
    while (!stop_) {
        auto marks =
            db_.query(fmt::format("SELECT application_id, chat_number, version FROM count_marks WHERE "
                                  "(application_id, chat_number) > "
                                  "({}, {}) ORDER BY application_id, chat_number LIMIT 500",
                                  after_app, after_chat));
        if (!marks) {
            out = marks.error();
            break;
        }
        if (marks->empty()) break;
        bool failed = false;
        for (const auto& m : *marks) {
            auto app = store::to_u64(m[0]);
            auto chat = store::to_u64(m[1]);
            auto version = store::to_u64(m[2]);
            after_app = app;
            after_chat = chat;
            // COUNT(*) over a primary-key prefix: an index range scan of this one chat or application.
            auto sql = chat == 0
                           ? fmt::format(
                                 "UPDATE applications SET chats_count = (SELECT COUNT(*) FROM chats WHERE "
                                 "application_id = {0}) WHERE id = {0}",
                                 app)
                           : fmt::format(
                                 "UPDATE chats SET messages_count = (SELECT COUNT(*) FROM messages WHERE "
                                 "application_id = {0} AND chat_number = {1}) WHERE application_id = {0} AND "
                                 "number = {1}",
                                 app, chat);
            auto r = db_.execute(sql);
            if (r)
                r = db_.execute(fmt::format(
                    "DELETE FROM count_marks WHERE application_id = {} AND chat_number = {} AND version = {}",
                    app, chat, version));
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
    unlock("chat.count_refresh");
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
    auto locked = lock("chat.recovery");
    if (!locked) return locked.error();
    if (!*locked) return false;
    struct unlocker {
        jobs* j;
        ~unlocker() { j->unlock("chat.recovery"); }
    } guard{this};
    seeded = store::is_seeded(redis_);
    if (!seeded) return seeded.error();
    if (*seeded) return false;
    spdlog::warn("recovery: Redis has no numbering state; loading it from MySQL");
    if (auto ok = wait_for_drained_queue(); !ok) return ok.error();
    std::size_t apps = 0, chats = 0;
    std::uint64_t after = 0;
    while (!stop_) {
        auto rows =
            db_.query(fmt::format("SELECT a.id, a.token, COALESCE((SELECT MAX(number) FROM chats c WHERE "
                                  "c.application_id = a.id), 0) "
                                  "FROM applications a WHERE a.id > {} ORDER BY a.id LIMIT 1000",
                                  after));
        if (!rows) return rows.error();
        if (rows->empty()) break;
        for (const auto& r : *rows) {
            auto id = store::to_u64(r[0]);
            if (auto ok = store::raise_app_counter(redis_, r[1].value_or(""), id, store::to_u64(r[2])); !ok)
                return ok.error();
            after = id;
            ++apps;
        }
    }
    std::uint64_t after_app = 0, after_chat = 0;
    while (!stop_) {
        auto rows = db_.query(fmt::format(
            "SELECT c.application_id, a.token, c.number, c.created_at, COALESCE((SELECT MAX(m.number) FROM "
            "messages m "
            "WHERE m.application_id = c.application_id AND m.chat_number = c.number), 0) FROM chats c JOIN "
            "applications a ON a.id = c.application_id WHERE (c.application_id, c.number) > ({}, {}) "
            "ORDER BY c.application_id, c.number LIMIT 1000",
            after_app, after_chat));
        if (!rows) return rows.error();
        if (rows->empty()) break;
        for (const auto& r : *rows) {
            after_app = store::to_u64(r[0]);
            after_chat = store::to_u64(r[2]);
            if (auto ok =
                    store::register_chat(redis_, r[1].value_or(""), after_chat, after_app,
                                         core::parse_sql_datetime(r[3].value_or("")), store::to_u64(r[4]));
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
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
}

}  // namespace chat::worker
