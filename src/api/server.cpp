#include "api/server.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <vector>

#include "api/request_parser.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "core/spawn.hpp"

namespace chat::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

struct server::connection {
    explicit connection(tcp::socket s) : stream(std::move(s)) {}
    beast::tcp_stream stream;
    // A request is being read, handled or answered (a live stream is one long request). Written on
    // the connection's strand; read there too, and by the acceptor looking for an idle one to close.
    std::atomic<bool> busy{false};
    bool closing = false;  // picked by close_an_idle_connection (guarded by server::mu_)
};

namespace {

bool is_disconnect(const beast::error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof || ec == beast::error::timeout ||
           ec == asio::error::connection_reset || ec == asio::error::operation_aborted;
}

response with_request_id(response res) {
    res.set("X-Request-Id", core::make_creation_id());
    return res;
}

}  // namespace

server::server(asio::io_context& ioc, const core::config& cfg, handlers& h)
    : ioc_(ioc), cfg_(cfg), handlers_(h), accept_strand_(asio::make_strand(ioc)), acceptor_(accept_strand_) {}

unsigned short server::start() {
    tcp::endpoint ep{asio::ip::make_address(cfg_.http_host), static_cast<unsigned short>(cfg_.http_port)};
    acceptor_.open(ep.protocol());
    acceptor_.set_option(asio::socket_base::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    auto port = acceptor_.local_endpoint().port();
    asio::co_spawn(accept_strand_, listen(), core::log_escape{"listener"});
    return port;
}

asio::awaitable<void> server::listen() {
    for (;;) {
        beast::error_code ec;
        // A strand per connection: tcp_stream's timeout timer and the socket's reads must never run
        // at the same time on two I/O threads.
        auto socket = co_await acceptor_.async_accept(asio::make_strand(ioc_),
                                                      asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted || draining_) co_return;
        if (ec) {
            // e.g. out of file descriptors: do not spin.
            spdlog::warn("accept failed: {}", ec.message());
            asio::steady_timer t(accept_strand_, std::chrono::milliseconds(50));
            co_await t.async_wait(asio::use_awaitable);
            continue;
        }
        socket.set_option(tcp::no_delay(true), ec);
        auto ex = socket.get_executor();
        // At the cap, an idle keep-alive connection makes room (whoever holds it reconnects when it
        // needs to): only connections busy with a request, live streams among them, are never taken.
        // So one tenant's idle connections cannot leave another without one.
        if (open_.load() >= cfg_.max_connections && !close_an_idle_connection()) {
            core::metrics::connections_rejected().Increment();
            asio::co_spawn(ex, refuse(std::move(socket)), core::log_escape{"refuse"});
            continue;
        }
        auto conn = std::make_shared<connection>(std::move(socket));
        {
            std::lock_guard lock(mu_);
            connections_.emplace(conn.get(), conn);
        }
        ++open_;
        core::metrics::connections_open().Increment();
        asio::co_spawn(ex, session(std::move(conn)), core::log_escape{"session"});
    }
}

asio::awaitable<void> server::refuse(tcp::socket socket) {
    // Over the connection cap: a clear answer beats a silent reset; the client may retry elsewhere.
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(std::chrono::seconds(1));
    auto res = with_request_id(
        error_response(core::make_error(core::errc::unavailable, "too many connections"), 11, false));
    beast::error_code ec;
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

bool server::close_an_idle_connection() {
    std::shared_ptr<connection> idle;
    {
        std::lock_guard lock(mu_);
        for (auto& [ptr, weak] : connections_) {
            auto c = weak.lock();
            if (c && !c->busy.load() && !c->closing) {
                c->closing = true;  // one newcomer, one idle connection closed
                idle = std::move(c);
                break;
            }
        }
    }
    if (!idle) return false;
    core::metrics::connections_evicted().Increment();
    // On its strand, where `busy` is decided: a request that started meanwhile keeps its connection.
    asio::post(idle->stream.get_executor(), [idle] {
        if (!idle->busy.load()) idle->stream.cancel();
    });
    return true;
}

void server::forget(connection* c) {
    {
        std::lock_guard lock(mu_);
        connections_.erase(c);
    }
    --open_;
    core::metrics::connections_open().Decrement();
}

namespace {

// After an early answer (a rejected request) or a last one, the client may still be sending. Closing
// with unread bytes makes the kernel reset the connection, and the reset can destroy our answer
// before the client reads it. So half-close, then read and discard for a bounded time and size
// (nginx's lingering close), and only then close.
asio::awaitable<void> linger(beast::tcp_stream& stream, beast::flat_buffer& buffer) {
    constexpr std::size_t max_discard = 8 * 1024 * 1024;
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) co_return;
    buffer.clear();
    stream.expires_after(std::chrono::seconds(2));
    std::array<char, 16 * 1024> sink;
    std::size_t discarded = 0;
    while (discarded < max_discard) {
        auto n = co_await stream.async_read_some(asio::buffer(sink),
                                                 asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        discarded += n;
    }
}

// A response to HEAD carries the headers GET would, without the body (RFC 9110 §9.3.2).
void drop_body_for_head(response& res) {
    if (res.find(http::field::content_length) == res.end() && !res.chunked())
        res.content_length(res.body().size());
    res.body().clear();
}

enum class read_outcome { request, rejected, closed };

// Reads one request: the header, then (after a 100 Continue when the client waits for one) the body.
// On `rejected`, `err` is the answer to send before closing.
asio::awaitable<read_outcome> read_request(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                           request_parser& parser, core::error& err) {
    beast::error_code ec;
    co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (is_disconnect(ec)) co_return read_outcome::closed;
    if (ec) {
        err = parser.error_for(ec);
        co_return read_outcome::rejected;
    }
    auto expect = expectation_of(parser.get());
    if (expect == expectation::unsupported) {
        err = core::make_error(core::errc::expectation_failed, "only Expect: 100-continue is supported");
        co_return read_outcome::rejected;
    }
    if (parser.is_done()) co_return read_outcome::request;
    if (expect == expectation::continue_100) {
        // The header passed every check (a body over the limit by Content-Length was refused above):
        // ask for the body.
        static constexpr std::string_view interim = "HTTP/1.1 100 Continue\r\n\r\n";
        co_await asio::async_write(stream, asio::buffer(interim.data(), interim.size()),
                                   asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return read_outcome::closed;
    }
    co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (is_disconnect(ec)) co_return read_outcome::closed;
    if (ec) {
        err = parser.error_for(ec);
        co_return read_outcome::rejected;
    }
    co_return read_outcome::request;
}

}  // namespace

asio::awaitable<void> server::session(std::shared_ptr<connection> conn) {
    // Whatever ends the session (its return, an exception, its frame destroyed unresumed after an
    // exception escaped io_context::run), the stream is closed and the slot given back.
    struct release {
        server& self;
        connection& c;
        ~release() {
            beast::error_code ignored;
            c.stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
            c.stream.close();
            self.forget(&c);
        }
    } guard{*this, *conn};
    auto& stream = conn->stream;
    // Bounded: a chunk-size line with its extensions and the trailer section must each fit in it, so
    // none can grow without limit (the parser's header limit bounds the header itself).
    beast::flat_buffer buffer(cfg_.max_header_bytes + 4096);
    const auto idle = std::chrono::milliseconds(cfg_.idle_timeout_ms);
    const auto timeout = std::chrono::milliseconds(cfg_.request_timeout_ms);
    bool close_gracefully = false;
    // One try around the whole loop: any I/O error ends the session (Boost 1.81 idiom).
    try {
        while (!draining_) {
            beast::error_code ec;
            if (buffer.size() == 0) {
                // Idle between requests: wait for the first bytes of the next one.
                conn->busy = false;
                stream.expires_after(idle);
                auto n = co_await stream.async_read_some(buffer.prepare(4096),
                                                         asio::redirect_error(asio::use_awaitable, ec));
                if (ec) break;
                buffer.commit(n);
            }
            conn->busy = true;
            request_parser parser(cfg_.max_header_bytes, cfg_.max_body_bytes);
            stream.expires_after(timeout);
            core::error err;
            auto outcome = co_await read_request(stream, buffer, parser, err);
            if (outcome == read_outcome::closed) break;
            if (outcome == read_outcome::rejected) {
                // The stream's framing can no longer be trusted: answer once in JSON, then close.
                auto& req = parser.get();
                auto res = with_request_id(error_response(err, req.version() == 10 ? 10 : 11, false));
                if (req.method() == http::verb::head) drop_body_for_head(res);
                co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
                close_gracefully = !ec;
                break;
            }
            auto req = parser.release();
            if (auto live = handlers_.stream_request(req)) {
                // An SSE stream or a WebSocket: it keeps the connection until it ends, then the connection
                // closes.
                co_await handlers_.serve_stream(stream, req, std::move(*live));
                close_gracefully = true;
                break;
            }
            response res = co_await handlers_.handle(req);
            // While draining, the answer is the connection's last.
            res.keep_alive(req.keep_alive() && !draining_);
            if (req.method() == http::verb::head) drop_body_for_head(res);
            stream.expires_after(timeout);
            co_await http::async_write(stream, res, asio::use_awaitable);
            if (!res.keep_alive()) {
                close_gracefully = true;
                break;
            }
        }
        if (close_gracefully) co_await linger(stream, buffer);
    } catch (const std::exception& e) {
        spdlog::debug("session ended: {}", e.what());
    }
}

void server::shutdown(std::chrono::milliseconds timeout, std::function<void()> done) {
    draining_ = true;
    asio::post(accept_strand_, [this] {
        beast::error_code ec;
        acceptor_.close(ec);
    });
    std::vector<std::shared_ptr<connection>> live;
    {
        std::lock_guard lock(mu_);
        for (auto& [ptr, weak] : connections_)
            if (auto c = weak.lock()) live.push_back(std::move(c));
    }
    spdlog::info("draining {} connections (at most {} ms)", live.size(), timeout.count());
    for (auto& c : live) {
        // On the connection's strand, so `busy` is read between the session's steps: an idle session
        // is woken (its read is cancelled) and ends; a busy one ends after its answer.
        asio::post(c->stream.get_executor(), [c] {
            if (!c->busy) c->stream.cancel();
        });
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    asio::co_spawn(
        ioc_,
        [this, deadline, done = std::move(done)]() -> asio::awaitable<void> {
            asio::steady_timer t(ioc_);
            while (open_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
                t.expires_after(std::chrono::milliseconds(20));
                co_await t.async_wait(asio::use_awaitable);
            }
            if (open_.load() > 0) spdlog::warn("shutdown timeout: closing {} connections", open_.load());
            done();
        },
        core::log_escape{"shutdown"});
}

}  // namespace chat::api
