#pragma once
// Rebuilds the search index from MariaDB without downtime: a new versioned index joins the write
// alias (workers write to both from then on), the rows are copied from MariaDB, then the read alias
// moves to the new index in one atomic alias update. Runs on the caller's thread (chat_ctl reindex).
#include <functional>
#include <string>

#include "store/elastic.hpp"
#include "store/mysql.hpp"

namespace chat::worker {

struct reindex_report {
    std::string old_index;
    std::string new_index;
    std::uint64_t copied = 0;
};

struct reindex_options {
    // Longer than a worker's cache of the write alias (2 s) plus a batch in flight: after this pause
    // every document a worker writes also goes to the new index.
    std::chrono::milliseconds settle{5000};
    std::size_t page = 2000;
    bool delete_old = false;
};

core::result<reindex_report> reindex(store::mysql_connection& db, store::elastic_client& es,
                                     const reindex_options& opts,
                                     const std::function<void(const std::string&)>& progress);

// "messages_v7" -> "messages_v8"; an index without a version suffix gets "_v2".
std::string next_index_name(const std::string& alias, const std::string& current);

}  // namespace chat::worker
