#pragma once
// The rules of a message's life after its creation, in one place, pure and unit-tested
// (tests/unit/domain/lifecycle_test.cpp): what a deletion leaves (a tombstone), why nothing brings a
// deleted body back whatever the order of events, how read markers move and what "unread" is.
//
// A deletion never removes a row: the message's number stays taken, its row becomes a tombstone (body
// erased, deleted_at set), its edit history is erased, its search document becomes an empty one (no
// terms: nothing finds it). Every later writer starts from the row as it is now, so:
//  - a creation stored after its deletion (still queued, or redelivered) finds the tombstone and
//    changes nothing (creation_outcome);
//  - an edit of a tombstone changes nothing (the UPDATE is guarded by deleted_at IS NULL);
//  - a search document is always built from the current row (a tombstone's is empty), and its version
//    (updated_at, which the deletion moves forward) keeps an older document from replacing it.
#include <cstdint>
#include <optional>
#include <string>

#include "core/error.hpp"

namespace chat::domain {

// What the worker makes of a creation whose number is already stored.
enum class creation_outcome {
    stored,    // the row is this creation (stored now or by an earlier delivery)
    deleted,   // the row is a tombstone: deleted before or after; nothing to write, nothing to index
    conflict,  // another creation holds the number (a lost Redis counter): dead-lettered
};
// `stored_creation_id`: the row's (empty for a tombstone written before its creation arrived).
creation_outcome judge_creation(const std::string& stored_creation_id, bool stored_deleted,
                                const std::string& event_creation_id);

// Whether a message stored now is erased on arrival: its chat was deleted (a deleted chat keeps no
// message), or its sender was erased after it was sent (its erasure may have run already; a user id
// used again after an erasure writes anew). Also for a creation still queued when the erasure ran.
bool erased_on_arrival(bool chat_deleted, std::optional<std::int64_t> sender_erased_at_ms,
                       std::int64_t created_at_ms);

// A read marker moves forward only: a number above the chat's last is refused (422), one at or below
// the current marker changes nothing. Returns the marker after the move.
core::result<std::uint64_t> move_marker(std::uint64_t current, std::uint64_t requested,
                                        std::uint64_t last_number);

// Unread messages of a user: those numbered above its marker, deleted ones not counted. Exact: the
// numbers handed out above the marker minus the deleted ones among them (never a counter of its own).
std::uint64_t unread(std::uint64_t last_number, std::uint64_t marker, std::uint64_t deleted_above_marker);

// How long retention keeps messages: whole days, 1..36500, or none (kept for ever).
core::result<std::optional<int>> parse_retention_days(std::optional<std::int64_t> days);

}  // namespace chat::domain
