#pragma once
// The index outbox (db/migrations/002_index_outbox.sql): stored messages whose search document is
// still to be written. The SQL of it lives here; the worker's consumer records entries when
// Elasticsearch could not take a batch, its index catch-up reads, indexes and clears them. Borrows
// the caller's connection; the caller's thread runs every call.
#include <cstdint>
#include <vector>

#include "core/error.hpp"
#include "store/elastic.hpp"
#include "store/mysql.hpp"

namespace chat::store {

struct outbox_key {
    std::uint64_t app_id = 0;
    std::uint64_t chat_number = 0;
    std::uint64_t number = 0;
};

// One entry as the catch-up sees it: the message row as it is now (none when it is not stored, which
// only a hand-made entry can cause) and the entry's version, to clear only what was indexed.
struct outbox_entry {
    outbox_key key;
    std::uint64_t version = 0;
    std::optional<message_doc> doc;
};

class index_outbox {
  public:
    explicit index_outbox(mysql_connection& db) : db_(db) {}
    // Records (or records again) the messages, in one statement of its own (autocommit).
    core::result<void> record(const std::vector<outbox_key>& keys, std::int64_t now_ms);
    // The oldest `limit` entries with their message rows, in one statement.
    core::result<std::vector<outbox_entry>> oldest(std::size_t limit);
    // Deletes the entries whose version is still the one read (a newer record stays).
    core::result<void> clear(const std::vector<outbox_entry>& done);
    // Seconds since the oldest entry was recorded; 0 when the outbox is empty.
    core::result<double> backlog_age_s(std::int64_t now_ms);

  private:
    mysql_connection& db_;
};

}  // namespace chat::store
