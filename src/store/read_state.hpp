#pragma once
// Deletions and read markers in Redis: what reads need at once, before (or beside) MariaDB.
//  - pending deletions: a deletion acknowledged by the broker is visible to every read from then on
//    (410, tombstones in lists), until the worker stored its tombstone (then MariaDB says it);
//  - deleted numbers of a chat (a sorted set): what unread counts leave out;
//  - read markers: user -> the highest number read, moved forward only, by one script that checks the
//    chat's last number in the same step.
// Every key of a chat shares its hash slot ({token:n}), so each operation is one round trip.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "store/async_redis.hpp"
#include "store/numbering.hpp"
#include "store/redis.hpp"

namespace chat::store {

// After the broker confirmed a deletion: the pending entry (24 h, like acknowledged messages) and the
// number in the chat's deleted set, to run in the publisher's after-confirm pipeline.
std::vector<std::vector<std::string>> deletion_commands(const std::string& token, std::uint64_t chat,
                                                        std::uint64_t number, std::int64_t deleted_at_ms);
// What reads must know of deletions beside MariaDB, in one round trip: whether the chat was deleted,
// and the chat's message deletions acknowledged but maybe not stored yet (number -> deleted_at, ms; of
// `number` only when one is given).
struct deletion_marks {
    bool chat_deleted = false;
    std::map<std::uint64_t, std::int64_t> messages;
};
core::result<deletion_marks> deletion_marks_of(redis_connection& r, const std::string& token,
                                               std::uint64_t chat,
                                               std::optional<std::uint64_t> number = std::nullopt);
// After the broker confirmed a chat's deletion: no message is numbered in it any more (the numbering
// script refuses a chat whose hash has `deleted`), reads answer it as absent.
std::vector<std::string> chat_deletion_command(const std::string& token, std::uint64_t chat,
                                               std::int64_t deleted_at_ms);
// The chat's deletions not stored yet: number -> deleted_at (ms).
core::result<std::map<std::uint64_t, std::int64_t>> pending_deletions(redis_connection& r,
                                                                      const std::string& token,
                                                                      std::uint64_t chat);
core::result<void> clear_pending_deletions(redis_connection& r, const std::vector<pending_ref>& refs);
// Adds numbers to chats' deleted sets (the erasure job, and the recovery from MariaDB).
core::result<void> add_deleted(redis_connection& r, const std::string& token, std::uint64_t chat,
                               const std::vector<std::uint64_t>& numbers);

// After the broker confirmed a user's erasure: its request time, for the status until the worker
// recorded the job.
std::vector<std::string> erasure_queued_command(const std::string& token, const std::string& user,
                                                std::int64_t requested_at_ms);
core::result<std::optional<std::int64_t>> erasure_queued(redis_connection& r, const std::string& token,
                                                         const std::string& user);

// A user's read state in a chat: its marker, the chat's last number, and how many deleted numbers lie
// above the marker (domain::unread makes the count of them).
struct read_state {
    std::uint64_t marker = 0;
    std::uint64_t last_number = 0;
    std::uint64_t deleted_above = 0;
};
// One round trip for all of them (pipelined scripts, one per chat).
core::result<std::vector<read_state>> read_states(redis_connection& r, const std::string& token,
                                                  const std::vector<std::uint64_t>& chats,
                                                  const std::string& user);
// Moves the marker forward: the marker after the move, or nullopt when `number` is above the chat's
// last number (domain::move_marker's rule, applied atomically with the chat's counter).
struct marker_move {
    std::uint64_t marker = 0;
    bool moved = false;
};
core::result<std::optional<marker_move>> move_marker(redis_connection& r, const std::string& token,
                                                     std::uint64_t chat, const std::string& user,
                                                     std::uint64_t number);
// After the broker confirmed a user's message: its sender has read it (its marker moves forward to
// it, never back), to run in the publisher's after-confirm pipeline.
std::vector<std::string> sender_read_command(const std::string& token, std::uint64_t chat,
                                             const std::string& user, std::uint64_t number);
// Every member's marker (user -> number).
core::result<std::map<std::string, std::uint64_t>> markers(redis_connection& r, const std::string& token,
                                                           std::uint64_t chat);
// A user's markers go (erasure); `chats`: where it had some.
core::result<void> drop_markers(redis_connection& r, const std::string& token,
                                const std::vector<std::uint64_t>& chats, const std::string& user);

// What MariaDB keeps of a chat's life, restored into Redis after a loss of Redis (the worker's
// recovery): whether it was deleted, its deleted numbers, its read markers.
struct chat_lifecycle {
    std::optional<std::int64_t> deleted_at_ms;
    std::vector<std::uint64_t> deleted;
    std::map<std::string, std::uint64_t> markers;
};
core::result<void> restore_lifecycle(redis_connection& r, const std::string& token, std::uint64_t chat,
                                     const chat_lifecycle& state);

}  // namespace chat::store
