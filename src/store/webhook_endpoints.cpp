#include "store/webhook_endpoints.hpp"

#include <fmt/format.h>
#include <netdb.h>
#include <sys/socket.h>

#include "core/time.hpp"
#include "domain/webhook.hpp"

namespace chat::store {

namespace {

constexpr const char* columns =
    "public_id, url, events, signing_secret, enabled, disabled_reason, disabled_at, created_at, updated_at";

webhook_endpoint endpoint_of(const row& r) {
    webhook_endpoint w;
    w.id = r[0].value_or("");
    w.url = r[1].value_or("");
    w.events = domain::split_webhook_events(r[2].value_or(""));
    w.signing_secret = r[3].value_or("");
    w.enabled = r[4].value_or("0") == "1";
    w.disabled_reason = r[5];
    if (r[6]) w.disabled_at_ms = core::parse_sql_datetime(*r[6]);
    w.created_at_ms = core::parse_sql_datetime(r[7].value_or(""));
    w.updated_at_ms = core::parse_sql_datetime(r[8].value_or(""));
    return w;
}

// The internal id of a public one, within the application.
core::result<std::optional<std::uint64_t>> internal_id(mysql_connection& db, std::uint64_t app_id,
                                                       const std::string& id) {
    auto q = db.quote(id);
    if (!q) return q.error();
    auto rows = db.query(
        fmt::format("SELECT id FROM webhooks WHERE application_id = {} AND public_id = {}", app_id, *q));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<std::uint64_t>{};
    return std::optional<std::uint64_t>{to_u64(rows->front()[0])};
}

}  // namespace

core::result<bool> lock_application(mysql_connection& db, const std::string& token) {
    auto t = db.quote(token);
    if (!t) return t.error();
    auto rows = db.query(fmt::format("SELECT id FROM applications WHERE token = {} FOR UPDATE", *t));
    if (!rows) return rows.error();
    return !rows->empty();
}

core::result<void> insert_webhook(mysql_connection& db, std::uint64_t app_id, const webhook_endpoint& w) {
    // The application's row, locked, serializes its creations: two at once never make 21.
    transaction tx(db);
    if (auto ok = tx.begin(); !ok) return ok.error();
    if (auto locked = db.query(fmt::format("SELECT id FROM applications WHERE id = {} FOR UPDATE", app_id));
        !locked)
        return locked.error();
    auto count = db.query(fmt::format("SELECT COUNT(*) FROM webhooks WHERE application_id = {}", app_id));
    if (!count) return count.error();
    if (!count->empty() && to_u64(count->front()[0]) >= max_webhooks_per_app)
        return core::make_error(core::errc::conflict,
                                fmt::format("an application has at most {} webhooks", max_webhooks_per_app));
    auto id = db.quote(w.id);
    auto url = db.quote(w.url);
    auto events = db.quote(domain::join_webhook_events(w.events));
    auto secret = db.quote(w.signing_secret);
    if (!id || !url || !events || !secret)
        return core::make_error(core::errc::unavailable, "storage is unavailable, retry");
    const auto at = core::sql_datetime(w.created_at_ms);
    auto ok = db.execute(fmt::format(
        "INSERT INTO webhooks (application_id, public_id, url, events, signing_secret, enabled, created_at, "
        "updated_at) VALUES ({}, {}, {}, {}, {}, 1, '{}', '{}')",
        app_id, *id, *url, *events, *secret, at, at));
    if (!ok) return ok.error();
    return tx.commit();
}

core::result<std::vector<webhook_endpoint>> list_webhooks(mysql_connection& db, std::uint64_t app_id) {
    auto rows = db.query(
        fmt::format("SELECT {} FROM webhooks WHERE application_id = {} ORDER BY id", columns, app_id));
    if (!rows) return rows.error();
    std::vector<webhook_endpoint> out;
    for (const auto& r : *rows) out.push_back(endpoint_of(r));
    return out;
}

core::result<std::optional<webhook_endpoint>> find_webhook(mysql_connection& db, std::uint64_t app_id,
                                                           const std::string& id) {
    auto q = db.quote(id);
    if (!q) return q.error();
    auto rows = db.query(fmt::format("SELECT {} FROM webhooks WHERE application_id = {} AND public_id = {}",
                                     columns, app_id, *q));
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<webhook_endpoint>{};
    return std::optional<webhook_endpoint>{endpoint_of(rows->front())};
}

core::result<bool> update_webhook(mysql_connection& db, std::uint64_t app_id, const std::string& id,
                                  const webhook_change& change, std::int64_t now_ms) {
    auto public_id = db.quote(id);
    if (!public_id) return public_id.error();
    std::string set = fmt::format("updated_at = '{}'", core::sql_datetime(now_ms));
    if (change.url) {
        auto q = db.quote(*change.url);
        if (!q) return q.error();
        set += ", url = " + *q;
    }
    if (change.events) {
        auto q = db.quote(domain::join_webhook_events(*change.events));
        if (!q) return q.error();
        set += ", events = " + *q;
    }
    if (change.enabled) {
        set +=
            *change.enabled ? ", enabled = 1, disabled_reason = NULL, disabled_at = NULL" : ", enabled = 0";
    }
    transaction tx(db);
    if (auto ok = tx.begin(); !ok) return ok.error();
    // Locked: whether it was disabled is the state this change replaces.
    auto found = db.query(fmt::format(
        "SELECT id, enabled FROM webhooks WHERE application_id = {} AND public_id = {} FOR UPDATE", app_id,
        *public_id));
    if (!found) return found.error();
    if (found->empty()) return false;
    const auto internal = to_u64(found->front()[0]);
    const bool was_enabled = found->front()[1].value_or("0") == "1";
    auto ok = db.execute(
        fmt::format("UPDATE webhooks SET {} WHERE application_id = {} AND id = {}", set, app_id, internal));
    if (!ok) return ok.error();
    if (change.enabled && *change.enabled && !was_enabled) {
        // What waited while it was disabled goes now. Only then: on an enabled endpoint this would take
        // the leases of attempts in flight, and another sender would send them again at once.
        ok = db.execute(fmt::format(
            "UPDATE webhook_deliveries SET next_attempt_at = NOW(3), pending_since = NOW(3), lease_until = "
            "NULL, "
            "lease_owner = NULL WHERE application_id = {} AND webhook_id = {} AND status = 'pending'",
            app_id, internal));
        if (!ok) return ok.error();
    }
    if (auto c = tx.commit(); !c) return c.error();
    return true;
}

core::result<bool> rotate_webhook_secret(mysql_connection& db, std::uint64_t app_id, const std::string& id,
                                         const std::string& new_secret, std::int64_t now_ms,
                                         std::int64_t previous_until_ms) {
    auto q = db.quote(id);
    auto secret = db.quote(new_secret);
    if (!q || !secret) return core::make_error(core::errc::unavailable, "storage is unavailable, retry");
    auto ok = db.execute(fmt::format(
        "UPDATE webhooks SET previous_secret = signing_secret, previous_until = '{}', signing_secret = {}, "
        "updated_at = '{}' WHERE application_id = {} AND public_id = {}",
        core::sql_datetime(previous_until_ms), *secret, core::sql_datetime(now_ms), app_id, *q));
    if (!ok) return ok.error();
    return *ok > 0;
}

core::result<bool> delete_webhook(mysql_connection& db, std::uint64_t app_id, const std::string& id) {
    auto internal = internal_id(db, app_id, id);
    if (!internal) return internal.error();
    if (!*internal) return false;
    transaction tx(db);
    if (auto ok = tx.begin(); !ok) return ok.error();
    for (const char* table : {"webhook_attempts", "webhook_deliveries"}) {
        auto ok = db.execute(fmt::format("DELETE FROM {} WHERE application_id = {} AND webhook_id = {}",
                                         table, app_id, **internal));
        if (!ok) return ok.error();
    }
    auto ok = db.execute(
        fmt::format("DELETE FROM webhooks WHERE application_id = {} AND id = {}", app_id, **internal));
    if (!ok) return ok.error();
    if (auto c = tx.commit(); !c) return c.error();
    return true;
}

core::result<std::optional<webhook_attempt_page>> list_webhook_attempts(
    mysql_connection& db, std::uint64_t app_id, const std::string& id,
    std::optional<std::pair<std::uint64_t, int>> before, int limit) {
    auto internal = internal_id(db, app_id, id);
    if (!internal) return internal.error();
    if (!*internal) return std::optional<webhook_attempt_page>{};
    const std::string older =
        before ? fmt::format(" AND (a.seq, a.attempt) < ({}, {})", before->first, before->second) : "";
    auto rows =
        db.query(fmt::format("SELECT d.message_id, d.event, d.chat_number, a.attempt, a.at, a.duration_ms, "
                             "a.status_code, a.error, "
                             "d.status, d.next_attempt_at, a.seq FROM webhook_attempts a JOIN "
                             "webhook_deliveries d ON d.application_id "
                             "= a.application_id AND d.webhook_id = a.webhook_id AND d.seq = a.seq WHERE "
                             "a.application_id = {} AND "
                             "a.webhook_id = {}{} ORDER BY a.seq DESC, a.attempt DESC LIMIT {}",
                             app_id, **internal, older, limit + 1));
    if (!rows) return rows.error();
    webhook_attempt_page page;
    for (const auto& r : *rows) {
        if (static_cast<int>(page.attempts.size()) == limit) {
            page.more = true;
            break;
        }
        webhook_attempt_row a;
        a.message_id = r[0].value_or("");
        a.event = r[1].value_or("");
        a.chat_number = to_u64(r[2]);
        a.attempt = static_cast<int>(to_u64(r[3]));
        a.at_ms = core::parse_sql_datetime(r[4].value_or(""));
        a.duration_ms = static_cast<std::int64_t>(to_u64(r[5]));
        if (r[6]) a.status_code = static_cast<int>(std::stol(*r[6]));
        a.error = r[7];
        a.delivery_status = r[8].value_or("");
        if (a.delivery_status == "pending" && r[9]) a.next_attempt_at_ms = core::parse_sql_datetime(*r[9]);
        a.seq = to_u64(r[10]);
        page.attempts.push_back(std::move(a));
    }
    auto pending = db.query(fmt::format(
        "SELECT COUNT(*) FROM webhook_deliveries WHERE application_id = {} AND webhook_id = {} AND status = "
        "'pending'",
        app_id, **internal));
    if (!pending) return pending.error();
    page.pending = pending->empty() ? 0 : to_u64(pending->front()[0]);
    return std::optional<webhook_attempt_page>{std::move(page)};
}

core::result<std::optional<std::uint64_t>> replay_webhook(mysql_connection& db, std::uint64_t app_id,
                                                          const std::string& id, std::int64_t since_ms) {
    auto internal = internal_id(db, app_id, id);
    if (!internal) return internal.error();
    if (!*internal) return std::optional<std::uint64_t>{};
    const auto since = core::sql_datetime(since_ms);
    transaction tx(db);
    if (auto ok = tx.begin(); !ok) return ok.error();
    // The replayed deliveries' attempts start again at 1 (fast retries), so their earlier attempts go:
    // (seq, attempt) is the attempts' key, and the new ones would be ignored as duplicates of the old.
    auto ok = db.execute(fmt::format(
        "DELETE a FROM webhook_attempts a JOIN webhook_deliveries d ON d.application_id = a.application_id "
        "AND d.webhook_id = a.webhook_id AND d.seq = a.seq WHERE d.application_id = {} AND d.webhook_id = {} "
        "AND d.created_at >= '{}'",
        app_id, **internal, since));
    if (!ok) return ok.error();
    ok = db.execute(fmt::format(
        "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = NOW(3), "
        "pending_since = NOW(3), lease_until = NULL, lease_owner = NULL, delivered_at = NULL, last_status = "
        "NULL, last_error = NULL "
        "WHERE application_id = {} AND webhook_id = {} AND created_at >= '{}'",
        app_id, **internal, since));
    if (!ok) return ok.error();
    if (auto c = tx.commit(); !c) return c.error();
    return std::optional<std::uint64_t>{*ok};
}

std::vector<boost::asio::ip::address> resolve_webhook_host(const std::string& host) {
    std::vector<boost::asio::ip::address> out;
    boost::system::error_code ec;
    auto literal = boost::asio::ip::make_address(host, ec);
    if (!ec) return {literal};
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) return out;
    for (auto* p = found; p != nullptr; p = p->ai_next) {
        char text[NI_MAXHOST];
        if (getnameinfo(p->ai_addr, p->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) != 0)
            continue;
        auto a = boost::asio::ip::make_address(text, ec);
        if (!ec) out.push_back(a);
    }
    freeaddrinfo(found);
    return out;
}

}  // namespace chat::store
