#pragma once
// The SQL the API needs, as functions over a mysql_connection. Queries lead with application_id so
// every one of them is served by a primary key prefix (see db/migrations).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/access.hpp"
#include "store/mysql.hpp"

namespace chat::store {

struct app_row {
    std::uint64_t id = 0;
    std::string token;
    std::string name;
    std::uint64_t chats_count = 0;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
    domain::access_mode access = domain::access_mode::open;
    std::optional<int> retention_days = {};
};
// Sets (or, with nullopt, clears) how long the application's messages are kept.
core::result<bool> set_retention(mysql_connection& db, std::uint64_t app_id, std::optional<int> days,
                                 std::int64_t now_ms);

struct chat_row {
    std::uint64_t number = 0;
    std::uint64_t messages_count = 0;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
    // With a user token: its read marker and unread count (the read state of store/read_state.hpp).
    std::optional<std::uint64_t> last_read = {};
    std::optional<std::uint64_t> unread = {};
    std::optional<std::int64_t> deleted_at_ms = {};  // a deleted chat (reads answer it as absent)
};

struct message_row {
    std::uint64_t chat_number = 0;
    std::uint64_t number = 0;
    std::string body;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
    std::optional<std::string> sender = {};  // the user who sent it; none in an open application
    std::uint32_t version = 1;               // bodies it had: 1 when created, one more per edit
    std::optional<std::int64_t> edited_at_ms = {};
    std::optional<std::int64_t> deleted_at_ms = {};  // a tombstone: its body is erased
    bool deleted() const { return deleted_at_ms.has_value(); }
};

core::result<std::uint64_t> insert_app(mysql_connection& db, const std::string& token,
                                       const std::string& name, std::int64_t now_ms);
core::result<std::optional<app_row>> find_app(mysql_connection& db, const std::string& token);
// Returns false when no application has this token.
core::result<bool> update_app_name(mysql_connection& db, const std::string& token, const std::string& name,
                                   std::int64_t now_ms);
core::result<std::optional<chat_row>> find_chat(mysql_connection& db, std::uint64_t app_id,
                                                std::uint64_t number);
// `only`: when given, just these chat numbers (a user token's `chats` claim).
core::result<std::vector<chat_row>> list_chats(mysql_connection& db, std::uint64_t app_id,
                                               std::uint64_t after, int limit,
                                               const std::optional<std::vector<std::uint64_t>>& only = {});
core::result<std::optional<message_row>> find_message(mysql_connection& db, std::uint64_t app_id,
                                                      std::uint64_t chat_number, std::uint64_t number);
core::result<std::vector<message_row>> list_messages(mysql_connection& db, std::uint64_t app_id,
                                                     std::uint64_t chat_number, std::uint64_t after,
                                                     int limit);
// The `limit` messages numbered just below `before`, in ascending order (paging backwards).
// The highest stored message number of a chat (0 when it holds none).
core::result<std::uint64_t> highest_message_number(mysql_connection& db, std::uint64_t app_id,
                                                   std::uint64_t chat_number);
// One trivial statement: whether MariaDB answers.
core::result<void> check_reachable(mysql_connection& db);
core::result<std::vector<message_row>> list_messages_before(mysql_connection& db, std::uint64_t app_id,
                                                            std::uint64_t chat_number, std::uint64_t before,
                                                            int limit);
// Replaces the body of a stored, not deleted message (and, with only_sender, one that user sent),
// keeping the old body as a version in message_versions, in one transaction. Returns false when no
// such row was there (not stored yet, deleted, or someone else's).
core::result<bool> update_message_body(mysql_connection& db, std::uint64_t app_id, std::uint64_t chat_number,
                                       std::uint64_t number, const std::string& body, std::int64_t now_ms,
                                       const std::optional<std::string>& only_sender = {});
// The bodies a message had before its current one, oldest first: (version, body, at).
struct message_version {
    std::uint32_t version = 0;
    std::string body;
    std::int64_t at_ms = 0;
};
core::result<std::vector<message_version>> list_versions(mysql_connection& db, std::uint64_t app_id,
                                                         std::uint64_t chat_number, std::uint64_t number);
// " AND <column> IN (…)" for a list of chat numbers; "" without one; " AND FALSE" for an empty one.
std::string chat_number_filter(std::string_view column,
                               const std::optional<std::vector<std::uint64_t>>& only);
// The sender of a stored message: nullopt when not stored, an empty optional inside when it has none.
core::result<std::optional<std::optional<std::string>>> find_message_sender(mysql_connection& db,
                                                                            std::uint64_t app_id,
                                                                            std::uint64_t chat_number,
                                                                            std::uint64_t number);

}  // namespace chat::store
