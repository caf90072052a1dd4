#pragma once
// The statements of the worker's batch transaction (worker/batch_writer.hpp decides, these write):
// multi-row INSERTs of chats, messages and members, tombstones for deletions, the queueing of
// erasures, read markers, count marks, and the rows read back to judge each event. An interface, so
// the worker's decisions are unit-tested over an in-memory fake (tests/unit/worker/batch_writer_test).
//
// Every statement is idempotent: a redelivered batch writes nothing new. A deletion never removes a
// row (domain/lifecycle.hpp): the message's row becomes a tombstone, inserted when the creation has
// not arrived yet, so that the creation finds it and changes nothing.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.hpp"
#include "domain/event.hpp"
#include "store/mysql.hpp"
#include "store/webhook_outbox.hpp"

namespace chat::store {

using chat_key = std::pair<std::uint64_t, std::uint64_t>;                     // app, number
using message_key = std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>;  // app, chat, number
using user_key = std::pair<std::uint64_t, std::string>;                       // app, user
using marker_key = std::tuple<std::uint64_t, std::uint64_t, std::string>;     // app, chat, user

// A chat's row as read back in the batch.
struct chat_state {
    std::string creation_id;  // '' for a tombstone written before its creation arrived
    bool deleted = false;
};
// A message's row as read back in the batch.
struct message_state {
    std::string creation_id;  // '' for a tombstone written before its creation arrived
    std::string body;         // '' when deleted
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;  // the search document's version: a deletion moves it forward
    std::optional<std::string> sender;
    bool deleted = false;
};
// A chat's first member (its creator), written with the chat.
struct member_grant {
    std::uint64_t app_id = 0;
    std::uint64_t chat = 0;
    std::string user;
    std::int64_t at_ms = 0;
};

class batch_statements {
  public:
    virtual ~batch_statements() = default;
    virtual core::result<void> begin() = 0;
    virtual core::result<void> commit() = 0;
    // Leaves a failed transaction's session: the next batch reconnects.
    virtual void abandon() = 0;

    virtual core::result<void> insert_chats(const std::vector<domain::chat_created>& chats) = 0;
    virtual core::result<void> insert_messages(const std::vector<domain::message_created>& messages) = 0;
    // The rows become tombstones (inserted when missing), their edit history is erased.
    virtual core::result<void> delete_messages(const std::vector<domain::message_deleted>& deletions) = 0;
    // The chats are marked deleted (inserted as tombstones when missing) and the erasure of their
    // messages is queued (the worker's erasure job does it in bounded batches).
    virtual core::result<void> delete_chats(const std::vector<domain::chat_deleted>& deletions) = 0;
    // Memberships and read markers of the users go; the erasure of their messages is queued.
    virtual core::result<void> erase_users(const std::vector<domain::user_erased>& erasures) = 0;
    // Markers move forward only.
    virtual core::result<void> save_markers(const std::vector<domain::read_marked>& markers) = 0;
    // The stored markers of these (application, chat, user), for those that have one.
    virtual core::result<std::map<marker_key, std::uint64_t>> read_markers(
        const std::vector<marker_key>& keys) = 0;
    // Webhook deliveries of the batch's changes, in its transaction (store/webhook_outbox.hpp).
    virtual core::result<void> record_webhooks(const std::vector<webhook_event>& events) = 0;
    // Members granted unless a row exists (an earlier removal stays).
    virtual core::result<void> add_members(const std::vector<member_grant>& members) = 0;
    virtual core::result<std::map<chat_key, chat_state>> read_chats(const std::vector<chat_key>& keys) = 0;
    virtual core::result<std::map<message_key, message_state>> read_messages(
        const std::vector<message_key>& keys) = 0;
    // When each (application, user) was last asked to be erased, for those that were.
    virtual core::result<std::map<user_key, std::int64_t>> user_erasures(
        const std::vector<user_key>& keys) = 0;
    // Messages of erased users erased as they were stored: their sender goes, and each user's erasure
    // counts them.
    virtual core::result<void> erased_senders(const std::map<user_key, std::vector<message_key>>& erased) = 0;
    // The counters to refresh (chat 0: the application's chats_count).
    virtual core::result<void> mark_counts(const std::vector<chat_key>& keys) = 0;
};

class mysql_batch_statements final : public batch_statements {
  public:
    explicit mysql_batch_statements(mysql_connection& db) : db_(db) {}
    core::result<void> begin() override;
    core::result<void> commit() override;
    void abandon() override;
    core::result<void> insert_chats(const std::vector<domain::chat_created>& chats) override;
    core::result<void> insert_messages(const std::vector<domain::message_created>& messages) override;
    core::result<void> delete_messages(const std::vector<domain::message_deleted>& deletions) override;
    core::result<void> delete_chats(const std::vector<domain::chat_deleted>& deletions) override;
    core::result<void> erase_users(const std::vector<domain::user_erased>& erasures) override;
    core::result<void> save_markers(const std::vector<domain::read_marked>& markers) override;
    core::result<std::map<marker_key, std::uint64_t>> read_markers(
        const std::vector<marker_key>& keys) override;
    core::result<void> record_webhooks(const std::vector<webhook_event>& events) override;
    core::result<void> add_members(const std::vector<member_grant>& members) override;
    core::result<std::map<chat_key, chat_state>> read_chats(const std::vector<chat_key>& keys) override;
    core::result<std::map<message_key, message_state>> read_messages(
        const std::vector<message_key>& keys) override;
    core::result<std::map<user_key, std::int64_t>> user_erasures(const std::vector<user_key>& keys) override;
    core::result<void> erased_senders(const std::map<user_key, std::vector<message_key>>& erased) override;
    core::result<void> mark_counts(const std::vector<chat_key>& keys) override;

  private:
    core::result<std::string> quoted_user(const std::optional<std::string>& user);
    mysql_connection& db_;
    std::optional<transaction> tx_;
};

// The count refresh (worker/jobs.hpp): the marks in key order after `after`, and one counter recounted
// (chat 0: the application's chats_count), its mark deleted only if its version is still the one read.
// messages_count counts a chat's messages that are not deleted, chats_count the chats not deleted.
struct count_mark {
    std::uint64_t app_id = 0;
    std::uint64_t chat = 0;
    std::uint64_t version = 0;
};
core::result<std::vector<count_mark>> count_marks_after(mysql_connection& db, chat_key after, int limit);
core::result<void> refresh_count(mysql_connection& db, const count_mark& mark);

// A MariaDB named lock (GET_LOCK) for a scheduled job: exactly one worker runs it at a time. Held by
// the session of `db` until released or the connection ends.
class named_lock {
  public:
    named_lock(mysql_connection& db, std::string name) : db_(db), name_(std::move(name)) {}
    ~named_lock();
    named_lock(const named_lock&) = delete;
    named_lock& operator=(const named_lock&) = delete;
    // True when this session holds it now (false: another worker does).
    core::result<bool> try_acquire();

  private:
    mysql_connection& db_;
    std::string name_;
    bool held_ = false;
};

}  // namespace chat::store
