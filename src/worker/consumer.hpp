#pragma once
// The worker's consumer loop. Owns one AMQP connection for consuming (manual acks, prefetch), one for
// dead-lettering (confirm mode), and its own MariaDB, Redis and Elasticsearch connections; runs on
// the thread that calls run(). A delivery is one event (the old format) or an envelope of many
// (domain::decode_delivery); a batch collects deliveries until it holds CHAT_BATCH_SIZE events (so
// it may exceed that by less than one envelope) or CHAT_BATCH_DELAY_MS passed, and envelopes are
// never split across batches. A batch is acknowledged only after MariaDB and Elasticsearch hold all
// of its events and every rejected one is confirmed in the dead-letter queue: a rejected event of
// an envelope is dead-lettered alone (its own JSON), an envelope whose framing is broken whole.
//
// Stopping (the `stop` flag, set on SIGTERM): no new batch is started; the current one is still
// stored, dead-lettered and acknowledged, with retries for at most CHAT_SHUTDOWN_TIMEOUT_S, after
// which it is left unacknowledged for the broker to redeliver to another worker.
#include <atomic>
#include <chrono>
#include <optional>

#include "core/config.hpp"
#include "store/amqp.hpp"
#include "store/elastic.hpp"
#include "store/mysql.hpp"
#include "store/redis.hpp"
#include "worker/batch_writer.hpp"

namespace chat::worker {

class consumer {
  public:
    // health: shared with the index catch-up thread (whether to try Elasticsearch after a failure).
    consumer(const core::config& cfg, std::atomic<bool>& stop, index_health& health);
    void run();

  private:
    struct pending_delivery {
        store::delivery d;
        core::result<std::vector<domain::delivery_item>> items;
        std::size_t events() const { return items ? items->size() : 1; }
    };
    // What goes to the dead-letter queue: one event of a delivery, or a whole undecodable delivery.
    struct dead_letter_entry {
        std::size_t delivery = 0;
        std::optional<std::size_t> item;  // none: the whole delivery
        std::string reason;
    };
    std::vector<pending_delivery> collect();
    // Stores, dead-letters and acknowledges one batch; false when stopping cut it short.
    bool process(std::vector<pending_delivery>& batch);
    // Writes the batch, retrying with back-off while servers are away; isolates events that fail alone.
    // Returns false when stopped before the batch could be stored (it is then left unacknowledged).
    bool store_batch(std::vector<pending_delivery>& batch, std::vector<dead_letter_entry>& dead,
                     batch_outcome& stored);
    bool dead_letter(const std::vector<pending_delivery>& batch, const std::vector<dead_letter_entry>& dead);
    // Clears read-your-writes entries and registers stored chats in Redis; false while Redis is away.
    bool after_store(const batch_outcome& stored);
    void backoff(int& delay_ms);
    // True once stopping and the shutdown timeout has passed: give up the current batch.
    bool out_of_time();
    void observe(const std::vector<pending_delivery>& batch, const std::vector<dead_letter_entry>& dead,
                 double seconds);

    const core::config& cfg_;
    std::atomic<bool>& stop_;
    std::optional<std::chrono::steady_clock::time_point> stop_seen_;
    store::amqp_session in_;
    store::amqp_session dlq_;
    store::mysql_connection db_;
    store::redis_connection redis_;
    store::elastic_client es_;
    store::mysql_batch_statements sql_;
    elastic_sink sink_;
    store::index_outbox outbox_;
    batch_writer writer_;
    int crash_streak_ = 0;   // batches in a row that ended in an exception (a bug)
    int crash_delay_ = 100;  // back-off after such a batch, ms
};

}  // namespace chat::worker
