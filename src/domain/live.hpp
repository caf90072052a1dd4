#pragma once
// Live delivery of messages to subscribers (SSE streams, long polls): the event that API servers fan
// out to each other, and the rule that turns live events, which may arrive late, twice or out of
// order, into a stream that carries every message number of a chat exactly once and in order.
// Pure: no I/O, no clock of its own (times are passed in). Unit-tested in tests/unit/domain/live_test.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace chat::domain {

// created / updated / deleted: a message (deleted: `number`, its deletion time in updated_at, no
// body); read: a read marker moved (`sender` is the user, `number` its marker); chat_deleted: the chat
// is gone, its feeds end.
enum class live_kind { created, updated, deleted, read, chat_deleted };

// One message event as it travels between API servers (Redis pub/sub, see store/live.hpp).
struct live_event {
    live_kind kind = live_kind::created;
    std::string token;
    std::uint64_t chat = 0;
    std::uint64_t number = 0;
    std::string body;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
    std::optional<std::string> sender = {};
    std::optional<std::int64_t> deleted_at_ms = {};  // a tombstone (kind deleted, or created in a replay)
    std::uint32_t version = 1;                       // of an update: the body's version
    std::optional<std::int64_t> edited_at_ms = {};
};

std::string encode(const live_event& e);
core::result<live_event> decode_live(std::string_view json);
// "message.created", "message.updated", "message.deleted", "read.updated", "chat.deleted": the SSE event
// name and the WebSocket "event" field.
std::string_view event_name(live_kind k);

// Orders the message numbers of one chat for one subscriber. Everything up to `delivered()` was
// handed to the subscriber; offer() takes a message from any source (live fan-out, storage), drops
// what was delivered already, holds what is ahead of a gap; take() releases the next in order. A gap
// (a number missing while later ones are held, or a number known to be handed out) is reported by
// gap() once it has been missing for `grace`, so the caller can look it up in storage: found, it is
// offered; never created (a number handed out whose creation failed), it is skipped.
class sequencer {
  public:
    using clock = std::chrono::steady_clock;

    sequencer(std::uint64_t after, std::size_t max_held) : delivered_(after), max_held_(max_held) {}

    // False when the held set is full (a subscriber that does not read): the caller closes the stream.
    bool offer(const live_event& e, clock::time_point now);
    // The next message in order, if it is here (`now` starts the wait for the one after it).
    std::optional<live_event> take(clock::time_point now);
    // A number above delivered() exists (a live event or the chat's counter said so): it is awaited.
    void expect_up_to(std::uint64_t number, clock::time_point now);
    // The lowest number missing for longer than `grace` while something after it is known to exist.
    std::optional<std::uint64_t> gap(clock::time_point now, clock::duration grace) const;
    // Storage says `number` will never exist: move past it (only the next awaited number can be skipped).
    void skip(std::uint64_t number, clock::time_point now);
    // Restart the wait for the gap (after a lookup that found it still being created).
    void retry_later(clock::time_point now) { gap_since_ = now; }

    std::uint64_t delivered() const { return delivered_; }
    std::uint64_t known_top() const { return top_; }
    std::size_t held() const { return held_.size(); }

  private:
    void note_gap(clock::time_point now);

    std::uint64_t delivered_;
    std::uint64_t top_ = 0;  // highest number known to exist
    std::size_t max_held_;
    std::map<std::uint64_t, live_event> held_;
    std::optional<clock::time_point> gap_since_;  // since when delivered_ + 1 has been awaited
};

}  // namespace chat::domain
