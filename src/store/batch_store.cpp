#include "store/batch_store.hpp"

#include <fmt/format.h>

#include "core/time.hpp"

namespace chat::store {

using core::sql_datetime;

namespace {

std::string sep(const std::string& list) {
    return list.empty() ? "" : ",";
}

std::string message_key_list(const std::vector<message_key>& keys) {
    std::string out;
    for (const auto& [a, c, n] : keys) out += fmt::format("{}({}, {}, {})", sep(out), a, c, n);
    return out;
}

}  // namespace

core::result<void> mysql_batch_statements::begin() {
    tx_.emplace(db_);
    return tx_->begin();
}

core::result<void> mysql_batch_statements::commit() {
    auto ok = tx_->commit();
    tx_.reset();
    return ok;
}

void mysql_batch_statements::abandon() {
    tx_.reset();
    db_.disconnect();  // a failed transaction may leave the session in any state
}

core::result<std::string> mysql_batch_statements::quoted_user(const std::optional<std::string>& user) {
    if (!user) return std::string("NULL");
    return db_.quote(*user);
}

core::result<void> mysql_batch_statements::insert_chats(const std::vector<domain::chat_created>& chats) {
    if (chats.empty()) return {};
    std::string values;
    for (const auto& c : chats) {
        auto creator = quoted_user(c.creator);
        if (!creator) return creator.error();
        auto at = sql_datetime(c.created_at_ms);
        values += fmt::format("{}({}, {}, '{}', '{}', '{}', {})", sep(values), c.app_id, c.number,
                              c.creation_id, at, at, *creator);
    }
    // An existing row (this creation stored before, a tombstone, another creation) is left as it is.
    auto r = db_.execute(
        "INSERT INTO chats (application_id, number, creation_id, created_at, updated_at, creator) VALUES " +
        values + " ON DUPLICATE KEY UPDATE number = number");
    if (!r) return r.error();
    return {};
}

core::result<void> mysql_batch_statements::insert_messages(
    const std::vector<domain::message_created>& messages) {
    if (messages.empty()) return {};
    std::string values;
    for (const auto& m : messages) {
        auto body = db_.quote(m.body);
        if (!body) return body.error();
        auto sender = quoted_user(m.sender);
        if (!sender) return sender.error();
        auto at = sql_datetime(m.created_at_ms);
        values += fmt::format("{}({}, {}, {}, {}, '{}', '{}', '{}', {})", sep(values), m.app_id,
                              m.chat_number, m.number, *body, m.creation_id, at, at, *sender);
    }
    auto r = db_.execute(
        "INSERT INTO messages (application_id, chat_number, number, body, creation_id, created_at, "
        "updated_at, "
        "sender) VALUES " +
        values + " ON DUPLICATE KEY UPDATE number = number");
    if (!r) return r.error();
    return {};
}

core::result<void> mysql_batch_statements::delete_messages(
    const std::vector<domain::message_deleted>& deletions) {
    if (deletions.empty()) return {};
    std::string values;
    std::vector<message_key> keys;
    for (const auto& d : deletions) {
        auto at = sql_datetime(d.deleted_at_ms);
        // A missing row (the creation still queued) becomes a tombstone the creation will find; it
        // keeps the message's creation time when the deletion knows it.
        auto created = d.created_at_ms > 0 ? sql_datetime(d.created_at_ms) : at;
        values += fmt::format("{}({}, {}, {}, '', '', '{}', '{}', '{}')", sep(values), d.app_id,
                              d.chat_number, d.number, created, at, at);
        keys.emplace_back(d.app_id, d.chat_number, d.number);
    }
    // updated_at moves forward (the search document's version), so the tombstone document replaces
    // every document of the message, whichever path writes last.
    auto r = db_.execute(
        "INSERT INTO messages (application_id, chat_number, number, body, creation_id, created_at, "
        "updated_at, "
        "deleted_at) VALUES " +
        values +
        " ON DUPLICATE KEY UPDATE body = '', deleted_at = COALESCE(deleted_at, VALUES(deleted_at)), "
        "updated_at = GREATEST(updated_at + INTERVAL 1000 MICROSECOND, VALUES(updated_at))");
    if (!r) return r.error();
    r = db_.execute("DELETE FROM message_versions WHERE (application_id, chat_number, number) IN (" +
                    message_key_list(keys) + ")");
    if (!r) return r.error();
    return {};
}

core::result<void> mysql_batch_statements::delete_chats(const std::vector<domain::chat_deleted>& deletions) {
    if (deletions.empty()) return {};
    std::string values, erasures;
    for (const auto& d : deletions) {
        auto at = sql_datetime(d.deleted_at_ms);
        values +=
            fmt::format("{}({}, {}, '', '{}', '{}', '{}')", sep(values), d.app_id, d.number, at, at, at);
        erasures += fmt::format("{}({}, 'chat', {}, '', '{}')", sep(erasures), d.app_id, d.number, at);
    }
    auto r = db_.execute(
        "INSERT INTO chats (application_id, number, creation_id, created_at, updated_at, deleted_at) "
        "VALUES " +
        values + " ON DUPLICATE KEY UPDATE deleted_at = COALESCE(deleted_at, VALUES(deleted_at))");
    if (!r) return r.error();
    // One job per chat: a deletion delivered again re-opens it, which finds nothing left to erase.
    r = db_.execute(
        "INSERT INTO erasures (application_id, kind, chat_number, user_id, requested_at) VALUES " + erasures +
        " ON DUPLICATE KEY UPDATE finished_at = NULL");
    if (!r) return r.error();
    return {};
}

core::result<void> mysql_batch_statements::erase_users(const std::vector<domain::user_erased>& erasures) {
    if (erasures.empty()) return {};
    std::string jobs;
    for (const auto& e : erasures) {
        auto user = db_.quote(e.user);
        if (!user) return user.error();
        auto at = sql_datetime(e.requested_at_ms);
        jobs += fmt::format("{}({}, 'user', 0, {}, '{}')", sep(jobs), e.app_id, *user, at);
        // Its memberships go (rows kept as removals, so a chat's late creation never re-adds it), and
        // its tokens: a revocation at the request's time.
        auto r =
            db_.execute(fmt::format("UPDATE chat_members SET member = 0, updated_at = '{}' WHERE "
                                    "application_id = {} AND user_id = {}",
                                    at, e.app_id, *user));
        if (!r) return r.error();
        r = db_.execute(fmt::format(
            "INSERT INTO user_revocations (application_id, user_id, revoked_before) VALUES ({}, {}, '{}') "
            "ON DUPLICATE KEY UPDATE revoked_before = GREATEST(revoked_before, VALUES(revoked_before))",
            e.app_id, *user, at));
        if (!r) return r.error();
    }
    // Its messages and read markers are the erasure job's (bounded batches, Redis included). A new
    // request re-opens a finished job (the user may have written again since).
    auto r = db_.execute(
        "INSERT INTO erasures (application_id, kind, chat_number, user_id, requested_at) VALUES " + jobs +
        " ON DUPLICATE KEY UPDATE finished_at = NULL, requested_at = VALUES(requested_at)");
    if (!r) return r.error();
    return {};
}

core::result<void> mysql_batch_statements::save_markers(const std::vector<domain::read_marked>& markers) {
    if (markers.empty()) return {};
    std::string values;
    for (const auto& m : markers) {
        auto user = db_.quote(m.user);
        if (!user) return user.error();
        values += fmt::format("{}({}, {}, {}, {}, '{}')", sep(values), m.app_id, m.chat_number, *user,
                              m.number, sql_datetime(m.at_ms));
    }
    auto r = db_.execute(
        "INSERT INTO read_markers (application_id, chat_number, user_id, number, updated_at) VALUES " +
        values +
        " ON DUPLICATE KEY UPDATE updated_at = IF(VALUES(number) > number, VALUES(updated_at), updated_at), "
        "number = GREATEST(number, VALUES(number))");
    if (!r) return r.error();
    return {};
}

core::result<std::map<marker_key, std::uint64_t>> mysql_batch_statements::read_markers(
    const std::vector<marker_key>& keys) {
    std::map<marker_key, std::uint64_t> out;
    if (keys.empty()) return out;
    std::string list;
    for (const auto& [app, chat, user] : keys) {
        auto q = db_.quote(user);
        if (!q) return q.error();
        list += fmt::format("{}({}, {}, {})", sep(list), app, chat, *q);
    }
    auto rows = db_.query(
        "SELECT application_id, chat_number, user_id, number FROM read_markers WHERE (application_id, "
        "chat_number, user_id) IN (" +
        list + ")");
    if (!rows) return rows.error();
    for (const auto& r : *rows) out[{to_u64(r[0]), to_u64(r[1]), r[2].value_or("")}] = to_u64(r[3]);
    return out;
}

core::result<void> mysql_batch_statements::record_webhooks(const std::vector<webhook_event>& events) {
    auto n = record_webhook_events(db_, events);
    if (!n) return n.error();
    return {};
}

core::result<void> mysql_batch_statements::add_members(const std::vector<member_grant>& members) {
    if (members.empty()) return {};
    std::string values;
    for (const auto& m : members) {
        auto user = db_.quote(m.user);
        if (!user) return user.error();
        auto at = sql_datetime(m.at_ms);
        values += fmt::format("{}({}, {}, {}, 1, '{}', '{}')", sep(values), m.app_id, m.chat, *user, at, at);
    }
    auto r = db_.execute(
        "INSERT INTO chat_members (application_id, chat_number, user_id, member, added_at, updated_at) "
        "VALUES " +
        values + " ON DUPLICATE KEY UPDATE member = member");
    if (!r) return r.error();
    return {};
}

core::result<std::map<chat_key, chat_state>> mysql_batch_statements::read_chats(
    const std::vector<chat_key>& keys) {
    std::map<chat_key, chat_state> out;
    if (keys.empty()) return out;
    std::string list;
    for (const auto& [a, n] : keys) list += fmt::format("{}({}, {})", sep(list), a, n);
    auto rows = db_.query(
        "SELECT application_id, number, creation_id, deleted_at IS NOT NULL FROM chats WHERE "
        "(application_id, number) "
        "IN (" +
        list + ")");
    if (!rows) return rows.error();
    for (const auto& r : *rows)
        out[{to_u64(r[0]), to_u64(r[1])}] = chat_state{r[2].value_or(""), r[3] == "1"};
    return out;
}

core::result<std::map<message_key, message_state>> mysql_batch_statements::read_messages(
    const std::vector<message_key>& keys) {
    std::map<message_key, message_state> out;
    if (keys.empty()) return out;
    auto rows = db_.query(
        "SELECT application_id, chat_number, number, creation_id, body, created_at, updated_at, sender, "
        "deleted_at IS "
        "NOT NULL FROM messages WHERE (application_id, chat_number, number) IN (" +
        message_key_list(keys) + ")");
    if (!rows) return rows.error();
    for (const auto& r : *rows)
        out[{to_u64(r[0]), to_u64(r[1]), to_u64(r[2])}] =
            message_state{r[3].value_or(""),
                          r[4].value_or(""),
                          core::parse_sql_datetime(r[5].value_or("")),
                          core::parse_sql_datetime(r[6].value_or("")),
                          r[7],
                          r[8] == "1"};
    return out;
}

core::result<std::map<user_key, std::int64_t>> mysql_batch_statements::user_erasures(
    const std::vector<user_key>& keys) {
    std::map<user_key, std::int64_t> out;
    if (keys.empty()) return out;
    std::string list;
    for (const auto& [a, u] : keys) {
        auto user = db_.quote(u);
        if (!user) return user.error();
        list += fmt::format("{}({}, {})", sep(list), a, *user);
    }
    auto rows = db_.query(
        "SELECT application_id, user_id, requested_at FROM erasures WHERE kind = 'user' AND "
        "(application_id, user_id) IN (" +
        list + ")");
    if (!rows) return rows.error();
    for (const auto& r : *rows)
        out[{to_u64(r[0]), r[1].value_or("")}] = core::parse_sql_datetime(r[2].value_or(""));
    return out;
}

core::result<void> mysql_batch_statements::erased_senders(
    const std::map<user_key, std::vector<message_key>>& erased) {
    for (const auto& [who, keys] : erased) {
        if (keys.empty()) continue;
        auto user = db_.quote(who.second);
        if (!user) return user.error();
        auto r =
            db_.execute("UPDATE messages SET sender = NULL WHERE (application_id, chat_number, number) IN (" +
                        message_key_list(keys) + ")");
        if (!r) return r.error();
        r =
            db_.execute(fmt::format("UPDATE erasures SET erased = erased + {} WHERE application_id = {} AND "
                                    "kind = 'user' AND user_id = {}",
                                    keys.size(), who.first, *user));
        if (!r) return r.error();
    }
    return {};
}

core::result<void> mysql_batch_statements::mark_counts(const std::vector<chat_key>& keys) {
    if (keys.empty()) return {};
    std::string marks;
    for (const auto& [a, c] : keys) marks += fmt::format("{}({}, {})", sep(marks), a, c);
    auto r = db_.execute("INSERT INTO count_marks (application_id, chat_number) VALUES " + marks +
                         " ON DUPLICATE KEY UPDATE version = version + 1");
    if (!r) return r.error();
    return {};
}

core::result<std::vector<count_mark>> count_marks_after(mysql_connection& db, chat_key after, int limit) {
    auto rows =
        db.query(fmt::format("SELECT application_id, chat_number, version FROM count_marks WHERE "
                             "(application_id, chat_number) > ({}, {}) "
                             "ORDER BY application_id, chat_number LIMIT {}",
                             after.first, after.second, limit));
    if (!rows) return rows.error();
    std::vector<count_mark> out;
    for (const auto& r : *rows) out.push_back({to_u64(r[0]), to_u64(r[1]), to_u64(r[2])});
    return out;
}

core::result<void> refresh_count(mysql_connection& db, const count_mark& m) {
    // COUNT(*) over a primary-key prefix: an index range scan of this one chat or application.
    auto sql = m.chat == 0 ? fmt::format(
                                 "UPDATE applications SET chats_count = (SELECT COUNT(*) FROM chats WHERE "
                                 "application_id = {0} AND deleted_at IS NULL) WHERE id = {0}",
                                 m.app_id)
                           : fmt::format(
                                 "UPDATE chats SET messages_count = (SELECT COUNT(*) FROM messages WHERE "
                                 "application_id = {0} AND chat_number = {1} AND deleted_at IS NULL) WHERE "
                                 "application_id = {0} AND number = {1}",
                                 m.app_id, m.chat);
    auto r = db.execute(sql);
    if (!r) return r.error();
    r = db.execute(
        fmt::format("DELETE FROM count_marks WHERE application_id = {} AND chat_number = {} AND version = {}",
                    m.app_id, m.chat, m.version));
    if (!r) return r.error();
    return {};
}

named_lock::~named_lock() {
    if (held_) (void)db_.query(fmt::format("SELECT RELEASE_LOCK('{}')", name_));
}

core::result<bool> named_lock::try_acquire() {
    auto rows = db_.query(fmt::format("SELECT GET_LOCK('{}', 0)", name_));
    if (!rows) return rows.error();
    held_ = !rows->empty() && rows->front()[0] && *rows->front()[0] == "1";
    return held_;
}

}  // namespace chat::store
