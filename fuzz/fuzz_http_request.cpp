// The request path end to end: raw bytes into a real HTTP session (our request parser, router and
// handlers) over loopback, with an in-memory service behind the handlers. Whatever the bytes, the
// server answers with a well-formed HTTP response or closes, never crashes, and never answers 500
// (the fake service has no bugs to report: a 500 can only come from our code).
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <thread>

#include "api/handlers.hpp"
#include "api/server.hpp"
#include "fake_service.hpp"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct fixture {
    chat::core::config cfg = [] {
        chat::core::config c;
        c.http_host = "127.0.0.1";
        c.http_port = 0;
        c.request_timeout_ms = 2000;
        c.idle_timeout_ms = 2000;
        c.max_body_bytes = 64 * 1024;
        c.max_header_bytes = 8 * 1024;
        return c;
    }();
    asio::io_context ioc{1};
    chat::fakes::fake_service svc{cfg};
    chat::api::handlers handlers{svc};
    chat::api::server server{ioc, cfg, handlers};
    unsigned short port = server.start();
    std::thread io{[this] {
        auto guard = asio::make_work_guard(ioc);
        ioc.run();
    }};
};

fixture& the_fixture() {
    static auto* f = new fixture();  // lives for the process: libFuzzer exits without unwinding
    return *f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto& f = the_fixture();
    asio::io_context client;
    tcp::socket s(client);
    boost::system::error_code ec;
    // A few tries: the loopback stack may refuse for a moment under this rate of connections; a server
    // that stopped accepting for good is a finding.
    for (int attempt = 0; attempt < 50; ++attempt) {
        s.connect({asio::ip::make_address("127.0.0.1"), f.port}, ec);
        if (!ec) break;
        s.close();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (ec) {
        std::fprintf(stderr, "cannot connect to the server: %s\n", ec.message().c_str());
        std::abort();
    }
    asio::write(s, asio::buffer(data, size), ec);
    s.shutdown(tcp::socket::shutdown_send, ec);
    std::string out;
    asio::read(s, asio::dynamic_buffer(out), ec);  // until the server closes
    if (out.empty()) return 0;                     // e.g. only blank lines or a request cut short
    if (out.rfind("HTTP/1.1 ", 0) != 0 && out.rfind("HTTP/1.0 ", 0) != 0) {
        std::fprintf(stderr, "not an HTTP response: %.80s\n", out.c_str());
        std::abort();
    }
    // The first answer: well-formed, and never a 500.
    boost::beast::http::response_parser<boost::beast::http::string_body> p;
    p.eager(true);
    p.skip(true);  // its body may be absent (HEAD): the status line and header are what we check
    boost::beast::error_code pec;
    p.put(asio::buffer(out), pec);
    if (pec && pec != boost::beast::http::error::need_more) {
        std::fprintf(stderr, "malformed answer (%s): %.200s\n", pec.message().c_str(), out.c_str());
        std::abort();
    }
    if (p.is_header_done() && p.get().result_int() >= 500 && p.get().result_int() != 501 &&
        p.get().result_int() != 503) {
        std::fprintf(stderr, "server error: %.300s\n", out.c_str());
        std::abort();
    }
    return 0;
}
