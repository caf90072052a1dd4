#pragma once
// HTTP handlers: parse the request, call the service, shape the JSON. Runs on the I/O threads; all
// blocking work happens inside the service.
//
// Before any handler runs, dispatch() builds its typed request_context once: the path's application
// token, chat and message numbers and user id, parsed; the bearer credential, authenticated into the
// caller; and the route's action (every route names one), authorized by domain::decide with the
// membership it needs. A handler then only adapts HTTP: reads its body and query, calls the service
// with the caller's identity where it matters (the sender of a message, the creator of a chat, the
// chats a user lists), and shapes the answer.
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
    // Filled by dispatch() for the routes under /api/v1/apps/{token}:
    std::optional<caller> who;             // the authenticated, authorized caller
    std::optional<std::uint64_t> chat;     // …/chats/{chat}
    std::optional<std::uint64_t> message;  // …/messages/{message}
    std::string user;                      // …/users/{user}, …/members/{user}: a valid user id
    std::string secret_id;                 // …/secrets/{secret}
    std::string webhook_id;                // …/webhooks/{webhook}
    const std::string& token() const { return who->token(); }
};

class live_streams;

// A GET that the server hands to live_streams: a chat's SSE stream that passed the path and
// resume-point rules, or a valid WebSocket handshake on an application's socket path. Authenticated
// and authorized by serve_stream before anything else.
struct live_target {
    enum class kind { sse, websocket };
    kind what = kind::sse;
    std::string token;
    std::uint64_t chat = 0;  // sse only
    stream_start start;      // sse only
    std::string credential;  // Authorization: Bearer, or ?access_token= (never logged)
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
    // Routing, the request context (access included) and the handler; `route` receives the matched
    // pattern.
    boost::asio::awaitable<response> dispatch(const request& req, const std::string& rid,
                                              std::string_view& route);
    using handler_ptr = boost::asio::awaitable<core::result<response>> (handlers::*)(request_context&);
    // A route: its handler and, under /api/v1/apps/{token}, the action it performs (domain/access.hpp)
    // and whether its credential may come as ?access_token= (where a browser cannot set headers).
    struct route {
        handler_ptr handler = nullptr;
        std::optional<domain::action> action;
        bool query_credential = false;
    };
    void add(http::verb v, std::string_view pattern, handler_ptr fn,
             std::optional<domain::action> action = {}, bool query_credential = false);
    // The typed context of an application's route: path values parsed, caller authenticated and
    // authorized; an error answers the request instead.
    boost::asio::awaitable<std::optional<core::error>> prepare(request_context& ctx, const route& r);

    boost::asio::awaitable<core::result<response>> create_app(request_context& ctx);
    boost::asio::awaitable<core::result<response>> update_app(request_context& ctx);
    boost::asio::awaitable<core::result<response>> get_app(request_context& ctx);
    boost::asio::awaitable<core::result<response>> add_secret(request_context& ctx);
    boost::asio::awaitable<core::result<response>> list_secrets(request_context& ctx);
    boost::asio::awaitable<core::result<response>> delete_secret(request_context& ctx);
    boost::asio::awaitable<core::result<response>> create_webhook(request_context& ctx);
    boost::asio::awaitable<core::result<response>> list_webhooks(request_context& ctx);
    boost::asio::awaitable<core::result<response>> get_webhook(request_context& ctx);
    boost::asio::awaitable<core::result<response>> update_webhook(request_context& ctx);
    boost::asio::awaitable<core::result<response>> delete_webhook(request_context& ctx);
    boost::asio::awaitable<core::result<response>> rotate_webhook(request_context& ctx);
    boost::asio::awaitable<core::result<response>> webhook_deliveries(request_context& ctx);
    boost::asio::awaitable<core::result<response>> replay_webhook(request_context& ctx);
    boost::asio::awaitable<core::result<response>> mint_token(request_context& ctx);
    boost::asio::awaitable<core::result<response>> revoke_user(request_context& ctx);
    boost::asio::awaitable<core::result<response>> add_member(request_context& ctx);
    boost::asio::awaitable<core::result<response>> remove_member(request_context& ctx);
    boost::asio::awaitable<core::result<response>> list_members(request_context& ctx);
    boost::asio::awaitable<core::result<response>> create_chat(request_context& ctx);
    boost::asio::awaitable<core::result<response>> get_chat(request_context& ctx);
    boost::asio::awaitable<core::result<response>> list_chats(request_context& ctx);
    boost::asio::awaitable<core::result<response>> create_message(request_context& ctx);
    boost::asio::awaitable<core::result<response>> get_message(request_context& ctx);
    boost::asio::awaitable<core::result<response>> list_messages(request_context& ctx);
    boost::asio::awaitable<core::result<response>> stream_header(request_context& ctx);
    boost::asio::awaitable<core::result<response>> websocket_refused(request_context& ctx);
    boost::asio::awaitable<core::result<response>> edit_message(request_context& ctx);
    boost::asio::awaitable<core::result<response>> delete_message(request_context& ctx);
    boost::asio::awaitable<std::optional<core::error>> with_read_state(request_context& ctx,
                                                                       std::vector<store::chat_row>& chats);
    boost::asio::awaitable<core::result<response>> list_versions(request_context& ctx);
    boost::asio::awaitable<core::result<response>> delete_chat(request_context& ctx);
    boost::asio::awaitable<core::result<response>> erase_user(request_context& ctx);
    boost::asio::awaitable<core::result<response>> erasure_status(request_context& ctx);
    boost::asio::awaitable<core::result<response>> mark_read(request_context& ctx);
    boost::asio::awaitable<core::result<response>> read_markers(request_context& ctx);
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
    router<route> router_;
};

}  // namespace chat::api
