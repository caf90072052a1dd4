#pragma once
// Numbering state in Redis: the per-application chat counter, the per-chat message counter, the
// idempotency records, and the acknowledged-but-not-yet-stored messages (read-your-writes). Each
// operation is one round trip; the ones that must be atomic are Lua scripts touching one hash slot.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/async_redis.hpp"
#include "store/redis.hpp"

namespace chat::store {

struct allocation {
    enum class kind { unknown_parent, allocated, replayed } status = kind::unknown_parent;
    std::uint64_t app_id = 0;
    std::uint64_t number = 0;
    std::string creation_id;
    std::int64_t created_at_ms = 0;
};

struct allocation_request {
    std::string counter_key;      // keys::app(token) for chats, keys::chat(token, n) for messages
    std::string idempotency_key;  // full Redis key, or empty when the client sent none
    // Chats only: keys::app_unregistered(token). The number handed out is marked there until the chat
    // is registered, so that message creation can tell a chat not stored yet from one that never was.
    std::string unregistered_key = {};
    // Messages only: keys::chat_pending(token, chat). The allocation writes a placeholder there (see
    // pending_placeholder_at), replaced by the message once the broker confirmed it, so that a read
    // can tell "acknowledged, not stored yet" from "never" even when that replacement was lost.
    std::string pending_key = {};
    std::string creation_id;
    std::uint64_t fingerprint = 0;  // of the request; a reused key with another request is a conflict
    std::int64_t created_at_ms = 0;
};

inline constexpr int idempotency_ttl_s = 24 * 3600;
// A chat's pending hash expires this long after its last write (a bound on what an abandoned chat
// leaves in Redis; the worker deletes entries as it stores them).
inline constexpr int pending_ttl_s = 24 * 3600;

// Checks that the parent exists and takes the next number, atomically; or replays the idempotency
// record. Fails with errc::conflict when the idempotency key was used for a different request.
// Two clients, one script: the blocking one for the pool, the asynchronous one for the I/O threads
// (the creation path: the allocations of concurrent requests are pipelined on a few connections).
core::result<allocation> allocate_number(redis_connection& r, const allocation_request& req);
boost::asio::awaitable<core::result<allocation>> allocate_number(redis::client& r,
                                                                 const allocation_request& req);
// The script's answer read as an allocation (pure; shared by both clients, tested without Redis).
core::result<allocation> read_allocation(const redis::reply& answer, const allocation_request& req);
// The application id Redis registered for token: std::nullopt when it holds none or an unreadable one
// (logged), so that the caller asks MariaDB, the source of truth for applications.
core::result<std::optional<std::uint64_t>> registered_app_id(redis_connection& r, const std::string& token);
// Whether Redis answers PING.
core::result<void> ping(redis_connection& r);
// Whether Redis holds the numbering state (see keys::seeded()).
core::result<bool> is_seeded(redis_connection& r);
core::result<void> mark_seeded(redis_connection& r);
// Registers an application (after its MySQL row exists); never lowers the counter.
core::result<void> register_app(redis_connection& r, const std::string& token, std::uint64_t app_id);
// Makes a chat known to message creation and clears its handed-out mark; never lowers the counter.
// seq_at_least: the highest stored number. creator: the user who created it (empty: none), its member
// until the worker stored the chat and its member row.
core::result<void> register_chat(redis_connection& r, const std::string& token, std::uint64_t chat_number,
                                 std::uint64_t app_id, std::int64_t created_at_ms,
                                 std::uint64_t seq_at_least = 0, const std::string& creator = {});
boost::asio::awaitable<core::result<void>> register_chat(redis::client& r, const std::string& token,
                                                         std::uint64_t chat_number, std::uint64_t app_id,
                                                         std::int64_t created_at_ms, std::string creator);
// When chat_number was handed out less than domain::handed_out_ttl_ms before now_ms and is not
// registered yet: its created_at (ms). The chat is acknowledged or about to be, not stored yet.
core::result<std::optional<std::int64_t>> unregistered_chat(redis_connection& r, const std::string& token,
                                                            std::uint64_t chat_number, std::int64_t now_ms);
// Raises an application's chat counter to at least seq (used when recovering from MySQL).
core::result<void> raise_app_counter(redis_connection& r, const std::string& token, std::uint64_t app_id,
                                     std::uint64_t seq);

struct chat_meta {
    std::uint64_t app_id = 0;
    std::uint64_t last_number = 0;
    std::int64_t created_at_ms = 0;
    std::optional<std::string> creator;
    std::optional<std::int64_t> deleted_at_ms;  // deleted: no message is numbered in it any more
};
core::result<std::optional<chat_meta>> get_chat_meta(redis_connection& r, const std::string& token,
                                                     std::uint64_t chat_number);

// The acknowledged message, kept until the worker stored it (domain::acknowledged, encoded). Written
// once the broker confirmed it, by the publisher, pipelined with the rest of its batch, over the
// placeholder the allocation wrote (see domain/creation.hpp).
std::vector<std::vector<std::string>> pending_commands(const std::string& token, std::uint64_t chat_number,
                                                       std::uint64_t number, const std::string& json);
core::result<std::optional<std::string>> get_pending(redis_connection& r, const std::string& token,
                                                     std::uint64_t chat_number, std::uint64_t number);
struct pending_ref {
    std::string token;
    std::uint64_t chat_number = 0;
    std::uint64_t number = 0;
};
core::result<void> clear_pending(redis_connection& r, const std::vector<pending_ref>& refs);

// 64-bit FNV-1a: a stable fingerprint of a request for idempotency checks.
std::uint64_t fingerprint(std::string_view data);

}  // namespace chat::store
