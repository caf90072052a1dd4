#pragma once
// Scheduled jobs of the worker, run on their own thread with their own connections. Each takes a
// MariaDB named lock (GET_LOCK) so that exactly one worker runs it when many are up.
//  - count refresh: recomputes chats_count / messages_count for what changed (count_marks).
//  - recovery: when Redis lost its numbering state (keys::seeded() missing), reloads it from MySQL.
//  - erasure: erases the messages of deleted chats and erased users in bounded batches
//    (store/erasure_store.hpp), with their Redis state (deleted numbers, an erased user's markers).
//  - retention: erases messages older than their application's retention_days, the same way.
#include <atomic>
#include <optional>

#include "core/config.hpp"
#include "store/amqp.hpp"
#include "store/batch_store.hpp"
#include "store/mysql.hpp"
#include "store/redis.hpp"

namespace chat::worker {

class jobs {
  public:
    jobs(const core::config& cfg, std::atomic<bool>& stop);
    // Loops until stop: runs each job when it is due.
    void run();

    // One pass of each job (public for tests and for an initial run at start-up).
    // The number of counters refreshed, or nothing when another instance holds the lock.
    core::result<std::optional<std::size_t>> refresh_counts();
    core::result<bool> recover_numbering();
    // Messages erased in this pass (nothing: another worker held the lock).
    core::result<std::optional<std::size_t>> run_erasures();
    core::result<std::optional<std::size_t>> apply_retention();

  private:
    // The Redis side of erased messages: their numbers join their chats' deleted sets (unread counts).
    core::result<void> note_deleted(const std::string& token, const std::vector<store::message_key>& keys);
    core::result<void> wait_for_drained_queue();
    void sample_queue_depth();

    const core::config& cfg_;
    std::atomic<bool>& stop_;
    store::mysql_connection db_;
    store::redis_connection redis_;
    store::amqp_session amqp_;
};

}  // namespace chat::worker
