#pragma once
// Live delivery to clients: the SSE stream of a chat (GET /api/v1/apps/{token}/chats/{n}/stream) and
// the long poll of the message list (?after=N&wait=S). Both replay from storage, then follow the
// live hub, through domain::sequencer: every message number exactly once, in order, with gaps filled
// from storage (a number whose creation failed is skipped once storage says it does not exist).
//
// Owns nothing but its settings; each stream runs on its connection's strand, borrowing the service
// (reads) and the hub (live events).
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "api/http_error.hpp"
#include "api/live_hub.hpp"
#include "api/request_parser.hpp"
#include "api/service.hpp"

namespace chat::api {

struct live_settings {
    std::chrono::milliseconds heartbeat{15000};  // SSE comment line that keeps proxies from closing
    std::chrono::milliseconds gap_grace{500};    // how long a missing number may be awaited live
    std::size_t max_buffer = 1024;               // events held per subscriber before it is dropped
};

// Where a stream starts: after `after` (replay first) or live only.
struct stream_start {
    std::optional<std::uint64_t> after;
};
// Last-Event-ID (header, 400 when not a number) wins over ?after= (422 when not a number).
core::result<stream_start> parse_stream_start(std::optional<std::string_view> last_event_id,
                                              std::optional<std::string_view> after);

class live_streams {
  public:
    live_streams(service& svc, live_hub& hub, live_settings settings);

    // Serves one SSE stream on `stream` until the client goes, the subscriber falls behind or the
    // server shuts down. Errors before the stream starts (unknown chat, bad resume point) are
    // answered as JSON. The connection is not reused afterwards.
    boost::asio::awaitable<void> serve_sse(boost::beast::tcp_stream& stream, const request& req,
                                           std::string token, std::uint64_t chat, stream_start start);

    // The long poll: messages numbered above `after` as soon as one exists, or empty at `deadline`.
    task<std::vector<store::message_row>> wait_for_messages(std::string token, std::uint64_t chat,
                                                            std::uint64_t after, int limit,
                                                            std::chrono::steady_clock::time_point deadline);

    live_hub& hub() { return hub_; }

  private:
    service& svc_;
    live_hub& hub_;
    live_settings settings_;
};

}  // namespace chat::api
