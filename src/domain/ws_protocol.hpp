#pragma once
// The WebSocket protocol of GET /api/v1/apps/{token}/ws, as pure functions over text: the frames a
// client may send, parsed into typed commands (or into the error frame that answers them), and the
// JSON of the server's control frames. No I/O; unit-tested in tests/unit/domain/ws_protocol_test.
//
// Client frames (text, one JSON object with exactly one command):
//   {"subscribe":   {"chat": N, "after": M}}      after optional: without it the chat starts live
//   {"unsubscribe": {"chat": N}}
//   {"send":        {"chat": N, "body": "...", "key": "..."}}   key: the Idempotency-Key of the POST
// Server frames: {"subscribed": {...}}, {"unsubscribed": {...}}, {"sent": {...}}, {"error": {...}, ...}
// and the events, built in api/live_ws.cpp (they carry the message JSON of the HTTP API).
#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/error.hpp"

namespace chat::domain {

struct ws_subscribe {
    std::uint64_t chat = 0;
    std::optional<std::uint64_t> after;  // replay what is numbered above it first; none: live only
};
struct ws_unsubscribe {
    std::uint64_t chat = 0;
};
struct ws_send {
    std::uint64_t chat = 0;
    std::string body;  // validated by the rules of POST .../messages
    std::string key;   // validated as an Idempotency-Key; also what the answer is matched by
};
using ws_command = std::variant<ws_subscribe, ws_unsubscribe, ws_send>;

// Why a frame is refused, with what the client needs to tell which of its frames it was.
struct ws_refusal {
    core::error error;
    std::string command;                // "subscribe", "unsubscribe", "send"; empty when not recognised
    std::optional<std::uint64_t> chat;  // when the frame named one
    std::optional<std::string> key;     // when a send carried a usable key
};

template <class T>
using ws_result = boost::system::result<T, ws_refusal>;

// A text frame from the client. `max_body_bytes` is the message body limit of POST .../messages.
ws_result<ws_command> parse_ws_frame(std::string_view text, std::size_t max_body_bytes);

// The refusals the session raises itself (not from parsing a frame's text).
ws_refusal ws_refused(core::errc code, std::string message, std::string command = {},
                      std::optional<std::uint64_t> chat = std::nullopt);

// Server frames.
std::string ws_error_frame(const ws_refusal& r);
std::string ws_subscribed_frame(std::uint64_t chat, std::optional<std::uint64_t> after);
std::string ws_unsubscribed_frame(std::uint64_t chat);
std::string ws_sent_frame(std::uint64_t chat, std::uint64_t number, std::string_view key, bool replayed);

// The reason of the close frame of a socket that did not read fast enough (at most 123 bytes, RFC 6455
// §5.5: control frame payloads are at most 125 bytes, 2 of them the code).
inline constexpr std::string_view ws_slow_reason =
    "slow_consumer: reconnect and subscribe with after = the last number you received";
inline constexpr std::string_view ws_shutdown_reason =
    "shutting_down: reconnect and subscribe with after = the last number you received";
inline constexpr std::string_view ws_revoked_reason =
    "access_revoked: this credential no longer holds; reconnect with a valid one";

// boost::system::result<T, ws_refusal>::value() throws through this.
[[noreturn]] void throw_exception_from_error(const ws_refusal& r, const boost::source_location& loc);

}  // namespace chat::domain
