#include "store/scan_store.hpp"

#include <fmt/format.h>

#include "core/time.hpp"

namespace chat::store {

core::result<std::vector<app_numbering>> apps_after(mysql_connection& db, std::uint64_t after_id, int limit) {
    auto rows = db.query(fmt::format(
        "SELECT a.id, a.token, COALESCE((SELECT MAX(number) FROM chats c WHERE c.application_id = a.id), 0) "
        "FROM applications a WHERE a.id > {} ORDER BY a.id LIMIT {}",
        after_id, limit));
    if (!rows) return rows.error();
    std::vector<app_numbering> out;
    out.reserve(rows->size());
    for (const auto& r : *rows) out.push_back({to_u64(r[0]), r[1].value_or(""), to_u64(r[2])});
    return out;
}

core::result<std::vector<chat_numbering>> chats_after(mysql_connection& db, chat_key after, int limit) {
    auto rows = db.query(fmt::format(
        "SELECT c.application_id, a.token, c.number, c.created_at, COALESCE((SELECT MAX(m.number) FROM "
        "messages m WHERE m.application_id = c.application_id AND m.chat_number = c.number), 0) "
        "FROM chats c JOIN applications a ON a.id = c.application_id "
        "WHERE (c.application_id, c.number) > ({}, {}) ORDER BY c.application_id, c.number LIMIT {}",
        after.first, after.second, limit));
    if (!rows) return rows.error();
    std::vector<chat_numbering> out;
    out.reserve(rows->size());
    for (const auto& r : *rows)
        out.push_back({to_u64(r[0]), r[1].value_or(""), to_u64(r[2]),
                       core::parse_sql_datetime(r[3].value_or("")), to_u64(r[4])});
    return out;
}

core::result<std::uint64_t> count_messages(mysql_connection& db) {
    auto rows = db.query("SELECT COUNT(*) FROM messages");
    if (!rows) return rows.error();
    if (rows->empty()) return std::uint64_t{0};
    return to_u64(rows->front()[0]);
}

core::result<std::vector<message_doc>> message_docs_after(mysql_connection& db, message_key after,
                                                          int limit) {
    const auto& [a, c, n] = after;
    auto rows = db.query(
        fmt::format("SELECT application_id, chat_number, number, body, created_at, updated_at, sender, "
                    "deleted_at IS NOT NULL FROM messages "
                    "WHERE (application_id, chat_number, number) > ({}, {}, {}) "
                    "ORDER BY application_id, chat_number, number LIMIT {}",
                    a, c, n, limit));
    if (!rows) return rows.error();
    std::vector<message_doc> docs;
    docs.reserve(rows->size());
    for (const auto& r : *rows)
        docs.push_back({to_u64(r[0]), to_u64(r[1]), to_u64(r[2]), r[3].value_or(""),
                        core::parse_sql_datetime(r[4].value_or("")),
                        core::parse_sql_datetime(r[5].value_or("")), r[6], r[7] == "1"});
    return docs;
}

}  // namespace chat::store
