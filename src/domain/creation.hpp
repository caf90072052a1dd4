#pragma once
// The rules of creation that span servers, in one place, as pure functions over typed values.
//
// A message is handed a number by Redis (store/numbering.cpp's script), which also writes a
// *placeholder* into the chat's pending hash; once the broker confirmed the persistent message, the
// publisher overwrites the placeholder with the *acknowledged* message; once the worker stored it in
// MariaDB it deletes the entry. A read by number therefore finds one of:
//   a row in MariaDB                  -> stored: the row is the answer;
//   an acknowledged entry             -> acknowledged, not stored yet: the entry is the answer;
//   a placeholder younger than the TTL -> being created (acknowledged or about to be): retry (503);
//   nothing, or an old placeholder    -> absent: 404 (an old placeholder is a gap: its creation failed).
// Chats follow the same rule with the "handed-out" mark of store/numbering.hpp in place of the
// placeholder. The flows that apply these rules are in api/service.cpp; the stores only move bytes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace chat::domain {

// How long a handed-out number whose creation left no other trace (a chat nobody registered, a message
// whose acknowledged entry was never written) counts as "being created": 503, retry. Past it the
// number is taken for a gap (its creation failed) and reads answer 404 again. Generous: it only
// matters when Redis was away right after the confirm while the worker was behind.
inline constexpr std::int64_t handed_out_ttl_ms = 3600 * 1000;

// Whether a number handed out at `handed_out_at_ms` still counts as being created at `now_ms`.
constexpr bool still_being_created(std::int64_t handed_out_at_ms, std::int64_t now_ms) {
    return now_ms - handed_out_at_ms < handed_out_ttl_ms;
}

// The allocation's mark: "@<handed out at, ms>". Written by the numbering script, in this format.
struct placeholder {
    std::int64_t handed_out_at_ms = 0;
    friend bool operator==(const placeholder&, const placeholder&) = default;
};
// The confirmed message, kept until the worker stored it: JSON {"body", "created_at"} and "sender"
// when it has one.
struct acknowledged {
    std::string body;
    std::int64_t created_at_ms = 0;
    std::optional<std::string> sender = {};
    friend bool operator==(const acknowledged&, const acknowledged&) = default;
};
using pending_entry = std::variant<placeholder, acknowledged>;

std::string encode(const placeholder& p);
std::string encode(const acknowledged& a);
// Either kind, or std::nullopt for anything else (an entry nobody of ours wrote counts as absent).
std::optional<pending_entry> parse_pending(std::string_view text);

enum class pending_state { acknowledged, being_created, absent };
struct pending_read {
    pending_state state = pending_state::absent;
    std::optional<acknowledged> message;  // when acknowledged
};
// What the pending entry of a message MariaDB does not hold says (std::nullopt: there is none). An
// entry that parses as neither kind counts as being created: something of ours wrote it, and the
// worker settles it when it stores (or dead-letters) the message; claiming "absent" could deny an
// acknowledged message.
pending_read read_pending(const std::optional<std::string>& entry, std::int64_t now_ms);

}  // namespace chat::domain
