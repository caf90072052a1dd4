#pragma once
// The SQL of users and access (db/migrations/003_access.sql): an application's access mode and
// secrets (stored as SHA-256 only), chat members, user revocations. Every statement leads with the
// application. Blocking, on a connection of the caller's thread.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/access.hpp"
#include "store/mysql.hpp"
#include "store/repository.hpp"

namespace chat::store {

// The application and its secrets, as a server caches them to authenticate requests (nullopt: no
// application has this token).
core::result<std::optional<domain::app_access>> load_app_access(mysql_connection& db,
                                                                const std::string& token);

// A new application with its first secret, in one transaction: its id.
core::result<std::uint64_t> insert_app_with_secret(mysql_connection& db, const std::string& token,
                                                   const std::string& name, std::int64_t now_ms,
                                                   const domain::secret_record& secret);
core::result<void> insert_secret(mysql_connection& db, std::uint64_t app_id,
                                 const domain::secret_record& secret);
enum class secret_deletion { deleted, not_found, last_secret };
// Deletes a secret unless it is the application's last one (an application keeps a way to manage it).
core::result<secret_deletion> delete_secret(mysql_connection& db, std::uint64_t app_id,
                                            const std::string& id);
struct secret_listing {
    std::string id;
    std::int64_t created_at_ms = 0;
    std::optional<std::int64_t> last_used_at_ms;
};
core::result<std::vector<secret_listing>> list_secrets(mysql_connection& db, std::uint64_t app_id);
struct secret_use {
    std::uint64_t app_id = 0;
    std::string id;
    std::int64_t at_ms = 0;
};
// Moves last_used_at forward (never back) for each; a deleted secret is skipped.
core::result<void> record_secret_uses(mysql_connection& db, const std::vector<secret_use>& uses);
// Returns false when no application has this id.
core::result<bool> set_access_mode(mysql_connection& db, std::uint64_t app_id, domain::access_mode mode,
                                   std::int64_t now_ms);

// What MariaDB says of a user and a chat: whether the chat is stored, and the member row's state
// (nullopt: no row; false: removed).
struct membership_row {
    bool chat_stored = false;
    std::optional<bool> member;
};
core::result<membership_row> find_membership(mysql_connection& db, std::uint64_t app_id, std::uint64_t chat,
                                             const std::string& user);
// Adds (member = true) or removes (false) a member; a removal keeps a row (see the migration). Returns
// whether the state changed.
core::result<bool> put_member(mysql_connection& db, std::uint64_t app_id, std::uint64_t chat,
                              const std::string& user, bool member, std::int64_t now_ms);
struct member_row {
    std::string user;
    std::int64_t added_at_ms = 0;
};
// Members of a chat by user id, after `after_user` (empty: from the start).
core::result<std::vector<member_row>> list_members(mysql_connection& db, std::uint64_t app_id,
                                                   std::uint64_t chat, const std::string& after_user,
                                                   int limit);
// The stored chats a user is a member of, numbered above `after`.
core::result<std::vector<chat_row>> list_user_chats(
    mysql_connection& db, std::uint64_t app_id, const std::string& user, std::uint64_t after, int limit,
    const std::optional<std::vector<std::uint64_t>>& only = {});

// The time before which the user's tokens are refused (0: never revoked).
core::result<std::int64_t> find_revocation(mysql_connection& db, std::uint64_t app_id,
                                           const std::string& user);
core::result<void> put_revocation(mysql_connection& db, std::uint64_t app_id, const std::string& user,
                                  std::int64_t before_ms);

}  // namespace chat::store
