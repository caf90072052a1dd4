#include "http_client.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <cerrno>

namespace chat::load {

namespace json = boost::json;

std::vector<resolved_target> resolve_targets(const std::vector<target>& targets) {
    asio::io_context ioc;
    tcp::resolver resolver(ioc);
    std::vector<resolved_target> out;
    for (const auto& t : targets) {
        boost::system::error_code ec;
        auto eps = resolver.resolve(t.host, t.port, ec);
        if (ec) throw usage_error(fmt::format("--targets: cannot resolve {}: {}", t.url, ec.message()));
        bool default_port = t.port == "80";
        bool v6 = t.host.find(':') != std::string::npos;
        std::string host = v6 ? "[" + t.host + "]" : t.host;
        out.push_back({t, eps, default_port ? host : host + ":" + t.port});
    }
    return out;
}

std::optional<std::string> api_error_kind(unsigned status, const std::string& body) {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto* e = v.as_object().if_contains("error");
    if (e == nullptr || !e->is_object()) return std::nullopt;
    const auto* code = e->as_object().if_contains("code");
    const auto* message = e->as_object().if_contains("message");
    if (code == nullptr || !code->is_string() || code->as_string().empty() || message == nullptr ||
        !message->is_string())
        return std::nullopt;
    return fmt::format("{} {}", status, std::string_view(code->as_string()));
}

verdict failure(std::string error, bool bad, std::string detail) {
    verdict v;
    v.what = verdict::kind::failed;
    v.error = std::move(error);
    v.bad = bad;
    v.detail = std::move(detail);
    return v;
}

verdict judge(const attempt_result& r, unsigned expected_status) {
    using outcome = attempt_result::outcome;
    verdict v;
    switch (r.what) {
        case outcome::closed:
            return {verdict::kind::retryable, "closed", false, r.error_text, {}};
        case outcome::timeout:
            return {verdict::kind::retryable, "timeout", false, r.error_text, {}};
        case outcome::connect_failed:
            return {verdict::kind::retryable, "connect_failed", false, r.error_text, {}};
        case outcome::malformed:
            return {verdict::kind::failed, "bad_failure", true, "malformed HTTP answer: " + r.error_text, {}};
        case outcome::answered:
            break;
    }
    auto excerpt = [&] { return r.body.substr(0, 200); };
    if (r.status == expected_status) {
        boost::system::error_code ec;
        v.json = json::parse(r.body, ec);
        if (ec || (!v.json.is_object() && !v.json.is_array()))
            return {verdict::kind::failed,
                    "bad_failure",
                    true,
                    fmt::format("{} with a body that is not JSON: {}", r.status, excerpt()),
                    {}};
        return v;
    }
    auto kind = api_error_kind(r.status, r.body);
    if (r.status >= 500 && kind) return {verdict::kind::retryable, *kind, false, excerpt(), {}};
    if (r.status == 429 && kind) return {verdict::kind::failed, *kind, false, excerpt(), {}};
    return {verdict::kind::failed,
            "bad_failure",
            true,
            fmt::format("unexpected {} (expected {}): {}", r.status, expected_status, excerpt()),
            {}};
}

verdict judge_no_content(const attempt_result& r) {
    if (r.what == attempt_result::outcome::answered && r.status == 204) {
        if (!r.body.empty()) return failure("bad_failure", true, "204 with a body: " + r.body.substr(0, 200));
        return {};
    }
    return judge(r, 204);
}

connection_set::connection_set(asio::any_io_executor ex, const std::vector<resolved_target>& targets)
    : ex_(std::move(ex)), targets_(targets), conns_(targets.size()) {}

void connection_set::drop(conn& c) {
    if (c.stream) {
        beast::error_code ignored;
        c.stream->socket().shutdown(tcp::socket::shutdown_both, ignored);
        c.stream->close();
    }
    c.stream.reset();
    c.buffer.clear();
}

namespace {

// True when the server closed this idle keep-alive connection (idle timeout, restart, graceful
// drain): reconnecting first keeps such closes out of the error counts, as a browser would.
bool peer_closed(beast::tcp_stream& s) {
    char byte;
    auto n = ::recv(s.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n > 0) || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

attempt_result transport_failure(const beast::error_code& ec, bool connecting) {
    attempt_result r;
    r.error_text = ec.message();
    if (connecting)
        r.what = attempt_result::outcome::connect_failed;
    else if (ec == beast::error::timeout)
        r.what = attempt_result::outcome::timeout;
    else if (ec.category() == http::make_error_code(http::error::end_of_stream).category() &&
             ec != http::error::end_of_stream && ec != http::error::partial_message)
        // The server answered something that is not HTTP: never a mere disconnect.
        r.what = attempt_result::outcome::malformed;
    else
        r.what = attempt_result::outcome::closed;
    return r;
}

}  // namespace

asio::awaitable<attempt_result> connection_set::send(std::size_t target, http::verb method, std::string path,
                                                     std::string body, std::vector<header> headers,
                                                     std::chrono::milliseconds timeout) {
    auto& c = conns_.at(target);
    const auto& t = targets_.at(target);
    auto tuple = asio::as_tuple(asio::use_awaitable);
    if (c.stream && peer_closed(*c.stream)) drop(c);
    if (!c.stream) {
        c.stream.emplace(ex_);
        c.stream->expires_after(timeout);
        auto [ec, ep] = co_await c.stream->async_connect(t.endpoints, tuple);
        if (ec) {
            drop(c);
            co_return transport_failure(ec, true);
        }
        c.stream->socket().set_option(tcp::no_delay(true), ec);
    }
    http::request<http::string_body> req{method, t.where.prefix + path, 11};
    req.set(http::field::host, t.host_header);
    req.set(http::field::user_agent, "chat_load");
    for (auto& h : headers) req.set(h.name, std::move(h.value));
    if (!body.empty()) {
        req.set(http::field::content_type, "application/json");
        req.body() = std::move(body);
    }
    req.keep_alive(true);
    req.prepare_payload();

    c.stream->expires_after(timeout);
    auto [wec, written] = co_await http::async_write(*c.stream, req, tuple);
    if (wec) {
        drop(c);
        co_return transport_failure(wec, false);
    }
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    auto [rec, read] = co_await http::async_read(*c.stream, c.buffer, parser, tuple);
    if (rec) {
        drop(c);
        co_return transport_failure(rec, false);
    }
    auto res = parser.release();
    attempt_result r;
    r.status = res.result_int();
    r.replayed = res["Idempotent-Replayed"] == "true";
    r.body = std::move(res.body());
    // A draining server answers with Connection: close; the next request opens a new connection.
    if (!res.keep_alive()) drop(c);
    co_return r;
}

}  // namespace chat::load
