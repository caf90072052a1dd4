#include "api/server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace chat::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

asio::awaitable<void> session(tcp::socket socket, const core::config& cfg, handlers& h) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    const auto timeout = std::chrono::milliseconds(cfg.request_timeout_ms);
    // One try around the whole loop: any I/O error ends the session (Boost 1.81 idiom).
    try {
        for (;;) {
            http::request_parser<http::string_body> parser;
            parser.body_limit(cfg.max_body_bytes);
            parser.header_limit(16 * 1024);
            stream.expires_after(timeout);
            beast::error_code ec;
            co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
            if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
                ec == asio::error::connection_reset)
                break;
            if (ec) {
                // Malformed or oversized input: answer once in JSON, then close (the stream's framing
                // can no longer be trusted).
                core::error err =
                    ec == http::error::body_limit
                        ? core::make_error(core::errc::payload_too_large,
                                           "body exceeds " + std::to_string(cfg.max_body_bytes) + " bytes")
                        : core::make_error(core::errc::bad_request,
                                           "malformed HTTP request: " + ec.message());
                auto res = error_response(err, 11, false);
                co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
                break;
            }
            auto req = parser.release();
            response res = co_await h.handle(req);
            res.keep_alive(req.keep_alive());
            stream.expires_after(timeout);
            co_await http::async_write(stream, res, asio::use_awaitable);
            if (!res.keep_alive()) break;
        }
    } catch (const std::exception& e) {
        spdlog::debug("session ended: {}", e.what());
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> listen(tcp::acceptor acceptor, const core::config& cfg, handlers& h) {
    for (;;) {
        beast::error_code ec;
        // A strand per connection: tcp_stream's timeout timer and the socket's reads must never run
        // at the same time on two I/O threads.
        auto socket = co_await acceptor.async_accept(asio::make_strand(acceptor.get_executor()),
                                                     asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted) co_return;
        if (ec) {
            // e.g. out of file descriptors: do not spin.
            spdlog::warn("accept failed: {}", ec.message());
            asio::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(50));
            co_await t.async_wait(asio::use_awaitable);
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
        auto ex = socket.get_executor();
        asio::co_spawn(ex, session(std::move(socket), cfg, h), asio::detached);
    }
}

}  // namespace

unsigned short start_listener(asio::io_context& ioc, const core::config& cfg, handlers& h) {
    tcp::endpoint ep{asio::ip::make_address(cfg.http_host), static_cast<unsigned short>(cfg.http_port)};
    tcp::acceptor acceptor(ioc);
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(asio::socket_base::max_listen_connections);
    auto port = acceptor.local_endpoint().port();
    asio::co_spawn(ioc, listen(std::move(acceptor), cfg, h), asio::detached);
    return port;
}

}  // namespace chat::api
