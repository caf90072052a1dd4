#include "worker/consumer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <thread>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/spawn.hpp"
#include "core/time.hpp"
#include "store/read_state.hpp"

namespace chat::worker {

using core::errc;

consumer::consumer(const core::config& cfg, std::atomic<bool>& stop, index_health& health)
    : cfg_(cfg),
      stop_(stop),
      in_(cfg.amqp),
      dlq_(cfg.amqp),
      db_(cfg.mysql),
      redis_(cfg.redis),
      es_(cfg.es_url, cfg.es_index),
      sql_(db_),
      sink_(es_),
      outbox_(db_),
      writer_(sql_, sink_, outbox_, health) {}

bool consumer::out_of_time() {
    if (!stop_) return false;
    auto now = std::chrono::steady_clock::now();
    if (!stop_seen_) stop_seen_ = now;
    return now - *stop_seen_ > std::chrono::seconds(cfg_.shutdown_timeout_s);
}

void consumer::backoff(int& delay_ms) {
    for (int waited = 0; waited < delay_ms && !out_of_time(); waited += 50)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    delay_ms = std::min(delay_ms * 2, cfg_.retry_max_backoff_ms);
}

std::vector<consumer::pending_delivery> consumer::collect() {
    std::vector<pending_delivery> batch;
    auto first = in_.next(std::chrono::milliseconds(200));
    if (!first || !*first) {
        if (!first) spdlog::warn("consumer: {}", first.error().message);
        return batch;
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.batch_delay_ms);
    auto first_items = domain::decode_delivery((**first).body);
    batch.push_back({std::move(**first), std::move(first_items)});
    // The batch counts events, not deliveries: an envelope is taken whole, so the batch may end up
    // to one envelope larger than CHAT_BATCH_SIZE. After a batch failed on a bug, one delivery at a
    // time finds the delivery that causes it.
    std::size_t events = batch.back().events();
    while (crash_streak_ == 0 && events < static_cast<std::size_t>(cfg_.batch_size) && !stop_) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                          std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        auto more = in_.next(left);
        if (!more || !*more) break;  // a broken connection surfaces on the next ack or read
        auto items = domain::decode_delivery((**more).body);
        batch.push_back({std::move(**more), std::move(items)});
        events += batch.back().events();
    }
    return batch;
}

bool consumer::store_batch(std::vector<pending_delivery>& batch, std::vector<dead_letter_entry>& dead,
                           batch_outcome& stored) {
    struct position {
        std::size_t delivery;
        std::size_t item;
    };
    std::vector<domain::event> events;
    std::vector<position> positions;  // event index -> delivery and item
    for (std::size_t i = 0; i < batch.size(); ++i) {
        if (!batch[i].items) {
            dead.push_back({i, std::nullopt, "undecodable envelope: " + batch[i].items.error().message});
            continue;
        }
        auto& items = *batch[i].items;
        for (std::size_t j = 0; j < items.size(); ++j) {
            if (items[j].ev) {
                events.push_back(*items[j].ev);
                positions.push_back({i, j});
            } else {
                dead.push_back({i, j, "undecodable event: " + items[j].ev.error().message});
            }
        }
    }
    auto reject = [&](std::size_t e, std::string reason) {
        dead.push_back({positions[e].delivery, positions[e].item, std::move(reason)});
    };
    if (events.empty()) return true;  // only poison, or empty envelopes: nothing to store
    int delay = 100;
    int internal_failures = 0;
    while (!out_of_time()) {
        auto out = writer_.write(events);
        if (out) {
            for (auto& r : out->rejected) reject(r.index, r.reason);
            stored = std::move(*out);
            return true;
        }
        spdlog::warn("batch of {} not stored yet: {}", events.size(), out.error().message);
        if (out.error().code == errc::internal && ++internal_failures >= 3) break;
        backoff(delay);
    }
    if (out_of_time()) return false;
    // The batch keeps failing for a reason other than an outage: store the events one by one so that
    // only the ones that cannot be stored go to the dead-letter queue.
    for (std::size_t e = 0; e < events.size(); ++e) {
        int attempts = 0;
        int one_delay = 100;
        while (!out_of_time()) {
            auto out = writer_.write({events[e]});
            if (out) {
                for (auto& r : out->rejected) reject(e, r.reason);
                stored.stored_chats.insert(stored.stored_chats.end(), out->stored_chats.begin(),
                                           out->stored_chats.end());
                stored.stored_messages.insert(stored.stored_messages.end(), out->stored_messages.begin(),
                                              out->stored_messages.end());
                break;
            }
            if (out.error().code == errc::internal && ++attempts >= 3) {
                reject(e, "cannot be stored: " + out.error().message);
                break;
            }
            backoff(one_delay);
        }
    }
    return !out_of_time();
}

namespace {
std::string creation_id_of(const domain::event& e) {
    return std::visit(
        [](const auto& x) -> std::string {
            if constexpr (requires { x.creation_id; })
                return x.creation_id;
            else
                return {};
        },
        e);
}
}  // namespace

bool consumer::dead_letter(const std::vector<pending_delivery>& batch,
                           const std::vector<dead_letter_entry>& dead) {
    if (dead.empty()) return true;
    int delay = 100;
    while (!out_of_time()) {
        bool ok = dlq_.is_open() || dlq_.open(true).has_value();
        std::uint64_t last = 0;
        for (std::size_t k = 0; ok && k < dead.size(); ++k) {
            const auto& entry = dead[k];
            const auto& p = batch[entry.delivery];
            // An event of an envelope goes alone, as its own JSON (what an old-format message would
            // have been), with its creation id as message id; the reason names the envelope it came
            // from. An undecodable envelope goes whole, under its own message id.
            std::string_view body = p.d.body;
            std::string message_id = p.d.message_id.empty() ? "dead" : p.d.message_id;
            std::string reason = entry.reason;
            std::string rid;
            if (entry.item) {
                const auto& it = (*p.items)[*entry.item];
                body = it.json;
                if (it.ev) {
                    rid = domain::request_id(*it.ev);
                    if (auto cid = creation_id_of(*it.ev); !cid.empty()) message_id = cid;
                }
                if (domain::is_envelope(p.d.body))
                    reason += " (event " + std::to_string(*entry.item + 1) + " of " +
                              std::to_string(p.items->size()) + " in envelope " + p.d.message_id + ")";
            }
            {
                core::request_id_scope scope(rid);
                spdlog::error("dead-lettering {}: {}", entry.item ? "event" : "delivery", reason);
            }
            auto seq = dlq_.publish(cfg_.amqp.dead_letter_queue, body, message_id, reason);
            ok = seq.has_value();
            if (ok) last = *seq;
        }
        if (ok) {
            auto confirmed =
                dlq_.wait_confirms(last, std::chrono::steady_clock::now() + std::chrono::seconds(10));
            if (confirmed && confirmed->empty()) return true;
            dlq_.close();
        }
        backoff(delay);
    }
    return false;
}

bool consumer::after_store(const batch_outcome& stored) {
    // Best effort, after the data is durable: a failure only delays read-your-writes cleanup.
    if (auto ok = store::clear_pending(redis_, stored.stored_messages); !ok)
        spdlog::warn("pending cleanup skipped: {}", ok.error().message);
    // A stored deletion is read from MariaDB from now on (its entry only covered the time before).
    if (auto ok = store::clear_pending_deletions(redis_, stored.deleted_messages); !ok)
        spdlog::warn("pending deletions cleanup skipped: {}", ok.error().message);
    // Unread counts leave out what was erased on arrival (the API marked the explicit deletions).
    std::map<std::pair<std::string, std::uint64_t>, std::vector<std::uint64_t>> erased;
    for (const auto& e : stored.erased_on_arrival) erased[{e.token, e.chat_number}].push_back(e.number);
    for (const auto& [chat, numbers] : erased)
        if (auto ok = store::add_deleted(redis_, chat.first, chat.second, numbers); !ok)
            spdlog::warn("deleted numbers not marked in Redis: {}", ok.error().message);
    if (stored.stored_chats.empty()) return true;
    auto seeded = store::is_seeded(redis_);
    if (!seeded) {
        spdlog::warn("chat registration waits for Redis: {}", seeded.error().message);
        return false;
    }
    if (!*seeded) return true;  // during recovery the recovery job registers chats itself
    for (const auto& c : stored.stored_chats) {
        // The API registers a chat right after the broker confirmed it; this covers an API that died
        // or lost Redis in between. Required before the ack: otherwise a chat stored during a Redis
        // outage would stay unknown to message creation. It never lowers a counter.
        if (auto ok = store::register_chat(redis_, c.token, c.number, c.app_id, c.created_at_ms, 0,
                                           c.creator.value_or(""));
            !ok) {
            spdlog::warn("chat registration waits for Redis: {}", ok.error().message);
            return false;
        }
    }
    return true;
}

void consumer::observe(const std::vector<pending_delivery>& batch, const std::vector<dead_letter_entry>& dead,
                       double seconds) {
    std::size_t events = 0;
    std::size_t dead_events = 0;
    for (const auto& p : batch) events += p.events();
    for (const auto& d : dead) dead_events += d.item ? 1 : batch[d.delivery].events();
    core::metrics::worker_batch(events, seconds);
    core::metrics::worker_events("dead_lettered", dead_events);
    core::metrics::worker_events("stored", events - dead_events);
    auto now = core::now_ms();
    std::string ids;
    std::size_t listed = 0;
    for (const auto& p : batch) {
        if (!p.items) continue;
        for (const auto& it : *p.items) {
            if (!it.ev) continue;
            std::visit(
                [&](const auto& e) {
                    if constexpr (requires { e.created_at_ms; })
                        core::metrics::persistence_lag(
                            static_cast<double>(std::max<std::int64_t>(0, now - e.created_at_ms)) / 1000.0);
                },
                *it.ev);
            const auto& rid = domain::request_id(*it.ev);
            if (!rid.empty() && listed++ < 10) ids += (ids.empty() ? "" : ",") + rid;
        }
    }
    spdlog::debug("stored batch: {} events in {} deliveries, {} rejected in {:.1f} ms; request ids {}{}",
                  events, batch.size(), dead_events, seconds * 1000, ids, listed > 10 ? ",..." : "");
}

void consumer::run() {
    int delay = 100;
    while (!stop_) {
        if (!in_.is_open()) {
            auto ok = in_.open(false);
            if (ok)
                ok = in_.consume(cfg_.amqp.queue,
                                 static_cast<std::uint16_t>(std::min(cfg_.batch_size * 2, 65535)));
            if (!ok) {
                spdlog::warn("consumer: {}", ok.error().message);
                backoff(delay);
                continue;
            }
            delay = 100;
            spdlog::info("consuming {}", cfg_.amqp.queue);
        }
        auto batch = collect();
        if (batch.empty()) continue;
        try {
            if (!process(batch)) break;
            crash_streak_ = 0;
        } catch (...) {
            // A bug (input never throws). The batch stays unacknowledged and the channel is closed, so
            // the broker redelivers it; after a failure the next batches are taken one delivery at a
            // time, and a delivery that fails alone again goes to the dead-letter queue with its
            // reason. The worker goes on, and never spins: it backs off first.
            core::log_escape{"consumer"}(std::current_exception());
            if (batch.size() == 1 && crash_streak_ > 0) {
                if (dead_letter(batch,
                                {{0, std::nullopt, "the worker failed on this event (a bug, see its log)"}}))
                    (void)in_.ack(batch.front().d.tag, false);
                crash_streak_ = 0;
            } else {
                ++crash_streak_;
                in_.close();
            }
            backoff(crash_delay_);
            continue;
        }
        crash_delay_ = 100;
    }
    if (stop_) spdlog::info("consumer stopped; unacknowledged deliveries return to the queue");
    in_.close();
    dlq_.close();
}

bool consumer::process(std::vector<pending_delivery>& batch) {
    auto started = std::chrono::steady_clock::now();
    std::vector<dead_letter_entry> dead;
    batch_outcome stored;
    if (!store_batch(batch, dead, stored)) return false;  // stopping: unacked deliveries return to the queue
    if (!dead_letter(batch, dead)) return false;
    int register_delay = 100;
    bool registered = after_store(stored);
    while (!registered && !out_of_time()) {
        backoff(register_delay);
        registered = after_store(stored);
    }
    if (!registered) return false;  // stopping: the redelivered batch registers its chats then
    // Deliveries on one channel have increasing tags: one multiple-ack covers the whole batch.
    if (auto ok = in_.ack(batch.back().d.tag, true); !ok) {
        // The broker will redeliver the batch; storing it again is harmless.
        spdlog::warn("ack failed, batch will be redelivered: {}", ok.error().message);
        return true;
    }
    observe(batch, dead, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    return true;
}

}  // namespace chat::worker
