#pragma once
// HTTP handlers: parse the request, call the service, shape the JSON. Runs on the I/O threads; all
// blocking work happens inside the service.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <optional>

#include "api/http_error.hpp"
#include "api/live_stream.hpp"
#include "api/router.hpp"
#include "api/service.hpp"

namespace chat::api {

using request = http::request<http::string_body>;

struct request_context {
    const request& req;
    params path;
    std::map<std::string, std::string, std::less<>> query;
    std::string request_id;  // from X-Request-Id or generated; echoed in the response, carried in events
};

class live_streams;

// A GET that the server hands to live_streams: a chat's SSE stream that passed the path and
// resume-point rules, or a valid WebSocket handshake on an application's socket path.
struct live_target {
    enum class kind { sse, websocket };
    kind what = kind::sse;
    std::string token;
    std::uint64_t chat = 0;  // sse only
    stream_start start;      // sse only
};

// A WebSocket opening handshake we can accept (RFC 6455 §4.2.1): GET, HTTP/1.1, Upgrade: websocket,
// Connection: upgrade, a 16-byte base64 Sec-WebSocket-Key and Sec-WebSocket-Version 13. Anything else
// on the socket path gets a JSON 426 (or 404 for an unknown application) from the handlers.
bool is_websocket_handshake(const request& req);

class handlers {
  public:
    // `live` serves SSE streams and long polls; without it (tests, fuzzing) streams answer their
    // header only and `wait=` is ignored.
    explicit handlers(service& svc, live_streams* live = nullptr);
    // Answers any request; never throws for bad input. Counts it in the metrics and logs it.
    boost::asio::awaitable<response> handle(const request& req);
    // The SSE stream or WebSocket this request asks for, when it is one the server should hand to
    // serve_stream(); anything else (bad input included) goes through handle().
    std::optional<live_target> stream_request(const request& req) const;
    // Serves an SSE stream or a WebSocket until it ends; the connection is closed afterwards.
    boost::asio::awaitable<void> serve_stream(boost::beast::tcp_stream& stream, const request& req,
                                              live_target target);

  private:
    // Routing, rate limiting and the handler; `route` receives the matched pattern.
    boost::asio::awaitable<response> dispatch(const request& req, const std::string& rid,
                                              std::string_view& route);
    using handler_fn = std::function<boost::asio::awaitable<core::result<response>>(request_context&)>;
    void add(http::verb v, std::string_view pattern,
             boost::asio::awaitable<core::result<response>> (handlers::*fn)(request_context&));

    boost::asio::awaitable<core::result<response>> create_app(request_context& ctx);
    boost::asio::awaitable<core::result<response>> update_app(request_context& ctx);
    boost::asio::awaitable<core::result<response>> get_app(request_context& ctx);
    boost::asio::awaitable<core::result<response>> create_chat(request_context& ctx);
    boost::asio::awaitable<core::result<response>> get_chat(request_context& ctx);
    boost::asio::awaitable<core::result<response>> list_chats(request_context& ctx);
    boost::asio::awaitable<core::result<response>> create_message(request_context& ctx);
    boost::asio::awaitable<core::result<response>> get_message(request_context& ctx);
    boost::asio::awaitable<core::result<response>> list_messages(request_context& ctx);
    boost::asio::awaitable<core::result<response>> stream_header(request_context& ctx);
    boost::asio::awaitable<core::result<response>> websocket_refused(request_context& ctx);
    boost::asio::awaitable<core::result<response>> edit_message(request_context& ctx);
    boost::asio::awaitable<core::result<response>> search(request_context& ctx);
    boost::asio::awaitable<core::result<response>> autocomplete(request_context& ctx);
    boost::asio::awaitable<core::result<response>> healthz(request_context& ctx);
    boost::asio::awaitable<core::result<response>> readyz(request_context& ctx);
    boost::asio::awaitable<core::result<response>> metrics(request_context& ctx);
    boost::asio::awaitable<core::result<response>> openapi(request_context& ctx);
    boost::asio::awaitable<core::result<response>> demo_page(request_context& ctx);
    boost::asio::awaitable<core::result<response>> demo_script(request_context& ctx);
    boost::asio::awaitable<core::result<response>> demo_style(request_context& ctx);

    service& svc_;
    live_streams* live_;
    router<handler_fn> router_;
};

}  // namespace chat::api
