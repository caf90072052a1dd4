#pragma once
// The webhook outbox in MariaDB (db/migrations/005_webhooks.sql): events recorded in the transaction of
// the change that caused them, one row per subscribed endpoint, then claimed, attempted and settled by
// the worker's sender (worker/webhook_sender.hpp). Rules (what an answer means, when to retry, the
// signature) are in domain/webhook.hpp; this is only their SQL.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "store/mysql.hpp"

namespace chat::store {

// One event of an application, for every endpoint subscribed to its kind.
struct webhook_event {
    std::uint64_t app_id = 0;
    std::string kind;               // one of domain::webhook_event_kinds
    std::uint64_t chat_number = 0;  // 0: application-wide (app.updated); the unit of ordering
    std::string payload;            // the request body, as it will be sent and signed
    std::int64_t at_ms = 0;         // when it happened
    // Identifies the event: a redelivered copy has the same key, and records nothing again. The
    // webhook-id header derives from it and the endpoint.
    std::string key;
};

// Records `events`, in this order, for every enabled endpoint of their application that subscribes to
// their kind. Runs in the caller's transaction (the change's). Returns how many deliveries it wrote.
core::result<std::size_t> record_webhook_events(mysql_connection& db,
                                                const std::vector<webhook_event>& events);

// A delivery claimed by a sender: the head (oldest pending) of its endpoint's chat, due now.
struct due_delivery {
    std::uint64_t seq = 0;
    std::uint64_t app_id = 0;
    std::uint64_t webhook_id = 0;  // internal
    std::string message_id;        // webhook-id
    std::string kind;
    std::uint64_t chat_number = 0;
    std::string payload;
    // The event's time, or when it became pending again (a replay, a re-enabled endpoint): the retry
    // window counts from it.
    std::int64_t event_at_ms = 0;
    int attempts = 0;  // before this one
    std::string url;
    std::string signing_secret;
    std::optional<std::string> previous_secret;  // still signing beside it (rotation)
};
// Claims up to `limit` due heads for `lease_ms` (another sender skips them until then), at most
// `per_endpoint` per endpoint, skipping the endpoints in `busy` (full on this sender).
core::result<std::vector<due_delivery>> claim_due_deliveries(mysql_connection& db, int limit,
                                                             int per_endpoint, std::int64_t lease_ms,
                                                             const std::vector<std::uint64_t>& busy);

// One attempt's outcome, with what follows from it (domain::judge_attempt, retry_delay_ms).
struct attempt_record {
    std::uint64_t seq = 0;
    std::uint64_t app_id = 0;
    std::uint64_t webhook_id = 0;
    int attempt = 0;  // 1, 2, …
    std::int64_t at_ms = 0;
    std::int64_t duration_ms = 0;
    std::optional<int> status_code;
    std::optional<std::string> error;  // never a secret: a curl error text or "forbidden address"
    enum class then { delivered, retry, failed } next = then::retry;
    std::int64_t next_attempt_at_ms = 0;  // then::retry
};
core::result<void> settle_attempts(mysql_connection& db, const std::vector<attempt_record>& attempts);
// An endpoint whose deliveries failed for the whole retry window stops (its pending deliveries stay).
core::result<void> disable_webhook(mysql_connection& db, std::uint64_t webhook_id, const std::string& reason,
                                   std::int64_t now_ms);

// Settled deliveries (delivered or failed) of events older than `before_ms` go, with their attempts,
// at most `limit` of them; returns how many went. Replay reaches back as far as what is kept.
core::result<std::uint64_t> purge_webhook_deliveries(mysql_connection& db, std::int64_t before_ms, int limit);

}  // namespace chat::store
