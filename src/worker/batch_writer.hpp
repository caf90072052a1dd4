#pragma once
// Stores one batch of events: one MariaDB transaction (store/batch_store.hpp's statements), then one
// _bulk request to Elasticsearch while search is healthy; when it is not, the batch's messages go to
// the index outbox for the catch-up (index_catchup.hpp) and the batch still counts as stored.
// Idempotent: writing the same batch twice changes nothing the second time.
// What it decides (domain::judge_creation): a stored row whose creation id differs from the event's is
// a numbering conflict (the event is rejected for the dead-letter queue, the row never overwritten); a
// tombstone absorbs its creation whatever the order (deleted stays deleted); every search document is
// built from the row as it is after the batch, a tombstone's empty. Runs on the worker's consumer
// thread; owns nothing but borrows that thread's connections.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "domain/event.hpp"
#include "store/batch_store.hpp"
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
    std::vector<store::pending_ref> stored_messages;    // their pending entries can go
    std::vector<store::pending_ref> deleted_messages;   // their pending deletions can go
    std::vector<store::pending_ref> erased_on_arrival;  // creations erased as they were stored
    std::size_t indexed = 0;                            // documents written to Elasticsearch now
    std::size_t deferred = 0;                           // documents left to the index catch-up
};

// Something that takes a batch's search documents: Elasticsearch, or (unit tests) a fake.
class document_sink {
  public:
    virtual ~document_sink() = default;
    virtual core::result<void> bulk_index(const std::vector<store::message_doc>& docs) = 0;
};

class batch_writer {
  public:
    // `sql`: the batch transaction's statements; `es`: where documents go; `outbox`: where they wait
    // while search is down.
    batch_writer(store::batch_statements& sql, document_sink& es, store::index_outbox& outbox,
                 index_health& health)
        : sql_(sql), es_(es), health_(health), outbox_(outbox) {}
    // Fails (errc::unavailable) when MariaDB could not take the batch (nor, when search failed, its
    // outbox entries); the caller retries the same batch later. Search alone never fails it.
    core::result<batch_outcome> write(const std::vector<domain::event>& events);

  private:
    core::result<batch_outcome> write_sql(const std::vector<domain::event>& events,
                                          std::vector<store::message_doc>& docs);
    // Returns the messages it erased because their sender was erased (whose markers stay erased).
    core::result<std::set<store::message_key>> erase_on_arrival(
        const std::vector<domain::message_created>& messages,
        const std::map<store::chat_key, store::chat_state>& chats, const std::set<store::user_key>& senders,
        batch_outcome& out);
    store::batch_statements& sql_;
    document_sink& es_;
    index_health& health_;
    store::index_outbox& outbox_;
};

// Elasticsearch as a document_sink.
class elastic_sink final : public document_sink {
  public:
    explicit elastic_sink(store::elastic_client& es) : es_(es) {}
    core::result<void> bulk_index(const std::vector<store::message_doc>& docs) override {
        return es_.bulk_index(docs);
    }

  private:
    store::elastic_client& es_;
};

}  // namespace chat::worker
