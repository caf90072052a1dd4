#pragma once
// The SQL of webhook endpoints as the API manages them (POST/GET/PUT/DELETE …/webhooks, rotation,
// the deliveries page, replay), over db/migrations/005_webhooks.sql. Every statement leads with the
// application. Public ids ("wh_…") only: the internal id never leaves this file's callers' servers.
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "store/mysql.hpp"

namespace chat::store {

struct webhook_endpoint {
    std::string id;  // public
    std::string url;
    std::vector<std::string> events;
    std::string signing_secret;  // never in a view but the creation's and the rotation's
    bool enabled = true;
    std::optional<std::string> disabled_reason;
    std::optional<std::int64_t> disabled_at_ms;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
};

inline constexpr int max_webhooks_per_app = 20;

// Locks the application's row (SELECT … FOR UPDATE) in the caller's transaction, so a change of its
// settings reads the state it replaces (app.updated is recorded only when that changed). false: no such
// application.
core::result<bool> lock_application(mysql_connection& db, const std::string& token);

// errc::conflict when the application has max_webhooks_per_app already.
core::result<void> insert_webhook(mysql_connection& db, std::uint64_t app_id, const webhook_endpoint& w);
core::result<std::vector<webhook_endpoint>> list_webhooks(mysql_connection& db, std::uint64_t app_id);
core::result<std::optional<webhook_endpoint>> find_webhook(mysql_connection& db, std::uint64_t app_id,
                                                           const std::string& id);
struct webhook_change {
    std::optional<std::string> url;
    std::optional<std::vector<std::string>> events;
    std::optional<bool> enabled;
};
// false when there is no such endpoint. Enabling a disabled endpoint makes its pending deliveries due.
core::result<bool> update_webhook(mysql_connection& db, std::uint64_t app_id, const std::string& id,
                                  const webhook_change& change, std::int64_t now_ms);
// The old secret signs beside the new one until `previous_until_ms`. false: no such endpoint.
core::result<bool> rotate_webhook_secret(mysql_connection& db, std::uint64_t app_id, const std::string& id,
                                         const std::string& new_secret, std::int64_t now_ms,
                                         std::int64_t previous_until_ms);
// With its deliveries and attempts. false: no such endpoint.
core::result<bool> delete_webhook(mysql_connection& db, std::uint64_t app_id, const std::string& id);

struct webhook_attempt_row {
    std::string message_id;
    std::string event;
    std::uint64_t chat_number = 0;
    int attempt = 0;
    std::int64_t at_ms = 0;
    std::int64_t duration_ms = 0;
    std::optional<int> status_code;
    std::optional<std::string> error;
    std::string delivery_status;                     // pending, delivered, failed
    std::optional<std::int64_t> next_attempt_at_ms;  // pending only
    std::uint64_t seq = 0;                           // for the cursor
};
struct webhook_attempt_page {
    std::vector<webhook_attempt_row> attempts;  // newest first
    std::uint64_t pending = 0;
    bool more = false;
};
// Attempts older than (before_seq, before_attempt) when given. nullopt: no such endpoint.
core::result<std::optional<webhook_attempt_page>> list_webhook_attempts(
    mysql_connection& db, std::uint64_t app_id, const std::string& id,
    std::optional<std::pair<std::uint64_t, int>> before, int limit);
// Every delivery of events at or after since_ms becomes pending again, due now, its attempts counted
// from 0 again and its earlier attempt rows gone (the page shows the replay's). nullopt: no endpoint.
core::result<std::optional<std::uint64_t>> replay_webhook(mysql_connection& db, std::uint64_t app_id,
                                                          const std::string& id, std::int64_t since_ms);

// The addresses a webhook host resolves to (getaddrinfo: blocking, for the blocking pool). Empty when
// it does not resolve.
std::vector<boost::asio::ip::address> resolve_webhook_host(const std::string& host);

}  // namespace chat::store
