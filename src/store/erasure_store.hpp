#pragma once
// The SQL of the worker's background erasures (worker/jobs.hpp): a deleted chat's messages, an erased
// user's messages and read markers, and retention. Each step erases a bounded batch in one transaction:
// the rows become tombstones as a deletion makes them (domain/lifecycle.hpp), their edit history goes,
// their counts are marked, and their search documents are queued in the index outbox, from which the
// index catch-up writes the (empty) documents of the rows as they are then.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "store/batch_store.hpp"
#include "store/mysql.hpp"
#include "store/read_state.hpp"

namespace chat::store {

struct erasure_job {
    std::uint64_t id = 0;
    std::uint64_t app_id = 0;
    std::string token;
    enum class kind { chat, user } what = kind::chat;
    std::uint64_t chat = 0;  // kind::chat
    std::string user;        // kind::user
    std::uint64_t erased = 0;
    std::int64_t requested_at_ms = 0;  // a user's messages sent after it are not the erasure's
};

// Jobs not finished yet, oldest first.
core::result<std::vector<erasure_job>> unfinished_erasures(mysql_connection& db, int limit);
// A job's state for the API (GET …/users/{user}/erasure): nullopt when none was ever recorded.
struct erasure_status {
    std::int64_t requested_at_ms = 0;
    std::optional<std::int64_t> finished_at_ms;
    std::uint64_t erased = 0;
};
core::result<std::optional<erasure_status>> user_erasure(mysql_connection& db, std::uint64_t app_id,
                                                         const std::string& user);

// Erases up to `limit` messages of the job (tombstones; for a user, its sender goes too) and returns
// their keys; an empty answer means nothing is left.
core::result<std::vector<message_key>> erase_step(mysql_connection& db, const erasure_job& job, int limit,
                                                  std::int64_t now_ms);
core::result<void> finish_erasure(mysql_connection& db, std::uint64_t id, std::int64_t now_ms);
// The chats where a user has read markers, and their removal (a user's erasure).
core::result<std::vector<std::uint64_t>> marker_chats(mysql_connection& db, std::uint64_t app_id,
                                                      const std::string& user);
core::result<void> delete_markers(mysql_connection& db, std::uint64_t app_id, const std::string& user);

// Retention: applications with a retention_days, and one bounded step of erasing their older messages.
struct retention_rule {
    std::uint64_t app_id = 0;
    std::string token;
    int days = 0;
};
core::result<std::vector<retention_rule>> retention_rules(mysql_connection& db);
core::result<std::vector<message_key>> erase_older_than(mysql_connection& db, std::uint64_t app_id,
                                                        std::int64_t cutoff_ms, int limit,
                                                        std::int64_t now_ms);

// Recovery (worker/jobs.hpp): what MariaDB keeps of the lives of `chats` (deletion, deleted numbers,
// markers), for store::restore_lifecycle.
core::result<std::map<chat_key, chat_lifecycle>> lifecycles(mysql_connection& db,
                                                            const std::vector<chat_key>& chats);

}  // namespace chat::store
