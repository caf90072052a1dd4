#pragma once
// HTTP handlers: parse the request, call the service, shape the JSON. Runs on the I/O threads; all
// blocking work happens inside the service.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>
#include <functional>

#include "api/http_error.hpp"
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

class handlers {
  public:
    explicit handlers(service& svc);
    // Answers any request; never throws for bad input. Counts it in the metrics and logs it.
    boost::asio::awaitable<response> handle(const request& req);

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
    boost::asio::awaitable<core::result<response>> edit_message(request_context& ctx);
    boost::asio::awaitable<core::result<response>> search(request_context& ctx);
    boost::asio::awaitable<core::result<response>> autocomplete(request_context& ctx);
    boost::asio::awaitable<core::result<response>> healthz(request_context& ctx);
    boost::asio::awaitable<core::result<response>> readyz(request_context& ctx);
    boost::asio::awaitable<core::result<response>> metrics(request_context& ctx);
    boost::asio::awaitable<core::result<response>> openapi(request_context& ctx);

    service& svc_;
    router<handler_fn> router_;
};

}  // namespace chat::api
