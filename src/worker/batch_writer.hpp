#pragma once
// Stores one batch of events: one MariaDB transaction with multi-row statements, then one _bulk
// request to Elasticsearch. Idempotent: writing the same batch twice changes nothing the second time.
// A stored row whose creation id differs from the event's is a numbering conflict: the event is
// rejected (for the dead-letter queue), the stored row is never overwritten. Runs on the worker's
// consumer thread; owns nothing but borrows that thread's connections.
#include <string>
#include <vector>

#include "domain/event.hpp"
#include "store/elastic.hpp"
#include "store/mysql.hpp"
#include "store/numbering.hpp"

namespace chat::worker {

struct rejection {
    std::size_t index = 0;  // position in the batch
    std::string reason;
};

struct batch_outcome {
    std::vector<rejection> rejected;
    std::vector<domain::chat_created> stored_chats;
    std::vector<store::pending_ref> stored_messages;
    std::size_t indexed = 0;
};

class batch_writer {
  public:
    batch_writer(store::mysql_connection& db, store::elastic_client& es) : db_(db), es_(es) {}
    // Fails (errc::unavailable) when MariaDB or Elasticsearch could not take the batch; the caller
    // retries the same batch later.
    core::result<batch_outcome> write(const std::vector<domain::event>& events);

  private:
    core::result<batch_outcome> write_sql(const std::vector<domain::event>& events,
                                          std::vector<store::message_doc>& docs);
    store::mysql_connection& db_;
    store::elastic_client& es_;
};

}  // namespace chat::worker
