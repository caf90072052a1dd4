#pragma once
// The events that travel through RabbitMQ from the API to the workers. Each carries everything the
// worker needs to store it without asking anyone (no ordering dependency between events), plus a
// creation id: redelivery of the same event is recognised by it, and a different event claiming an
// already stored number is a conflict the worker refuses to overwrite.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.hpp"

namespace chat::domain {

struct chat_created {
    std::uint64_t app_id = 0;
    std::string token;
    std::uint64_t number = 0;
    std::string creation_id;
    std::int64_t created_at_ms = 0;
    std::string request_id = {};              // the API request that created it (for logs); may be empty
    std::optional<std::string> creator = {};  // the user who created it: its first member
};

struct message_created {
    std::uint64_t app_id = 0;
    std::string token;
    std::uint64_t chat_number = 0;
    std::uint64_t number = 0;
    std::string body;
    std::string creation_id;
    std::int64_t created_at_ms = 0;
    std::string request_id = {};
    std::optional<std::string> sender = {};  // set by the server from the credential; none when open
};

// Sent after an edit was written to MySQL: the worker re-indexes the message from MySQL.
struct message_edited {
    std::uint64_t app_id = 0;
    std::uint64_t chat_number = 0;
    std::uint64_t number = 0;
    std::string request_id = {};
};

// A message deleted (DELETE …/messages/{m}): the worker makes its row a tombstone, whether the
// creation was stored before or comes later (domain/lifecycle.hpp).
struct message_deleted {
    std::uint64_t app_id = 0;
    std::string token;
    std::uint64_t chat_number = 0;
    std::uint64_t number = 0;
    std::int64_t deleted_at_ms = 0;
    std::string request_id = {};
    // When the message was created (a tombstone stored before its creation keeps it); 0: unknown.
    std::int64_t created_at_ms = 0;
};

// A chat deleted (DELETE …/chats/{n}): the worker marks it and queues the erasure of its messages.
struct chat_deleted {
    std::uint64_t app_id = 0;
    std::string token;
    std::uint64_t number = 0;
    std::int64_t deleted_at_ms = 0;
    std::string request_id = {};
};

// A user erased (DELETE …/users/{user}): memberships and markers go, and the erasure of every message
// the user sent is queued.
struct user_erased {
    std::uint64_t app_id = 0;
    std::string token;
    std::string user;
    std::int64_t requested_at_ms = 0;
    std::string request_id = {};
};

// A read marker moved (PUT …/chats/{n}/read): the worker keeps MariaDB's copy, which Redis is recovered
// from.
struct read_marked {
    std::uint64_t app_id = 0;
    std::string token;
    std::uint64_t chat_number = 0;
    std::string user;
    std::uint64_t number = 0;
    std::int64_t at_ms = 0;
    std::string request_id = {};
};

using event = std::variant<chat_created, message_created, message_edited, message_deleted, chat_deleted,
                           user_erased, read_marked>;

std::string encode(const event& e);
// The request id an event carries ("" when none).
const std::string& request_id(const event& e);
core::result<event> decode(std::string_view json);

// An envelope: several events in one broker message, so the broker's per-message work (one index
// entry, one confirm, one delivery, one ack) is paid once for a whole group-commit round.
// Wire format (text, length-prefixed so that one bad item never hides the others):
//
//   chat.envelope/1 <count>\n
//   <byte length of item 1>\n<item 1: one event's JSON, exactly as encode() wrote it>\n
//   ...
//   <byte length of item n>\n<item n>\n
//
// Lengths and the count are decimal without sign or leading zeros; nothing may follow the last
// item. A body that does not start with the magic "chat.envelope/" is a single event in the old
// format (one event's JSON per message), which every worker keeps accepting.
inline constexpr std::string_view envelope_magic = "chat.envelope/1 ";
inline constexpr std::string_view envelope_content_type = "application/vnd.chat.envelope";
// The most items a decoder accepts: the publisher writes at most publisher::max_envelope_events
// (256 by default); anything claiming more is not ours and is refused whole, before any allocation.
inline constexpr std::size_t max_decoded_envelope_events = 10000;

// Never throws; the items are copied as given (each must be one event's JSON for a worker to store it).
std::string encode_envelope(const std::vector<std::string_view>& event_jsons);

// Whether a broker message body is in the envelope format (of any version).
bool is_envelope(std::string_view body);

// One event of a delivery: its exact bytes (what goes to the dead-letter queue if it cannot be
// stored) and the decoded event or why it is poison.
struct delivery_item {
    std::string json;
    core::result<event> ev;
};

// Decodes a broker message of either format. An old single-event message gives one item (its
// decode error, if any, is that item's). An error is returned only for an envelope whose framing is
// broken (bad header, unknown version, a length past the end, trailing bytes, too many items): its
// items cannot be told apart, so the whole message is poison. Never throws.
core::result<std::vector<delivery_item>> decode_delivery(std::string_view body);

}  // namespace chat::domain
