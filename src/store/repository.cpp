#include "store/repository.hpp"

#include <fmt/format.h>

#include "core/time.hpp"

namespace chat::store {

using core::sql_datetime;

namespace {
std::int64_t ms(const std::optional<std::string>& v) {
    return v ? core::parse_sql_datetime(*v) : 0;
}

chat_row to_chat(const row& r) {
    chat_row c{to_u64(r[0]), to_u64(r[1]), ms(r[2]), ms(r[3])};
    if (r.size() > 4 && r[4]) c.deleted_at_ms = ms(r[4]);
    return c;
}

// A row of message_columns.
message_row to_message(const row& r) {
    message_row m{to_u64(r[0]),
                  to_u64(r[1]),
                  r[2].value_or(""),
                  ms(r[3]),
                  ms(r[4]),
                  r[5],
                  static_cast<std::uint32_t>(to_u64(r[6]))};
    if (r[7]) m.edited_at_ms = ms(r[7]);
    if (r[8]) m.deleted_at_ms = ms(r[8]);
    return m;
}
constexpr std::string_view message_columns =
    "chat_number, number, body, created_at, updated_at, sender, version, edited_at, deleted_at";
}  // namespace

core::result<std::uint64_t> insert_app(mysql_connection& db, const std::string& token,
                                       const std::string& name, std::int64_t now_ms) {
    auto t = db.quote(token);
    if (!t) return t.error();
    auto n = db.quote(name);
    if (!n) return n.error();
    auto at = sql_datetime(now_ms);
    auto r =
        db.execute(fmt::format("INSERT INTO applications (token, name, chats_count, created_at, updated_at) "
                               "VALUES ({}, {}, 0, '{}', '{}')",
                               *t, *n, at, at));
    if (!r) return r.error();
    return db.last_insert_id();
}

core::result<std::optional<app_row>> find_app(mysql_connection& db, const std::string& token) {
    auto t = db.quote(token);
    if (!t) return t.error();
    auto rows = db.query(
        fmt::format("SELECT id, token, name, chats_count, created_at, updated_at, access, retention_days "
                    "FROM applications WHERE token = {}",
                    *t));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<app_row>{};
    const auto& r = rows->front();
    app_row a{to_u64(r[0]),
              r[1].value_or(""),
              r[2].value_or(""),
              to_u64(r[3]),
              ms(r[4]),
              ms(r[5]),
              domain::parse_access_mode(r[6].value_or("")).value_or(domain::access_mode::restricted)};
    if (r[7]) a.retention_days = static_cast<int>(to_u64(r[7]));
    return std::optional<app_row>{std::move(a)};
}

core::result<bool> update_app_name(mysql_connection& db, const std::string& token, const std::string& name,
                                   std::int64_t now_ms) {
    auto t = db.quote(token);
    if (!t) return t.error();
    auto n = db.quote(name);
    if (!n) return n.error();
    // Found rows, not changed rows: renaming to the same name is still a success.
    auto rows = db.query(fmt::format("SELECT id FROM applications WHERE token = {}", *t));
    if (!rows) return rows.error();
    if (rows->empty()) return false;
    auto r = db.execute(fmt::format("UPDATE applications SET name = {}, updated_at = '{}' WHERE id = {}", *n,
                                    sql_datetime(now_ms), to_u64(rows->front()[0])));
    if (!r) return r.error();
    return true;
}

core::result<std::optional<chat_row>> find_chat(mysql_connection& db, std::uint64_t app_id,
                                                std::uint64_t number) {
    auto rows = db.query(
        fmt::format("SELECT number, messages_count, created_at, updated_at, deleted_at FROM chats WHERE "
                    "application_id = {} AND number = {}",
                    app_id, number));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<chat_row>{};
    return std::optional<chat_row>{to_chat(rows->front())};
}

std::string chat_number_filter(std::string_view column,
                               const std::optional<std::vector<std::uint64_t>>& only) {
    if (!only) return {};
    if (only->empty()) return " AND FALSE";
    std::string list;
    for (auto n : *only) list += fmt::format("{}{}", list.empty() ? "" : ",", n);
    return fmt::format(" AND {} IN ({})", column, list);
}

core::result<std::vector<chat_row>> list_chats(mysql_connection& db, std::uint64_t app_id,
                                               std::uint64_t after, int limit,
                                               const std::optional<std::vector<std::uint64_t>>& only) {
    auto rows =
        db.query(fmt::format("SELECT number, messages_count, created_at, updated_at FROM chats WHERE "
                             "application_id = {} AND number > {}{} AND deleted_at IS NULL "
                             "ORDER BY number LIMIT {}",
                             app_id, after, chat_number_filter("number", only), limit));
    if (!rows) return rows.error();
    std::vector<chat_row> out;
    out.reserve(rows->size());
    for (const auto& r : *rows) out.push_back(to_chat(r));
    return out;
}

core::result<std::optional<message_row>> find_message(mysql_connection& db, std::uint64_t app_id,
                                                      std::uint64_t chat_number, std::uint64_t number) {
    auto rows = db.query(
        fmt::format("SELECT {} FROM messages WHERE application_id = {} AND chat_number = {} AND number = {}",
                    message_columns, app_id, chat_number, number));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<message_row>{};
    return std::optional<message_row>{to_message(rows->front())};
}

core::result<std::vector<message_row>> list_messages(mysql_connection& db, std::uint64_t app_id,
                                                     std::uint64_t chat_number, std::uint64_t after,
                                                     int limit) {
    auto rows =
        db.query(fmt::format("SELECT {} FROM messages WHERE application_id = {} AND chat_number = {} AND "
                             "number > {} ORDER BY number "
                             "LIMIT {}",
                             message_columns, app_id, chat_number, after, limit));
    if (!rows) return rows.error();
    std::vector<message_row> out;
    out.reserve(rows->size());
    for (const auto& r : *rows) out.push_back(to_message(r));
    return out;
}

core::result<std::uint64_t> highest_message_number(mysql_connection& db, std::uint64_t app_id,
                                                   std::uint64_t chat_number) {
    auto top = db.query(fmt::format(
        "SELECT COALESCE(MAX(number), 0) FROM messages WHERE application_id = {} AND chat_number = {}",
        app_id, chat_number));
    if (!top) return top.error();
    return top->empty() ? 0 : to_u64(top->front()[0]);
}

core::result<void> check_reachable(mysql_connection& db) {
    auto one = db.query("SELECT 1");
    if (!one) return one.error();
    return {};
}

core::result<std::vector<message_row>> list_messages_before(mysql_connection& db, std::uint64_t app_id,
                                                            std::uint64_t chat_number, std::uint64_t before,
                                                            int limit) {
    auto rows =
        db.query(fmt::format("SELECT {} FROM messages WHERE application_id = {} AND chat_number = {} AND "
                             "number < {} ORDER BY number "
                             "DESC LIMIT {}",
                             message_columns, app_id, chat_number, before, limit));
    if (!rows) return rows.error();
    std::vector<message_row> out;
    out.reserve(rows->size());
    for (auto r = rows->rbegin(); r != rows->rend(); ++r) out.push_back(to_message(*r));
    return out;
}

core::result<bool> update_message_body(mysql_connection& db, std::uint64_t app_id, std::uint64_t chat_number,
                                       std::uint64_t number, const std::string& body, std::int64_t now_ms,
                                       const std::optional<std::string>& only_sender) {
    auto b = db.quote(body);
    if (!b) return b.error();
    std::string sender_filter;
    if (only_sender) {
        auto s = db.quote(*only_sender);
        if (!s) return s.error();
        sender_filter = " AND sender = " + *s;
    }
    const auto where =
        fmt::format("application_id = {} AND chat_number = {} AND number = {} AND deleted_at IS NULL{}",
                    app_id, chat_number, number, sender_filter);
    transaction tx(db);
    if (auto ok = tx.begin(); !ok) return ok.error();
    // The body being replaced becomes a version of the history (the row locked: two edits at once keep
    // both bodies).
    auto current = db.query("SELECT version, body, COALESCE(edited_at, created_at) FROM messages WHERE " +
                            where + " FOR UPDATE");
    if (!current) return current.error();
    if (current->empty()) return false;  // not stored (yet), deleted, or someone else's
    const auto& old = current->front();
    auto old_body = db.quote(old[1].value_or(""));
    if (!old_body) return old_body.error();
    auto kept = db.execute(fmt::format(
        "INSERT INTO message_versions (application_id, chat_number, number, version, body, at) VALUES "
        "({}, {}, {}, {}, {}, '{}') ON DUPLICATE KEY UPDATE body = VALUES(body)",
        app_id, chat_number, number, to_u64(old[0]), *old_body, old[2].value_or("")));
    if (!kept) return kept.error();
    // GREATEST keeps updated_at moving forward, so the search index (versioned by it) takes every edit.
    auto r = db.execute(
        fmt::format("UPDATE messages SET body = {0}, version = version + 1, edited_at = '{1}', "
                    "updated_at = GREATEST('{1}', updated_at + INTERVAL 1000 MICROSECOND) WHERE {2}",
                    *b, sql_datetime(now_ms), where));
    if (!r) return r.error();
    if (auto ok = tx.commit(); !ok) return ok.error();
    return true;
}

core::result<std::vector<message_version>> list_versions(mysql_connection& db, std::uint64_t app_id,
                                                         std::uint64_t chat_number, std::uint64_t number) {
    auto rows =
        db.query(fmt::format("SELECT version, body, at FROM message_versions WHERE application_id = {} AND "
                             "chat_number = {} AND number = {} "
                             "ORDER BY version",
                             app_id, chat_number, number));
    if (!rows) return rows.error();
    std::vector<message_version> out;
    for (const auto& r : *rows)
        out.push_back({static_cast<std::uint32_t>(to_u64(r[0])), r[1].value_or(""), ms(r[2])});
    return out;
}

core::result<bool> set_retention(mysql_connection& db, std::uint64_t app_id, std::optional<int> days,
                                 std::int64_t now_ms) {
    auto r = db.execute(
        fmt::format("UPDATE applications SET retention_days = {}, updated_at = '{}' WHERE id = {}",
                    days ? std::to_string(*days) : std::string("NULL"), sql_datetime(now_ms), app_id));
    if (!r) return r.error();
    return true;
}

core::result<std::optional<std::optional<std::string>>> find_message_sender(mysql_connection& db,
                                                                            std::uint64_t app_id,
                                                                            std::uint64_t chat_number,
                                                                            std::uint64_t number) {
    auto rows = db.query(fmt::format(
        "SELECT sender FROM messages WHERE application_id = {} AND chat_number = {} AND number = {}", app_id,
        chat_number, number));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<std::optional<std::string>>{};
    return std::optional<std::optional<std::string>>{rows->front()[0]};
}

}  // namespace chat::store
