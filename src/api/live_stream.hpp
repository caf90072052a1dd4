#pragma once
// Live delivery to clients: the SSE stream of a chat (GET /api/v1/apps/{token}/chats/{n}/stream), the
// WebSocket of an application (GET /api/v1/apps/{token}/ws, any number of its chats on one socket,
// served in api/live_ws.cpp) and the long poll of the message list (?after=N&wait=S). Streams and
// sockets follow each chat through one chat_feed (api/live_feed.hpp): replay from storage, then live,
// every message number exactly once and in order.
//
// Owns nothing but its settings; each stream runs on its connection's strand, borrowing the service
// (reads, and the sends of WebSocket clients) and the hub (live events).
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "api/http_error.hpp"
#include "api/live_feed.hpp"
#include "api/live_hub.hpp"
#include "api/live_quota.hpp"
#include "api/request_parser.hpp"
#include "api/service.hpp"

namespace chat::api {

// Where a stream starts: after `after` (replay first) or live only.
struct stream_start {
    std::optional<std::uint64_t> after;
};
// Last-Event-ID (header, 400 when not a number) wins over ?after= (422 when not a number).
core::result<stream_start> parse_stream_start(std::optional<std::string_view> last_event_id,
                                              std::optional<std::string_view> after);

class live_streams {
  public:
    // `quota`: the fair share of live connections per application and per user (api/live_quota.hpp).
    live_streams(service& svc, live_hub& hub, live_settings settings, live_quota& quota);

    // Serves one SSE stream on `stream` for an authenticated caller until the client goes, the
    // subscriber falls behind, the caller's access is withdrawn or the server shuts down. Errors before
    // the stream starts (a chat the caller may not reach, a bad resume point, no room in the caller's
    // share) are answered as JSON. The connection is not reused afterwards.
    boost::asio::awaitable<void> serve_sse(boost::beast::tcp_stream& stream, const request& req, caller who,
                                           std::uint64_t chat, stream_start start);

    // Serves one WebSocket of the caller's application on `stream` (the upgrade request is `req`) until
    // the client closes it, falls behind, loses its access or the server shuts down. No room in the
    // caller's share is answered in JSON before the upgrade. The connection is not reused afterwards.
    boost::asio::awaitable<void> serve_ws(boost::beast::tcp_stream& stream, const request& req, caller who);

    // Authorizes the caller on `chat`, subscribes and decides where its feed starts; an error for a
    // chat the caller may not reach. Subscribing comes before storage is read, so nothing created
    // meanwhile is missed.
    task<feed_start> open_feed(boost::asio::any_io_executor ex, const caller& who, std::uint64_t chat,
                               stream_start start);

    // The long poll: messages numbered above `after` as soon as one exists, or empty at `deadline`.
    task<std::vector<store::message_row>> wait_for_messages(const caller& who, std::uint64_t chat,
                                                            std::uint64_t after, int limit,
                                                            std::chrono::steady_clock::time_point deadline);

    live_hub& hub() { return hub_; }
    service& svc() { return svc_; }
    live_quota& quota() { return quota_; }
    const live_settings& settings() const { return settings_; }

  private:
    service& svc_;
    live_hub& hub_;
    live_settings settings_;
    live_quota& quota_;
};

// Answers a request that will not become a stream with a JSON error (its connection then closes).
boost::asio::awaitable<void> refuse_stream(boost::beast::tcp_stream& stream, const request& req,
                                           const core::error& err);

}  // namespace chat::api
