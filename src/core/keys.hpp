#pragma once
// Redis key builders. Every key carries a hash tag ({...}) so that the keys one Lua script touches
// live in one Redis Cluster slot: an application's keys share {token}, a chat's keys share
// {token:number}, so one hot application does not pin all of its chats to one slot.
#include <cstdint>
#include <string>
#include <string_view>

namespace chat::core::keys {

// Hash: id (MySQL id), seq (last chat number handed out).
std::string app(std::string_view token);
// String: idempotency record of a chat creation.
std::string app_idempotency(std::string_view token, std::string_view idempotency_key);
// Hash: app_id, seq (last message number handed out), created_at (ms).
std::string chat(std::string_view token, std::uint64_t chat_number);
// Hash: message number -> JSON of a message acknowledged but maybe not stored yet (read-your-writes).
std::string chat_pending(std::string_view token, std::uint64_t chat_number);
// String: idempotency record of a message creation.
std::string chat_idempotency(std::string_view token, std::uint64_t chat_number,
                             std::string_view idempotency_key);
// Sorted set: chat number -> created_at (ms) of chats handed out but not yet registered (see
// store::unregistered_chat). Lets message creation tell "not stored yet" (503) from "never" (404).
std::string app_unregistered(std::string_view token);
// Hash: message number -> deleted_at (ms) of deletions acknowledged but maybe not stored yet (reads see
// them at once, across API servers); the worker removes an entry once MariaDB holds the tombstone.
std::string chat_pending_deletions(std::string_view token, std::uint64_t chat_number);
// Sorted set of the chat's deleted message numbers (score = number): what unread counts leave out.
std::string chat_deleted(std::string_view token, std::uint64_t chat_number);
// Hash: user -> the highest message number the user has read in the chat (its read marker).
std::string chat_reads(std::string_view token, std::uint64_t chat_number);
// Hash: user -> requested_at (ms) of user erasures acknowledged by the broker (their status reads
// "queued" until the worker records the job in MariaDB).
std::string app_erasures(std::string_view token);
// Hash: tokens, ts (ms): the application's rate-limit bucket (same slot as the application's hash).
std::string app_rate(std::string_view token);
// Hash: tokens, ts (ms): a user's creation rate-limit bucket (the application's slot: one script call
// takes from both).
std::string user_rate(std::string_view token, std::string_view user);
// String: set once the numbering state was loaded from MySQL; its absence means Redis lost its data.
std::string seeded();

}  // namespace chat::core::keys
