// The ceiling for `make bench`: the smallest HTTP server built like ours (Beast, coroutines, a strand
// per connection, CHAT_HTTP_THREADS I/O threads) answering a fixed JSON body without doing anything.
// The load tool's rate against it is what this machine's HTTP stack can do at best; our API's rate
// is reported as a fraction of it.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    try {
        for (;;) {
            http::request<http::string_body> req;
            co_await http::async_read(stream, buffer, req, asio::use_awaitable);
            http::response<http::string_body> res{http::status::ok, req.version()};
            res.set(http::field::content_type, "application/json");
            res.body() = R"({"number":1,"chat_number":1})";
            res.keep_alive(req.keep_alive());
            res.prepare_payload();
            co_await http::async_write(stream, res, asio::use_awaitable);
            if (!res.keep_alive()) break;
        }
    } catch (const std::exception&) {
        // the client went away
    }
}

asio::awaitable<void> listen(tcp::acceptor acceptor) {
    for (;;) {
        auto socket =
            co_await acceptor.async_accept(asio::make_strand(acceptor.get_executor()), asio::use_awaitable);
        socket.set_option(tcp::no_delay(true));
        auto ex = socket.get_executor();
        asio::co_spawn(ex, session(std::move(socket)), asio::detached);
    }
}

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v != nullptr ? std::atoi(v) : fallback;
}

}  // namespace

int main() {
    const int threads = env_int("CHAT_HTTP_THREADS", 2);
    const auto port = static_cast<unsigned short>(env_int("CHAT_HTTP_PORT", 18199));
    asio::io_context ioc(threads);
    tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), port});
    asio::co_spawn(ioc, listen(std::move(acceptor)), asio::detached);
    asio::signal_set signals(ioc, SIGINT, SIGTERM);
    signals.async_wait([&](auto, int) { ioc.stop(); });
    std::printf("ceiling server on 127.0.0.1:%u, %d threads\n", port, threads);
    std::fflush(stdout);
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
    ioc.run();
    for (auto& t : pool) t.join();
}
