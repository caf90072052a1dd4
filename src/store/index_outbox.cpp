#include "store/index_outbox.hpp"

#include <fmt/format.h>

#include "core/time.hpp"

namespace chat::store {

core::result<void> index_outbox::record(const std::vector<outbox_key>& keys, std::int64_t now_ms) {
    if (keys.empty()) return {};
    std::string values;
    auto at = core::sql_datetime(now_ms);
    for (const auto& k : keys)
        values += fmt::format("{}({}, {}, {}, '{}')", values.empty() ? "" : ",", k.app_id, k.chat_number,
                              k.number, at);
    auto r = db_.execute("INSERT INTO index_outbox (application_id, chat_number, number, queued_at) VALUES " +
                         values + " ON DUPLICATE KEY UPDATE version = version + 1");
    if (!r) return r.error();
    return {};
}

core::result<std::vector<outbox_entry>> index_outbox::oldest(std::size_t limit) {
    auto rows = db_.query(fmt::format(
        "SELECT o.application_id, o.chat_number, o.number, o.version, m.number, m.body, m.created_at, "
        "m.updated_at, m.sender, m.deleted_at IS NOT NULL FROM index_outbox o LEFT JOIN messages m ON "
        "m.application_id = "
        "o.application_id "
        "AND m.chat_number = o.chat_number AND m.number = o.number ORDER BY o.queued_at LIMIT {}",
        limit));
    if (!rows) return rows.error();
    std::vector<outbox_entry> out;
    out.reserve(rows->size());
    for (const auto& r : *rows) {
        outbox_entry e{{to_u64(r[0]), to_u64(r[1]), to_u64(r[2])}, to_u64(r[3]), std::nullopt};
        if (r[4])
            e.doc = message_doc{e.key.app_id,
                                e.key.chat_number,
                                e.key.number,
                                r[5].value_or(""),
                                core::parse_sql_datetime(r[6].value_or("")),
                                core::parse_sql_datetime(r[7].value_or("")),
                                r[8],
                                r[9] == "1"};
        out.push_back(std::move(e));
    }
    return out;
}

core::result<void> index_outbox::clear(const std::vector<outbox_entry>& done) {
    if (done.empty()) return {};
    std::string keys;
    for (const auto& e : done)
        keys += fmt::format("{}({}, {}, {}, {})", keys.empty() ? "" : ",", e.key.app_id, e.key.chat_number,
                            e.key.number, e.version);
    auto r = db_.execute(
        "DELETE FROM index_outbox WHERE (application_id, chat_number, number, version) IN (" + keys + ")");
    if (!r) return r.error();
    return {};
}

core::result<double> index_outbox::backlog_age_s(std::int64_t now_ms) {
    auto rows = db_.query("SELECT queued_at FROM index_outbox ORDER BY queued_at LIMIT 1");
    if (!rows) return rows.error();
    if (rows->empty() || !rows->front()[0]) return 0.0;
    auto at = core::parse_sql_datetime(*rows->front()[0]);
    return now_ms > at ? static_cast<double>(now_ms - at) / 1000.0 : 0.0;
}

}  // namespace chat::store
