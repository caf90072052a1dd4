#pragma once
// The HTTP listener: accepts connections and runs one coroutine per connection on the io_context's
// threads. Each session reads requests with size limits and a timeout, hands them to the handlers and
// writes the answers, keeping the connection alive as HTTP/1.1 asks.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "api/handlers.hpp"
#include "core/config.hpp"

namespace chat::api {

// Binds and listens; throws on failure (a start-up error). Returns the bound port (useful with port 0).
unsigned short start_listener(boost::asio::io_context& ioc, const core::config& cfg, handlers& h);

}  // namespace chat::api
