#include "store/erasure_store.hpp"

#include <fmt/format.h>

#include <set>

#include "core/time.hpp"

namespace chat::store {

using core::sql_datetime;

namespace {

// Tombstones for `keys` (already locked by the caller's SELECT … FOR UPDATE), their history, count
// marks and outbox entries, in the caller's transaction.
core::result<void> tombstone(mysql_connection& db, const std::vector<message_key>& keys, bool drop_sender,
                             std::int64_t now_ms) {
    if (keys.empty()) return {};
    std::string list, marks, outbox;
    auto at = sql_datetime(now_ms);
    std::set<chat_key> chats;
    for (const auto& [a, c, n] : keys) {
        list += fmt::format("{}({}, {}, {})", list.empty() ? "" : ",", a, c, n);
        outbox += fmt::format("{}({}, {}, {}, '{}')", outbox.empty() ? "" : ",", a, c, n, at);
        chats.insert({a, c});
    }
    for (const auto& [a, c] : chats) marks += fmt::format("{}({}, {})", marks.empty() ? "" : ",", a, c);
    auto r =
        db.execute(fmt::format("UPDATE messages SET body = '', deleted_at = COALESCE(deleted_at, '{0}'), {1}"
                               "updated_at = GREATEST(updated_at + INTERVAL 1000 MICROSECOND, '{0}') "
                               "WHERE (application_id, chat_number, number) IN ({2})",
                               at, drop_sender ? "sender = NULL, " : "", list));
    if (!r) return r.error();
    r = db.execute("DELETE FROM message_versions WHERE (application_id, chat_number, number) IN (" + list +
                   ")");
    if (!r) return r.error();
    r = db.execute("INSERT INTO count_marks (application_id, chat_number) VALUES " + marks +
                   " ON DUPLICATE KEY UPDATE version = version + 1");
    if (!r) return r.error();
    // The documents follow through the index catch-up, built from the rows as they are then.
    r = db.execute("INSERT INTO index_outbox (application_id, chat_number, number, queued_at) VALUES " +
                   outbox + " ON DUPLICATE KEY UPDATE version = version + 1");
    if (!r) return r.error();
    return {};
}

core::result<std::vector<message_key>> erase_selected(mysql_connection& db, const std::string& select,
                                                      bool drop_sender, std::int64_t now_ms) {
    transaction tx(db);
    if (auto ok = tx.begin(); !ok) return ok.error();
    auto rows = db.query(select + " FOR UPDATE");
    if (!rows) return rows.error();
    std::vector<message_key> keys;
    for (const auto& r : *rows) keys.emplace_back(to_u64(r[0]), to_u64(r[1]), to_u64(r[2]));
    if (auto ok = tombstone(db, keys, drop_sender, now_ms); !ok) return ok.error();
    if (auto ok = tx.commit(); !ok) return ok.error();
    return keys;
}

}  // namespace

core::result<std::vector<erasure_job>> unfinished_erasures(mysql_connection& db, int limit) {
    auto rows = db.query(fmt::format(
        "SELECT e.id, e.application_id, a.token, e.kind, e.chat_number, e.user_id, e.erased, e.requested_at "
        "FROM erasures e "
        "JOIN applications a ON a.id = e.application_id WHERE e.finished_at IS NULL ORDER BY e.id LIMIT {}",
        limit));
    if (!rows) return rows.error();
    std::vector<erasure_job> out;
    for (const auto& r : *rows)
        out.push_back(erasure_job{to_u64(r[0]), to_u64(r[1]), r[2].value_or(""),
                                  r[3] == "user" ? erasure_job::kind::user : erasure_job::kind::chat,
                                  to_u64(r[4]), r[5].value_or(""), to_u64(r[6]),
                                  core::parse_sql_datetime(r[7].value_or(""))});
    return out;
}

core::result<std::optional<erasure_status>> user_erasure(mysql_connection& db, std::uint64_t app_id,
                                                         const std::string& user) {
    auto u = db.quote(user);
    if (!u) return u.error();
    auto rows =
        db.query(fmt::format("SELECT requested_at, finished_at, erased FROM erasures WHERE application_id = "
                             "{} AND kind = 'user' AND "
                             "chat_number = 0 AND user_id = {}",
                             app_id, *u));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<erasure_status>{};
    const auto& r = rows->front();
    erasure_status s{core::parse_sql_datetime(r[0].value_or("")), std::nullopt, to_u64(r[2])};
    if (r[1]) s.finished_at_ms = core::parse_sql_datetime(*r[1]);
    return std::optional<erasure_status>(s);
}

core::result<std::vector<message_key>> erase_step(mysql_connection& db, const erasure_job& job, int limit,
                                                  std::int64_t now_ms) {
    std::string select;
    if (job.what == erasure_job::kind::chat) {
        select = fmt::format(
            "SELECT application_id, chat_number, number FROM messages WHERE application_id = {} AND "
            "chat_number = {} "
            "AND deleted_at IS NULL ORDER BY number LIMIT {}",
            job.app_id, job.chat, limit);
    } else {
        auto u = db.quote(job.user);
        if (!u) return u.error();
        // By the (application_id, sender) index. Its tombstones too: their sender is the user's data
        // (the step removes it, so each message is taken once).
        select = fmt::format(
            "SELECT application_id, chat_number, number FROM messages WHERE application_id = {} AND sender = "
            "{} AND created_at <= '{}' LIMIT {}",
            job.app_id, *u, sql_datetime(job.requested_at_ms), limit);
    }
    auto keys = erase_selected(db, select, job.what == erasure_job::kind::user, now_ms);
    if (!keys) return keys.error();
    if (!keys->empty()) {
        auto r = db.execute(
            fmt::format("UPDATE erasures SET erased = erased + {} WHERE id = {}", keys->size(), job.id));
        if (!r) return r.error();
    }
    return keys;
}

core::result<void> finish_erasure(mysql_connection& db, std::uint64_t id, std::int64_t now_ms) {
    auto r =
        db.execute(fmt::format("UPDATE erasures SET finished_at = '{}' WHERE id = {} AND finished_at IS NULL",
                               sql_datetime(now_ms), id));
    if (!r) return r.error();
    return {};
}

core::result<std::vector<std::uint64_t>> marker_chats(mysql_connection& db, std::uint64_t app_id,
                                                      const std::string& user) {
    auto u = db.quote(user);
    if (!u) return u.error();
    auto rows = db.query(fmt::format(
        "SELECT chat_number FROM read_markers WHERE application_id = {} AND user_id = {}", app_id, *u));
    if (!rows) return rows.error();
    std::vector<std::uint64_t> out;
    for (const auto& r : *rows) out.push_back(to_u64(r[0]));
    return out;
}

core::result<void> delete_markers(mysql_connection& db, std::uint64_t app_id, const std::string& user) {
    auto u = db.quote(user);
    if (!u) return u.error();
    auto r = db.execute(
        fmt::format("DELETE FROM read_markers WHERE application_id = {} AND user_id = {}", app_id, *u));
    if (!r) return r.error();
    return {};
}

core::result<std::vector<retention_rule>> retention_rules(mysql_connection& db) {
    auto rows =
        db.query("SELECT id, token, retention_days FROM applications WHERE retention_days IS NOT NULL");
    if (!rows) return rows.error();
    std::vector<retention_rule> out;
    for (const auto& r : *rows)
        out.push_back(retention_rule{to_u64(r[0]), r[1].value_or(""), static_cast<int>(to_u64(r[2]))});
    return out;
}

core::result<std::vector<message_key>> erase_older_than(mysql_connection& db, std::uint64_t app_id,
                                                        std::int64_t cutoff_ms, int limit,
                                                        std::int64_t now_ms) {
    // By the (application_id, created_at) index.
    auto select = fmt::format(
        "SELECT application_id, chat_number, number FROM messages WHERE application_id = {} AND created_at < "
        "'{}' "
        "AND deleted_at IS NULL LIMIT {}",
        app_id, sql_datetime(cutoff_ms), limit);
    return erase_selected(db, select, false, now_ms);
}

core::result<std::map<chat_key, chat_lifecycle>> lifecycles(mysql_connection& db,
                                                            const std::vector<chat_key>& chats) {
    std::map<chat_key, chat_lifecycle> out;
    if (chats.empty()) return out;
    std::string list;
    for (const auto& [a, c] : chats) list += fmt::format("{}({}, {})", list.empty() ? "" : ",", a, c);
    auto rows = db.query(
        "SELECT application_id, number, deleted_at FROM chats WHERE deleted_at IS NOT NULL AND "
        "(application_id, number) IN (" +
        list + ")");
    if (!rows) return rows.error();
    for (const auto& r : *rows)
        out[{to_u64(r[0]), to_u64(r[1])}].deleted_at_ms = core::parse_sql_datetime(r[2].value_or(""));
    rows = db.query(
        "SELECT application_id, chat_number, number FROM messages WHERE deleted_at IS NOT NULL AND "
        "(application_id, chat_number) IN (" +
        list + ")");
    if (!rows) return rows.error();
    for (const auto& r : *rows) out[{to_u64(r[0]), to_u64(r[1])}].deleted.push_back(to_u64(r[2]));
    rows = db.query(
        "SELECT application_id, chat_number, user_id, number FROM read_markers WHERE "
        "(application_id, chat_number) IN (" +
        list + ")");
    if (!rows) return rows.error();
    for (const auto& r : *rows) out[{to_u64(r[0]), to_u64(r[1])}].markers[r[2].value_or("")] = to_u64(r[3]);
    return out;
}

}  // namespace chat::store
