#pragma once
// Keyset scans over MariaDB for the worker's whole-database passes: the recovery of Redis's numbering
// (worker/jobs.cpp) and the reindex (worker/reindex.cpp). Each page is an index range scan from the
// last key of the previous page, so a pass over millions of rows never holds a long transaction.
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "store/batch_store.hpp"
#include "store/elastic.hpp"
#include "store/mysql.hpp"

namespace chat::store {

// An application and its highest chat number.
struct app_numbering {
    std::uint64_t id = 0;
    std::string token;
    std::uint64_t last_chat = 0;
};
core::result<std::vector<app_numbering>> apps_after(mysql_connection& db, std::uint64_t after_id, int limit);

// A chat (deleted ones too: their numbers are never reused) with its highest message number.
struct chat_numbering {
    std::uint64_t app_id = 0;
    std::string token;
    std::uint64_t number = 0;
    std::int64_t created_at_ms = 0;
    std::uint64_t last_message = 0;
};
core::result<std::vector<chat_numbering>> chats_after(mysql_connection& db, chat_key after, int limit);

// Every message as its search document (tombstones included), in primary-key order.
core::result<std::uint64_t> count_messages(mysql_connection& db);
core::result<std::vector<message_doc>> message_docs_after(mysql_connection& db, message_key after, int limit);

}  // namespace chat::store
