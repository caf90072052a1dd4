#pragma once
// Stores one batch of events: one MariaDB transaction with multi-row statements, then one _bulk
// request to Elasticsearch while search is healthy; when it is not, the batch's messages go to the
// index outbox for the catch-up (index_catchup.hpp) and the batch still counts as stored.
// Idempotent: writing the same batch twice changes nothing the second time.
// A stored row whose creation id differs from the event's is a numbering conflict: the event is
// rejected (for the dead-letter queue), the stored row is never overwritten. Runs on the worker's
// consumer thread; owns nothing but borrows that thread's connections.
#include <string>
#include <vector>

#include "domain/event.hpp"
#include "store/elastic.hpp"
#include "store/index_outbox.hpp"
#include "store/mysql.hpp"
#include "store/numbering.hpp"
#include "worker/index_catchup.hpp"

namespace chat::worker {

struct rejection {
    std::size_t index = 0;  // position in the batch
    std::string reason;
};

struct batch_outcome {
    std::vector<rejection> rejected;
    std::vector<domain::chat_created> stored_chats;
    std::vector<store::pending_ref> stored_messages;
    std::size_t indexed = 0;   // documents written to Elasticsearch now
    std::size_t deferred = 0;  // documents left to the index catch-up
};

class batch_writer {
  public:
    batch_writer(store::mysql_connection& db, store::elastic_client& es, index_health& health)
        : db_(db), es_(es), health_(health), outbox_(db) {}
    // Fails (errc::unavailable) when MariaDB could not take the batch (nor, when search failed, its
    // outbox entries); the caller retries the same batch later. Search alone never fails it.
    core::result<batch_outcome> write(const std::vector<domain::event>& events);

  private:
    core::result<batch_outcome> write_sql(const std::vector<domain::event>& events,
                                          std::vector<store::message_doc>& docs);
    store::mysql_connection& db_;
    store::elastic_client& es_;
    index_health& health_;
    store::index_outbox outbox_;
};

}  // namespace chat::worker
