#pragma once
// The HTTP listener. Accepts connections (up to CHAT_MAX_CONNECTIONS; beyond, a 503 and close) and runs
// one coroutine per connection on the io_context's threads, each on its own strand. A session reads
// requests with size limits and timeouts (idle keep-alive, then reading one request), hands them to
// the handlers and writes the answers, keeping the connection alive as HTTP/1.1 asks.
//
// Graceful shutdown: shutdown() stops accepting, closes connections that wait for a request, lets
// the ones with a request in progress answer it (with Connection: close), and calls `done` when every
// connection is closed or the timeout has passed, whichever comes first.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "api/handlers.hpp"
#include "core/config.hpp"

namespace chat::api {

class server {
  public:
    server(boost::asio::io_context& ioc, const core::config& cfg, handlers& h);
    server(const server&) = delete;
    server& operator=(const server&) = delete;

    // Binds and listens; throws on failure (a start-up error). Returns the bound port (useful with port 0).
    unsigned short start();
    // Thread-safe; call once.
    void shutdown(std::chrono::milliseconds timeout, std::function<void()> done);
    int open_connections() const { return open_.load(); }

    struct connection;  // a session's stream and state, touched only on its strand

  private:
    boost::asio::awaitable<void> listen();
    boost::asio::awaitable<void> session(std::shared_ptr<connection> conn);
    boost::asio::awaitable<void> refuse(boost::asio::ip::tcp::socket socket);
    void forget(connection* c);
    // At the connection cap: picks a connection waiting for its next request and closes it on its
    // strand; false when every connection is busy (the newcomer is refused with a 503).
    bool close_an_idle_connection();

    boost::asio::io_context& ioc_;
    const core::config& cfg_;
    handlers& handlers_;
    boost::asio::strand<boost::asio::io_context::executor_type> accept_strand_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::atomic<bool> draining_{false};
    std::atomic<int> open_{0};
    std::mutex mu_;
    std::unordered_map<connection*, std::weak_ptr<connection>> connections_;
};

}  // namespace chat::api
