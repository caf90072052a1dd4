// live_bench: the live-delivery figures of `make bench` (issue 11, "Scale"). It opens N live streams (SSE,
// or WebSockets subscribed to one chat each) spread round-robin over the targets (API servers) and over
// C fresh chats of one fresh application, then creates messages through the targets, and matches every
// event a stream receives to the creation's 201 by chat and number:
//   - lag from the 201 to the event at each subscriber (p50/p99/max; an event that arrives before its
//     201 counts as 0 and is counted in `before_201`), and from the POST's send for comparison;
//   - delivery: each stream must receive each message of its chat exactly once and in order; missing,
//     duplicate, out-of-order, foreign (another chat's, or a number never created) events and streams
//     that ended are reported, and any of them makes the exit code 1.
// Two modes:
//   --rate R --duration D   messages at R/s in total (open loop: message i is due at i/R s), through the
//                           targets in turn and the chats in turn;
//   --per-chat K            K messages per chat, one after the other (the 10,000-stream check).
// With --hold the tool prints a JSON line {"phase": ...} and waits for a line on stdin twice: after the
// setup (before any stream opens) and once every stream is open, so that the caller can measure the
// API server's memory and scrape its metrics at both points (bench/bench.py does).
//
// One thread, one io_context (epoll): every stream and every poster is a coroutine on it, so the
// tool's own timestamps need no locking. Its results are printed as one JSON object on stdout.
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "histogram.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct target {
    std::string host, port, host_header;
    tcp::endpoint endpoint;
};

struct options {
    std::vector<target> targets;
    std::string kind = "sse";  // sse | ws
    int streams = 1000;
    int chats = 20;
    double rate = 0;         // messages/s in total; 0: --per-chat mode
    double duration_s = 20;  // of the timed creation
    double warmup_s = 2;     // creations sent in the first seconds count for delivery, not for lag
    int per_chat = 1;        // --per-chat mode
    int posters = 16;        // keep-alive connections that create messages (open loop)
    int open_concurrency = 256;
    double drain_s = 10;  // after the last 201: how long missing events are awaited
    bool hold = false;
};

std::int64_t now_us(clock_type::time_point t0) {
    return std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t0).count();
}

std::optional<std::uint64_t> decimal(std::string_view s) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// One live stream and what it received. Numbers are dense from 1 in the fresh chats, so the arrival
// times are a vector indexed by number (-1: not received).
struct subscriber {
    std::size_t target = 0;
    std::size_t chat_index = 0;
    bool open = false;
    bool ended = false;
    std::string end_reason;
    std::uint64_t last = 0;  // highest number received
    std::vector<std::int64_t> arrival_us;
    std::uint64_t events = 0, duplicates = 0, out_of_order = 0, foreign = 0;

    void received(std::uint64_t chat_number, std::uint64_t expected_chat, std::uint64_t number,
                  std::int64_t t) {
        ++events;
        if (chat_number != expected_chat || number == 0 || number > 10'000'000) {
            ++foreign;
            return;
        }
        if (arrival_us.size() <= number) arrival_us.resize(number + 1, -1);
        if (arrival_us[number] >= 0) {
            ++duplicates;
            return;
        }
        if (number < last) ++out_of_order;
        last = std::max(last, number);
        arrival_us[number] = t;
    }
};

// One created message: when its POST went out and when its 201 came back.
struct creation {
    std::int64_t sent_us = -1;
    std::int64_t answered_us = -1;
    bool counted = true;  // outside the warm-up
};

class bench {
  public:
    bench(asio::io_context& ioc, options o) : ioc_(ioc), o_(std::move(o)), t0_(clock_type::now()) {}

    asio::awaitable<void> run();
    int exit_code() const { return exit_code_; }

  private:
    struct answer {
        unsigned status = 0;
        std::string body;
        std::string error;
    };
    struct poster {
        std::size_t target;
        std::optional<beast::tcp_stream> stream;
        beast::flat_buffer buffer;
    };

    asio::awaitable<answer> request(poster& p, http::verb method, std::string path, std::string body);
    asio::awaitable<void> setup();
    asio::awaitable<void> open_all();
    asio::awaitable<void> opener();
    asio::awaitable<bool> open_sse(std::size_t i, beast::tcp_stream& stream, beast::flat_buffer& buf,
                                   http::response_parser<http::string_body>& parser);
    asio::awaitable<void> serve_sse(std::size_t i);
    asio::awaitable<void> serve_ws(std::size_t i);
    asio::awaitable<void> timed_posting(std::size_t k);
    asio::awaitable<void> per_chat_posting(std::size_t k);
    asio::awaitable<void> create(poster& p, std::size_t chat_index, bool counted);
    asio::awaitable<void> wait_line(std::string phase, json::object extra);
    asio::awaitable<void> sleep_ms(int ms);
    std::uint64_t expected_events() const;
    bool all_delivered() const;
    json::object report();

    asio::io_context& ioc_;
    options o_;
    clock_type::time_point t0_;
    std::string token_;
    std::vector<std::uint64_t> chats_;            // chat numbers
    std::vector<std::vector<creation>> created_;  // per chat index, by number
    std::vector<std::size_t> subscribers_of_;     // per chat index
    std::vector<subscriber> subs_;
    std::size_t next_to_open_ = 0;
    std::size_t opened_ = 0, open_failed_ = 0, openers_running_ = 0;
    std::vector<std::string> open_errors_;
    std::uint64_t posts_ok_ = 0, posts_failed_ = 0;
    std::vector<std::string> post_errors_;
    chat::load::histogram post_latency_us_;
    double open_seconds_ = 0, posting_seconds_ = 0;
    std::size_t posters_running_ = 0;
    std::int64_t posting_start_us_ = 0;
    int exit_code_ = 0;
};

asio::awaitable<void> bench::sleep_ms(int ms) {
    asio::steady_timer t(ioc_, std::chrono::milliseconds(ms));
    co_await t.async_wait(asio::use_awaitable);
}

// One keep-alive HTTP/1.1 request on poster p's connection (opened on first use, reopened after an error).
asio::awaitable<bench::answer> bench::request(poster& p, http::verb method, std::string path,
                                              std::string body) {
    answer a;
    const auto& t = o_.targets[p.target];
    beast::error_code ec;
    if (!p.stream) {
        p.stream.emplace(ioc_);
        p.stream->expires_after(std::chrono::seconds(10));
        co_await p.stream->async_connect(t.endpoint, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            p.stream.reset();
            a.error = "connect: " + ec.message();
            co_return a;
        }
        p.stream->socket().set_option(tcp::no_delay(true), ec);
    }
    http::request<http::string_body> req{method, path, 11};
    req.set(http::field::host, t.host_header);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    p.stream->expires_after(std::chrono::seconds(10));
    co_await http::async_write(*p.stream, req, asio::redirect_error(asio::use_awaitable, ec));
    http::response<http::string_body> res;
    if (!ec)
        co_await http::async_read(*p.stream, p.buffer, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        p.stream.reset();
        p.buffer.clear();
        a.error = ec.message();
        co_return a;
    }
    a.status = res.result_int();
    a.body = std::move(res.body());
    if (!res.keep_alive()) p.stream.reset();
    co_return a;
}

asio::awaitable<void> bench::setup() {
    poster p{0, {}, {}};
    auto app = co_await request(p, http::verb::post, "/api/v1/apps", R"({"name":"live bench"})");
    if (app.status != 201 && app.status != 200)
        throw std::runtime_error("POST /api/v1/apps: " + std::to_string(app.status) + " " + app.error +
                                 app.body);
    token_ = std::string(json::parse(app.body).at("token").as_string());
    for (int c = 0; c < o_.chats; ++c) {
        auto chat = co_await request(p, http::verb::post, "/api/v1/apps/" + token_ + "/chats", "");
        if (chat.status != 201 && chat.status != 200)
            throw std::runtime_error("POST chats: " + std::to_string(chat.status) + " " + chat.error +
                                     chat.body);
        chats_.push_back(json::parse(chat.body).at("chat_number").to_number<std::uint64_t>());
    }
    created_.assign(chats_.size(), {});
    subscribers_of_.assign(chats_.size(), 0);
    // Stream i on target i % T, chat (i / T) % C: every chat has subscribers on every server.
    subs_.resize(static_cast<std::size_t>(o_.streams));
    for (std::size_t i = 0; i < subs_.size(); ++i) {
        subs_[i].target = i % o_.targets.size();
        subs_[i].chat_index = (i / o_.targets.size()) % chats_.size();
        ++subscribers_of_[subs_[i].chat_index];
    }
}

asio::awaitable<void> bench::open_all() {
    auto started = clock_type::now();
    openers_running_ = static_cast<std::size_t>(std::min(o_.open_concurrency, o_.streams));
    for (std::size_t k = 0; k < openers_running_; ++k) asio::co_spawn(ioc_, opener(), asio::detached);
    while (openers_running_ > 0) co_await sleep_ms(20);
    open_seconds_ = std::chrono::duration<double>(clock_type::now() - started).count();
}

// Opens streams one after the other until every stream is open or failed; each serving coroutine
// reports back through subs_[i].open / ended.
asio::awaitable<void> bench::opener() {
    while (next_to_open_ < subs_.size()) {
        auto i = next_to_open_++;
        if (o_.kind == "ws")
            asio::co_spawn(ioc_, serve_ws(i), asio::detached);
        else
            asio::co_spawn(ioc_, serve_sse(i), asio::detached);
        while (!subs_[i].open && !subs_[i].ended) co_await sleep_ms(5);
        if (subs_[i].open)
            ++opened_;
        else
            ++open_failed_;
    }
    --openers_running_;
}

asio::awaitable<bool> bench::open_sse(std::size_t i, beast::tcp_stream& stream, beast::flat_buffer& buf,
                                      http::response_parser<http::string_body>& parser) {
    auto& s = subs_[i];
    const auto& t = o_.targets[s.target];
    beast::error_code ec;
    stream.expires_after(std::chrono::seconds(30));
    co_await stream.async_connect(t.endpoint, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        s.end_reason = "connect: " + ec.message();
        co_return false;
    }
    http::request<http::empty_body> req{
        http::verb::get, fmt::format("/api/v1/apps/{}/chats/{}/stream", token_, chats_[s.chat_index]), 11};
    req.set(http::field::host, t.host_header);
    req.set(http::field::accept, "text/event-stream");
    co_await http::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
    if (!ec)
        co_await http::async_read_header(stream, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
        s.end_reason = "open: " + ec.message();
        co_return false;
    }
    if (parser.get().result_int() != 200) {
        s.end_reason = fmt::format("open: status {}", parser.get().result_int());
        co_return false;
    }
    co_return true;
}

// SSE over HTTP/1.1 (chunked, as browsers get it): the chunks' payload is fed to a line parser; an
// event is dispatched at its blank line. The response header is sent after the server subscribed,
// so the stream counts as open once it is read.
asio::awaitable<void> bench::serve_sse(std::size_t i) {
    auto& s = subs_[i];
    const auto chat = chats_[s.chat_index];
    beast::tcp_stream stream(ioc_);
    beast::flat_buffer buf;
    std::string pending;  // an incomplete line
    std::optional<std::uint64_t> id;
    std::string event, data;
    auto on_line = [&](std::string_view line) {
        if (line.empty()) {
            if (event == "message.created" && id) {
                std::uint64_t chat_number = 0, number = 0;
                boost::system::error_code jec;
                auto v = json::parse(data, jec);
                if (!jec && v.is_object()) {
                    if (auto* c = v.as_object().if_contains("chat_number"))
                        chat_number = c->to_number<std::uint64_t>(jec);
                    if (auto* n = v.as_object().if_contains("number"))
                        number = n->to_number<std::uint64_t>(jec);
                }
                s.received(chat_number, chat, number == *id ? number : 0, now_us(t0_));
            } else if (event == "error") {
                s.end_reason = "error event: " + data;
            }
            id.reset();
            event.clear();
            data.clear();
            return;
        }
        if (line.front() == ':') return;  // a comment (keep-alive)
        auto colon = line.find(':');
        auto field = line.substr(0, colon);
        std::string_view value =
            colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        if (field == "id")
            id = decimal(value);
        else if (field == "event")
            event = value;
        else if (field == "data")
            data += value;
    };
    http::response_parser<http::string_body> parser;
    parser.body_limit(boost::none);
    std::function<std::size_t(std::uint64_t, std::string_view, beast::error_code&)> on_chunk =
        [&](std::uint64_t, std::string_view body, beast::error_code&) {
            pending.append(body.data(), body.size());
            std::size_t start = 0;
            for (;;) {
                auto nl = pending.find('\n', start);
                if (nl == std::string::npos) break;
                std::string_view line(pending.data() + start, nl - start);
                if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
                on_line(line);
                start = nl + 1;
            }
            pending.erase(0, start);
            return body.size();
        };
    parser.on_chunk_body(on_chunk);
    bool ok = co_await open_sse(i, stream, buf, parser);
    if (!ok) {
        s.ended = true;
        co_return;
    }
    s.open = true;
    beast::error_code ec;
    while (!parser.is_done()) {
        stream.expires_never();
        co_await http::async_read_some(stream, buf, parser, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
    }
    s.ended = true;
    if (s.end_reason.empty()) s.end_reason = ec ? ec.message() : "stream ended";
}

// A WebSocket that subscribes to one chat, live (no `after`); open once the server confirmed.
asio::awaitable<void> bench::serve_ws(std::size_t i) {
    auto& s = subs_[i];
    const auto chat = chats_[s.chat_index];
    const auto& t = o_.targets[s.target];
    websocket::stream<beast::tcp_stream> ws(ioc_);
    beast::error_code ec;
    beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(30));
    co_await beast::get_lowest_layer(ws).async_connect(t.endpoint,
                                                       asio::redirect_error(asio::use_awaitable, ec));
    if (!ec)
        co_await ws.async_handshake(t.host_header, "/api/v1/apps/" + token_ + "/ws",
                                    asio::redirect_error(asio::use_awaitable, ec));
    std::string sub = fmt::format(R"({{"subscribe":{{"chat":{}}}}})", chat);
    if (!ec) {
        ws.text(true);
        co_await ws.async_write(asio::buffer(sub), asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) {
        s.end_reason = "open: " + ec.message();
        s.ended = true;
        co_return;
    }
    beast::get_lowest_layer(ws).expires_never();
    beast::flat_buffer buf;
    for (;;) {
        co_await ws.async_read(buf, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        auto t_us = now_us(t0_);
        boost::system::error_code jec;
        auto v = json::parse(std::string_view(static_cast<const char*>(buf.data().data()), buf.size()), jec);
        buf.consume(buf.size());
        if (jec || !v.is_object()) continue;
        auto& o = v.as_object();
        if (o.contains("subscribed")) {
            s.open = true;
        } else if (auto* e = o.if_contains("event");
                   e && e->is_string() && e->as_string() == "message.created") {
            std::uint64_t c = 0, n = 0;
            if (auto* x = o.if_contains("chat")) c = x->to_number<std::uint64_t>(jec);
            if (auto* x = o.if_contains("number")) n = x->to_number<std::uint64_t>(jec);
            s.received(c, chat, n, t_us);
        } else if (o.contains("error")) {
            s.end_reason = "error frame: " + json::serialize(o);
        }
    }
    s.ended = true;
    if (s.end_reason.empty()) s.end_reason = ec.message();
}

asio::awaitable<void> bench::create(poster& p, std::size_t chat_index, bool counted) {
    auto sent = now_us(t0_);
    auto body = fmt::format(R"({{"content":"live bench message at {} us"}})", sent);
    auto a = co_await request(p, http::verb::post,
                              fmt::format("/api/v1/apps/{}/chats/{}/messages", token_, chats_[chat_index]),
                              std::move(body));
    auto answered = now_us(t0_);
    if (a.status != 201) {
        ++posts_failed_;
        if (post_errors_.size() < 10)
            post_errors_.push_back(fmt::format("{} {} {}", a.status, a.error, a.body.substr(0, 200)));
        co_return;
    }
    boost::system::error_code jec;
    auto v = json::parse(a.body, jec);
    const json::value* n = jec || !v.is_object() ? nullptr : v.as_object().if_contains("number");
    if (n == nullptr) {
        ++posts_failed_;
        co_return;
    }
    auto number = n->to_number<std::uint64_t>(jec);
    if (jec || number == 0 || number > 10'000'000) {
        ++posts_failed_;
        co_return;
    }
    ++posts_ok_;
    post_latency_us_.record(static_cast<std::uint64_t>(answered - sent));
    auto& v2 = created_[chat_index];
    if (v2.size() <= number) v2.resize(number + 1);
    v2[number] = creation{sent, answered, counted};
}

// Poster k of P sends messages k, k+P, k+2P... each at its due time i/rate (or at once when late):
// an open loop, through target k % T, message i in chat i % C.
asio::awaitable<void> bench::timed_posting(std::size_t k) {
    poster p{k % o_.targets.size(), {}, {}};
    const auto P = static_cast<std::size_t>(o_.posters);
    const auto total = static_cast<std::size_t>(o_.rate * o_.duration_s);
    auto start = t0_ + std::chrono::microseconds(posting_start_us_);
    for (std::size_t i = k; i < total; i += P) {
        auto due = start + std::chrono::microseconds(static_cast<std::int64_t>(1e6 * i / o_.rate));
        if (due > clock_type::now()) {
            asio::steady_timer t(ioc_, due);
            co_await t.async_wait(asio::use_awaitable);
        }
        bool counted = static_cast<double>(i) / o_.rate >= o_.warmup_s;
        co_await create(p, i % chats_.size(), counted);
    }
    --posters_running_;
}

// The --per-chat check: poster k creates K messages in each chat k, k+P... (one after the other).
asio::awaitable<void> bench::per_chat_posting(std::size_t k) {
    poster p{k % o_.targets.size(), {}, {}};
    for (std::size_t c = k; c < chats_.size(); c += static_cast<std::size_t>(o_.posters))
        for (int j = 0; j < o_.per_chat; ++j) co_await create(p, c, true);
    --posters_running_;
}

std::uint64_t bench::expected_events() const {
    std::uint64_t n = 0;
    for (std::size_t c = 0; c < created_.size(); ++c)
        for (const auto& m : created_[c])
            if (m.answered_us >= 0) n += subscribers_of_[c];
    return n;
}

bool bench::all_delivered() const {
    for (const auto& s : subs_) {
        if (s.ended) continue;
        const auto& cr = created_[s.chat_index];
        for (std::size_t n = 1; n < cr.size(); ++n)
            if (cr[n].answered_us >= 0 && (n >= s.arrival_us.size() || s.arrival_us[n] < 0)) return false;
    }
    return true;
}

asio::awaitable<void> bench::wait_line(std::string phase, json::object extra) {
    extra["phase"] = phase;
    std::cout << json::serialize(extra) << std::endl;
    asio::posix::stream_descriptor in(ioc_, ::dup(STDIN_FILENO));
    asio::streambuf sb;
    beast::error_code ec;
    co_await asio::async_read_until(in, sb, '\n', asio::redirect_error(asio::use_awaitable, ec));
}

json::object bench::report() {
    chat::load::histogram lag, lag_send;
    std::uint64_t expected = 0, received = 0, missing = 0, before_201 = 0;
    std::uint64_t duplicates = 0, out_of_order = 0, foreign = 0, ended = 0;
    json::array end_reasons;
    for (const auto& s : subs_) {
        duplicates += s.duplicates;
        out_of_order += s.out_of_order;
        foreign += s.foreign;
        if (s.ended) {
            ++ended;
            if (end_reasons.size() < 5) end_reasons.push_back(json::string(s.end_reason));
        }
        const auto& cr = created_[s.chat_index];
        for (std::size_t n = 1; n < std::max(cr.size(), s.arrival_us.size()); ++n) {
            bool made = n < cr.size() && cr[n].answered_us >= 0;
            bool got = n < s.arrival_us.size() && s.arrival_us[n] >= 0;
            if (got && !made) ++foreign;  // a number this run never saw created
            if (!made) continue;
            ++expected;
            if (!got) {
                ++missing;
                continue;
            }
            ++received;
            auto at = s.arrival_us[n];
            if (at < cr[n].answered_us) ++before_201;
            if (!cr[n].counted) continue;
            lag.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, at - cr[n].answered_us)));
            lag_send.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, at - cr[n].sent_us)));
        }
    }
    auto ms = [](const chat::load::histogram& h) {
        return json::object{{"n", h.count()},
                            {"p50", h.percentile(50) / 1000.0},
                            {"p90", h.percentile(90) / 1000.0},
                            {"p99", h.percentile(99) / 1000.0},
                            {"p99_9", h.percentile(99.9) / 1000.0},
                            {"max", h.max() / 1000.0}};
    };
    bool ok = opened_ == subs_.size() && missing == 0 && duplicates == 0 && out_of_order == 0 &&
              foreign == 0 && ended == 0 && posts_failed_ == 0 && posts_ok_ > 0;
    exit_code_ = ok ? 0 : 1;
    json::array targets;
    for (const auto& t : o_.targets) targets.push_back(json::string(t.host + ":" + t.port));
    json::array perr;
    for (const auto& e : post_errors_) perr.push_back(json::string(e));
    json::array oerr;
    for (const auto& e : open_errors_) oerr.push_back(json::string(e));
    return json::object{{"kind", o_.kind},
                        {"targets", targets},
                        {"streams", subs_.size()},
                        {"chats", chats_.size()},
                        {"opened", opened_},
                        {"open_failed", open_failed_},
                        {"open_seconds", open_seconds_},
                        {"rate", o_.rate},
                        {"posting_seconds", posting_seconds_},
                        {"warmup_s", o_.warmup_s},
                        {"messages", posts_ok_},
                        {"posts_failed", posts_failed_},
                        {"post_errors", perr},
                        {"post_latency_ms", ms(post_latency_us_)},
                        {"expected", expected},
                        {"expected_at_end", expected_events()},
                        {"received", received},
                        {"missing", missing},
                        {"duplicates", duplicates},
                        {"out_of_order", out_of_order},
                        {"foreign", foreign},
                        {"streams_ended", ended},
                        {"end_reasons", end_reasons},
                        {"before_201", before_201},
                        {"lag_ms", ms(lag)},
                        {"lag_from_send_ms", ms(lag_send)},
                        {"ok", ok}};
}

asio::awaitable<void> bench::run() {
    co_await setup();
    if (o_.hold) {
        json::object extra;
        extra["token"] = token_;
        co_await wait_line(std::string("ready"), std::move(extra));
    }
    co_await open_all();
    for (const auto& s : subs_)
        if (!s.open && open_errors_.size() < 10) open_errors_.push_back(s.end_reason);
    std::cerr << fmt::format("live_bench: {} of {} {} streams open in {:.1f} s\n", opened_, subs_.size(),
                             o_.kind, open_seconds_);
    if (o_.hold) {
        json::object extra;
        extra["opened"] = opened_;
        extra["open_failed"] = open_failed_;
        co_await wait_line(std::string("open"), std::move(extra));
    }
    posting_start_us_ = now_us(t0_);
    posters_running_ = static_cast<std::size_t>(o_.posters);
    for (std::size_t k = 0; k < posters_running_; ++k)
        asio::co_spawn(ioc_, o_.rate > 0 ? timed_posting(k) : per_chat_posting(k), asio::detached);
    while (posters_running_ > 0) co_await sleep_ms(10);
    posting_seconds_ = (now_us(t0_) - posting_start_us_) / 1e6;
    auto deadline = clock_type::now() + std::chrono::milliseconds(static_cast<int>(o_.drain_s * 1000));
    while (!all_delivered() && clock_type::now() < deadline) co_await sleep_ms(20);
    std::cout << json::serialize(report()) << std::endl;
    ioc_.stop();  // the streams' coroutines end with the io_context
}

target parse_target(std::string_view url) {
    if (url.rfind("http://", 0) != 0) throw usage_error("--targets: http://host:port expected");
    url.remove_prefix(7);
    while (!url.empty() && url.back() == '/') url.remove_suffix(1);
    auto colon = url.rfind(':');
    target t;
    t.host = std::string(url.substr(0, colon));
    t.port = colon == std::string_view::npos ? "80" : std::string(url.substr(colon + 1));
    t.host_header = std::string(url);
    asio::io_context ioc;
    tcp::resolver r(ioc);
    t.endpoint = *r.resolve(t.host, t.port).begin();
    return t;
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw usage_error(std::string(a) + " needs a value");
            return argv[++i];
        };
        if (a == "--targets") {
            std::string v = value();
            std::size_t start = 0;
            while (start <= v.size()) {
                auto comma = v.find(',', start);
                if (comma == std::string::npos) comma = v.size();
                if (comma > start)
                    o.targets.push_back(parse_target(std::string_view(v).substr(start, comma - start)));
                start = comma + 1;
            }
        } else if (a == "--kind") {
            o.kind = value();
            if (o.kind != "sse" && o.kind != "ws") throw usage_error("--kind: sse or ws");
        } else if (a == "--streams") {
            o.streams = std::stoi(value());
        } else if (a == "--chats") {
            o.chats = std::stoi(value());
        } else if (a == "--rate") {
            o.rate = std::stod(value());
        } else if (a == "--duration") {
            o.duration_s = std::stod(value());
        } else if (a == "--warmup") {
            o.warmup_s = std::stod(value());
        } else if (a == "--per-chat") {
            o.per_chat = std::stoi(value());
        } else if (a == "--posters") {
            o.posters = std::stoi(value());
        } else if (a == "--open-concurrency") {
            o.open_concurrency = std::stoi(value());
        } else if (a == "--drain") {
            o.drain_s = std::stod(value());
        } else if (a == "--hold") {
            o.hold = true;
        } else {
            throw usage_error("unknown option " + std::string(a));
        }
    }
    if (o.targets.empty()) throw usage_error("--targets http://host:port[,...] is required");
    if (o.streams < 1 || o.chats < 1 || o.posters < 1 || o.open_concurrency < 1)
        throw usage_error("--streams, --chats, --posters, --open-concurrency must be positive");
    return o;
}

// Every stream is a socket: raise the soft limit of open files to the hard one, and say so when even
// that is too few.
void raise_fd_limit(std::size_t needed) {
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < needed)
        std::cerr << fmt::format(
            "live_bench: open files limited to {} (hard), {} needed: streams will fail\n", rl.rlim_cur,
            needed);
}

}  // namespace

int main(int argc, char** argv) {
    try {
        auto o = parse(argc, argv);
        raise_fd_limit(static_cast<std::size_t>(o.streams + o.posters + 64));
        asio::io_context ioc(1);
        bench b(ioc, std::move(o));
        std::exception_ptr failed;
        asio::co_spawn(ioc, b.run(), [&](std::exception_ptr e) {
            failed = e;
            if (e) ioc.stop();
        });
        ioc.run();
        if (failed) std::rethrow_exception(failed);
        return b.exit_code();
    } catch (const usage_error& e) {
        std::cerr << "live_bench: " << e.what() << "\n";
        return 2;
    } catch (const std::exception& e) {
        std::cerr << "live_bench: " << e.what() << "\n";
        return 3;
    }
}
