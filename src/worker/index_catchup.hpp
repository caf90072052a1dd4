#pragma once
// Search indexing that follows storing, so that MariaDB (the source of truth) never waits for
// Elasticsearch. The consumer stores a batch and then indexes it at once while search is healthy;
// when a _bulk fails, or while search is known to be down, it records the batch's messages in the
// index outbox (store/index_outbox.hpp) and acknowledges. index_catchup drains that outbox: it reads
// the oldest entries with their message rows as they are now, indexes them, and deletes exactly the
// entry versions it indexed. Documents carry updated_at as external version, so an older state never
// replaces a newer one, whichever path writes last. One worker at a time drains (MariaDB named
// lock); the others wait their turn. Runs on its own thread with its own connections.
#include <atomic>
#include <chrono>
#include <cstdint>

#include "core/config.hpp"
#include "store/elastic.hpp"
#include "store/index_outbox.hpp"
#include "store/mysql.hpp"

namespace chat::worker {

// Whether the consumer tries Elasticsearch itself: after a failure it leaves indexing to the
// catch-up for a while, so an outage costs one failed _bulk per window, not one per batch. Shared by
// the consumer and catch-up threads (atomics only).
class index_health {
  public:
    static constexpr std::chrono::milliseconds retry_after{5000};
    bool should_try() const { return now_ms() >= skip_until_ms_.load(std::memory_order_relaxed); }
    void failed() { skip_until_ms_.store(now_ms() + retry_after.count(), std::memory_order_relaxed); }
    void recovered() { skip_until_ms_.store(0, std::memory_order_relaxed); }

  private:
    static std::int64_t now_ms() {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
    }
    std::atomic<std::int64_t> skip_until_ms_{0};
};

class index_catchup {
  public:
    index_catchup(const core::config& cfg, std::atomic<bool>& stop, index_health& health);
    // Loops until stop.
    void run();
    // Drains what it can while it holds the lock: the number of documents indexed, or nothing when
    // another worker holds the lock. Public for tests.
    core::result<std::optional<std::size_t>> drain();

  private:
    void sleep_for(std::chrono::milliseconds d);

    const core::config& cfg_;
    std::atomic<bool>& stop_;
    index_health& health_;
    store::mysql_connection db_;
    store::index_outbox outbox_;
    store::elastic_client es_;
};

}  // namespace chat::worker
