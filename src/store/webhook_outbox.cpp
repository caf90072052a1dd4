#include "store/webhook_outbox.hpp"

#include <fmt/format.h>

#include <map>
#include <set>

#include "core/crypto.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "domain/webhook.hpp"

namespace chat::store {

namespace {

// How long a recorded delivery waits before it is first due (see the migration): longer than the
// batch transaction of another worker recording an earlier event of the same chat.
constexpr std::int64_t first_due_after_ms = 500;

struct endpoint {
    std::uint64_t id = 0;
    std::vector<std::string> events;
};

// The webhook-id header: the same for every copy of the event (a redelivery), distinct per endpoint.
std::string message_id(const std::string& key, std::uint64_t webhook_id) {
    return "msg_" + core::to_hex(core::sha256(key + "|" + std::to_string(webhook_id))).substr(0, 32);
}

std::string id_list(const std::vector<std::uint64_t>& ids) {
    std::string out;
    for (auto id : ids) out += fmt::format("{}{}", out.empty() ? "" : ",", id);
    return out;
}

}  // namespace

core::result<std::size_t> record_webhook_events(mysql_connection& db,
                                                const std::vector<webhook_event>& events) {
    if (events.empty()) return std::size_t{0};
    std::set<std::uint64_t> apps;
    for (const auto& e : events) apps.insert(e.app_id);
    auto rows =
        db.query("SELECT application_id, id, events FROM webhooks WHERE enabled = 1 AND application_id IN (" +
                 id_list({apps.begin(), apps.end()}) + ")");
    if (!rows) return rows.error();
    if (rows->empty()) return std::size_t{0};
    std::map<std::uint64_t, std::vector<endpoint>> by_app;
    for (const auto& r : *rows)
        by_app[to_u64(r[0])].push_back({to_u64(r[1]), domain::split_webhook_events(r[2].value_or(""))});

    const auto due = core::sql_datetime(core::now_ms() + first_due_after_ms);
    std::string values;
    std::size_t count = 0;
    for (const auto& e : events) {
        auto it = by_app.find(e.app_id);
        if (it == by_app.end()) continue;
        std::optional<std::string> payload;
        for (const auto& ep : it->second) {
            if (!domain::webhook_subscribes(ep.events, e.kind)) continue;
            if (!payload) {
                auto q = db.quote(e.payload);
                if (!q) return q.error();
                payload = std::move(*q);
            }
            values += fmt::format("{}({}, {}, '{}', '{}', {}, {}, '{}', '{}', NOW(3))",
                                  values.empty() ? "" : ",", e.app_id, ep.id, message_id(e.key, ep.id),
                                  e.kind, e.chat_number, *payload, core::sql_datetime(e.at_ms), due);
            ++count;
        }
    }
    if (values.empty()) return std::size_t{0};
    // One statement: its rows get increasing seq in this order. IGNORE: a copy already recorded.
    auto ok = db.execute(
        "INSERT IGNORE INTO webhook_deliveries (application_id, webhook_id, message_id, event, chat_number, "
        "payload, created_at, next_attempt_at, pending_since) VALUES " +
        values);
    if (!ok) return ok.error();
    return count;
}

core::result<std::vector<due_delivery>> claim_due_deliveries(mysql_connection& db, int limit,
                                                             int per_endpoint, std::int64_t lease_ms,
                                                             const std::vector<std::uint64_t>& busy) {
    std::vector<due_delivery> out;
    if (limit <= 0) return out;
    const std::string not_busy = busy.empty() ? "" : " AND d.webhook_id NOT IN (" + id_list(busy) + ")";
    // Heads only: no pending delivery of the same endpoint and chat comes before it (leased ones
    // included, so a chat has one attempt in flight at a time and they go in order).
    auto rows = db.query(
        fmt::format("SELECT d.seq FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
                    "WHERE d.status = 'pending' AND d.next_attempt_at <= NOW(3) "
                    "AND (d.lease_until IS NULL OR d.lease_until < NOW(3)) AND w.enabled = 1{} "
                    "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.webhook_id = d.webhook_id "
                    "AND p.chat_number = d.chat_number AND p.status = 'pending' AND p.seq < d.seq) "
                    "ORDER BY d.next_attempt_at, d.seq LIMIT {}",
                    not_busy, limit * 4));
    if (!rows) return rows.error();
    if (rows->empty()) return out;
    std::vector<std::uint64_t> seqs;
    for (const auto& r : *rows) seqs.push_back(to_u64(r[0]));
    // Leased to this sender only if no other took them meanwhile.
    const auto owner = core::make_token();
    auto leased = db.execute(fmt::format(
        "UPDATE webhook_deliveries SET lease_until = NOW(3) + INTERVAL {} MICROSECOND, lease_owner = '{}' "
        "WHERE seq IN ({}) AND status = 'pending' AND (lease_until IS NULL OR lease_until < NOW(3))",
        lease_ms * 1000, owner, id_list(seqs)));
    if (!leased) return leased.error();
    if (*leased == 0) return out;
    rows = db.query(fmt::format(
        "SELECT d.seq, d.application_id, d.webhook_id, d.message_id, d.event, d.chat_number, d.payload, "
        "GREATEST(d.created_at, d.pending_since), d.attempts, w.url, w.signing_secret, "
        "IF(w.previous_until > NOW(3), w.previous_secret, NULL) "
        "FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
        "WHERE d.seq IN ({}) AND d.lease_owner = '{}' ORDER BY d.next_attempt_at, d.seq",
        id_list(seqs), owner));
    if (!rows) return rows.error();
    std::map<std::uint64_t, int> per;
    std::vector<std::uint64_t> released;
    for (const auto& r : *rows) {
        due_delivery d{to_u64(r[0]),
                       to_u64(r[1]),
                       to_u64(r[2]),
                       r[3].value_or(""),
                       r[4].value_or(""),
                       to_u64(r[5]),
                       r[6].value_or(""),
                       core::parse_sql_datetime(r[7].value_or("")),
                       static_cast<int>(to_u64(r[8])),
                       r[9].value_or(""),
                       r[10].value_or(""),
                       r[11]};
        if (static_cast<int>(out.size()) >= limit || ++per[d.webhook_id] > per_endpoint) {
            released.push_back(d.seq);
            continue;
        }
        out.push_back(std::move(d));
    }
    if (!released.empty()) {
        auto ok =
            db.execute(fmt::format("UPDATE webhook_deliveries SET lease_until = NULL, lease_owner = NULL "
                                   "WHERE seq IN ({}) AND lease_owner = '{}'",
                                   id_list(released), owner));
        if (!ok) return ok.error();
    }
    return out;
}

core::result<void> settle_attempts(mysql_connection& db, const std::vector<attempt_record>& attempts) {
    if (attempts.empty()) return {};
    transaction tx(db);
    if (auto ok = tx.begin(); !ok) return ok.error();
    std::string values;
    for (const auto& a : attempts) {
        std::string error = "NULL";
        if (a.error) {
            auto q = db.quote(a.error->substr(0, 255));
            if (!q) return q.error();
            error = *q;
        }
        const std::string status = a.status_code ? std::to_string(*a.status_code) : "NULL";
        std::string next;
        switch (a.next) {
            case attempt_record::then::delivered:
                next = fmt::format("status = 'delivered', delivered_at = '{}'", core::sql_datetime(a.at_ms));
                break;
            case attempt_record::then::failed:
                next = "status = 'failed'";
                break;
            case attempt_record::then::retry:
                next = fmt::format("next_attempt_at = '{}'", core::sql_datetime(a.next_attempt_at_ms));
                break;
        }
        // Only the delivery as this attempt found it: a replay or a deletion meanwhile wins, and the
        // attempt is then not recorded either.
        auto updated = db.execute(
            fmt::format("UPDATE webhook_deliveries SET {}, attempts = {}, last_status = {}, last_error = {}, "
                        "lease_until = NULL, "
                        "lease_owner = NULL WHERE seq = {} AND status = 'pending' AND attempts = {}",
                        next, a.attempt, status, error, a.seq, a.attempt - 1));
        if (!updated) return updated.error();
        if (*updated == 0) continue;
        values += fmt::format("{}({}, {}, {}, {}, '{}', {}, {}, {})", values.empty() ? "" : ",", a.app_id,
                              a.webhook_id, a.seq, a.attempt, core::sql_datetime(a.at_ms),
                              std::max<std::int64_t>(a.duration_ms, 0), status, error);
    }
    if (!values.empty()) {
        auto ok = db.execute(
            "INSERT IGNORE INTO webhook_attempts (application_id, webhook_id, seq, attempt, at, duration_ms, "
            "status_code, error) VALUES " +
            values);
        if (!ok) return ok.error();
    }
    return tx.commit();
}

core::result<void> disable_webhook(mysql_connection& db, std::uint64_t webhook_id, const std::string& reason,
                                   std::int64_t now_ms) {
    auto q = db.quote(reason.substr(0, 512));
    if (!q) return q.error();
    auto ok = db.execute(fmt::format(
        "UPDATE webhooks SET enabled = 0, disabled_reason = {}, disabled_at = '{}', updated_at = '{}' "
        "WHERE id = {} AND enabled = 1",
        *q, core::sql_datetime(now_ms), core::sql_datetime(now_ms), webhook_id));
    if (!ok) return ok.error();
    return {};
}

core::result<std::uint64_t> purge_webhook_deliveries(mysql_connection& db, std::int64_t before_ms,
                                                     int limit) {
    auto rows =
        db.query(fmt::format("SELECT seq FROM webhook_deliveries WHERE status <> 'pending' AND created_at < "
                             "'{}' ORDER BY seq LIMIT {}",
                             core::sql_datetime(before_ms), limit));
    if (!rows) return rows.error();
    if (rows->empty()) return std::uint64_t{0};
    std::vector<std::uint64_t> seqs;
    for (const auto& r : *rows) seqs.push_back(to_u64(r[0]));
    const auto list = id_list(seqs);
    if (auto ok = db.execute("DELETE FROM webhook_attempts WHERE seq IN (" + list + ")"); !ok)
        return ok.error();
    auto gone =
        db.execute("DELETE FROM webhook_deliveries WHERE seq IN (" + list + ") AND status <> 'pending'");
    if (!gone) return gone.error();
    return *gone;
}

}  // namespace chat::store
