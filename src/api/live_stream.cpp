#include "api/live_stream.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>

#include "api/read_rules.hpp"
#include "api/views.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "domain/live.hpp"

namespace chat::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;
using clock = std::chrono::steady_clock;
using core::errc;
using core::make_error;

namespace {

std::optional<std::uint64_t> decimal(std::string_view s) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || (s.size() > 1 && s[0] == '0'))
        return std::nullopt;
    return v;
}

// Writes SSE text on a response whose header is sent: chunks in HTTP/1.1, raw bytes (a body delimited
// by the close) in HTTP/1.0.
class sse_writer {
  public:
    sse_writer(beast::tcp_stream& stream, bool chunked) : stream_(stream), chunked_(chunked) {}

    asio::awaitable<bool> write(std::string text) {
        beast::error_code ec;
        stream_.expires_after(std::chrono::seconds(30));  // a client that stopped reading is dropped
        if (chunked_)
            co_await asio::async_write(stream_, beast::http::make_chunk(asio::buffer(text)),
                                       asio::redirect_error(asio::use_awaitable, ec));
        else
            co_await asio::async_write(stream_, asio::buffer(text),
                                       asio::redirect_error(asio::use_awaitable, ec));
        co_return !ec;
    }
    asio::awaitable<void> finish() {
        if (!chunked_) co_return;
        beast::error_code ec;
        stream_.expires_after(std::chrono::seconds(5));
        co_await asio::async_write(stream_, beast::http::make_chunk_last(),
                                   asio::redirect_error(asio::use_awaitable, ec));
    }

  private:
    beast::tcp_stream& stream_;
    bool chunked_;
};

// id: is the number of the message whose slot the event fills (its creation, or its tombstone when it
// was deleted before the client saw it): a browser's Last-Event-ID then always names the last slot
// delivered, and a resume neither repeats nor skips one. Updates, later deletions, read markers carry
// no id.
std::string sse_event(const domain::live_event& e, bool fills_slot) {
    std::string out;
    if (fills_slot) out += "id: " + std::to_string(e.number) + "\n";
    out += "event: ";
    out += domain::event_name(e.kind);
    out += "\ndata: ";
    out += json::serialize(live_data(e));
    out += "\n\n";
    return out;
}

std::string sse_error(std::string_view code, std::string_view message) {
    json::object o{{"error", {{"code", code}, {"message", message}}}};
    return "event: error\ndata: " + json::serialize(o) + "\n\n";
}

}  // namespace

core::result<stream_start> parse_stream_start(std::optional<std::string_view> last_event_id,
                                              std::optional<std::string_view> after) {
    if (last_event_id) {
        auto v = decimal(*last_event_id);
        if (!v) return make_error(errc::bad_request, "Last-Event-ID must be a message number");
        return stream_start{*v};
    }
    if (after) {
        auto v = decimal(*after);
        if (!v) return make_error(errc::invalid_field, "after must be a non-negative integer");
        return stream_start{*v};
    }
    return stream_start{};
}

live_streams::live_streams(service& svc, live_hub& hub, live_settings settings, live_quota& quota)
    : svc_(svc), hub_(hub), settings_(settings), quota_(quota) {}

asio::awaitable<void> refuse_stream(beast::tcp_stream& stream, const request& req, const core::error& err) {
    auto res = error_response(err, req.version(), false);
    res.set("X-Request-Id", core::make_creation_id());
    beast::error_code ec;
    co_await beast::http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
}

namespace {

// An SSE response as a feed's sink.
class sse_sink final : public feed_sink {
  public:
    sse_sink(sse_writer& out, std::uint64_t after) : out_(out), last_slot_(after) {}
    asio::awaitable<bool> deliver(const domain::live_event& e) override {
        // The feed delivers slots in order, and a later event about a message is below the last slot.
        bool fills_slot = (e.kind == domain::live_kind::created || e.kind == domain::live_kind::deleted) &&
                          e.number > last_slot_;
        if (fills_slot) last_slot_ = e.number;
        return out_.write(sse_event(e, fills_slot));
    }
    asio::awaitable<bool> idle() override { return out_.write(": keep-alive\n\n"); }

  private:
    sse_writer& out_;
    std::uint64_t last_slot_;
};

}  // namespace

task<feed_start> live_streams::open_feed(asio::any_io_executor ex, const caller& who, std::uint64_t chat,
                                         stream_start start) {
    auto refused = co_await svc_.authorize(who, domain::action::read_chat, chat, "chat not found");
    if (refused) co_return *refused;
    const std::string& token = who.token();
    auto sub = hub_.subscribe(std::move(ex), token, chat, settings_.max_buffer, who.who);
    auto known = co_await svc_.get_chat(token, chat);
    if (!known) co_return known.error();
    if (start.after) co_return feed_start{std::move(sub), *start.after, true};
    auto last = co_await svc_.last_number(token, chat);
    if (!last) co_return last.error();
    co_return feed_start{std::move(sub), *last, false};
}

asio::awaitable<void> live_streams::serve_sse(beast::tcp_stream& stream, const request& req, caller who,
                                              std::uint64_t chat, stream_start start) {
    auto ex = co_await asio::this_coro::executor;
    auto lease = quota_.acquire(who.token(), who.who.user);
    if (!lease) {
        co_await refuse_stream(stream, req, lease.error());
        co_return;
    }
    auto opened = co_await open_feed(ex, who, chat, start);
    if (!opened) {
        co_await refuse_stream(stream, req, opened.error());
        co_return;
    }
    beast::http::response<beast::http::empty_body> res{beast::http::status::ok, req.version()};
    res.set(beast::http::field::content_type, "text/event-stream");
    res.set(beast::http::field::cache_control, "no-cache");
    res.set("X-Accel-Buffering", "no");  // nginx: do not buffer the stream
    const bool chunked = req.version() >= 11;
    if (chunked) res.chunked(true);
    res.keep_alive(false);
    beast::http::response_serializer<beast::http::empty_body> sr{res};
    beast::error_code ec;
    stream.expires_after(std::chrono::seconds(30));
    co_await beast::http::async_write_header(stream, sr, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;

    core::metrics::gauge_scope open(core::metrics::live_streams_open("sse"));

    sse_writer out(stream, chunked);
    if (!co_await out.write("retry: 1000\n\n")) co_return;
    sse_sink sink(out, opened->after);
    const std::string token = who.token();
    chat_feed feed(svc_, std::move(*opened), sink, settings_, std::move(who), chat);
    switch (co_await feed.run()) {
        case feed_end::client_gone:
            co_return;
        case feed_end::revoked:
            co_await out.write(sse_error(
                "access_revoked", "this credential no longer reaches this chat; reconnect with a valid one"));
            break;
        case feed_end::slow:
            co_await out.write(sse_error("slow_consumer",
                                         "events arrived faster than this client read them; "
                                         "reconnect with Last-Event-ID to resume"));
            break;
        case feed_end::chat_deleted: {
            domain::live_event gone{domain::live_kind::chat_deleted, token, chat, 0, {}, 0, core::now_ms()};
            co_await out.write(sse_event(gone, false));
            break;
        }
        case feed_end::shutdown:
        case feed_end::stopped:
            co_await out.write(
                sse_error("shutting_down", "the server is restarting; reconnect with Last-Event-ID"));
            break;
    }
    co_await out.finish();
}

task<std::vector<store::message_row>> live_streams::wait_for_messages(const caller& who, std::uint64_t chat,
                                                                      std::uint64_t after, int limit,
                                                                      clock::time_point deadline) {
    auto lease = quota_.acquire(who.token(), who.who.user);
    if (!lease) co_return lease.error();
    auto ex = co_await asio::this_coro::executor;
    const std::string& token = who.token();
    auto sub = hub_.subscribe(ex, token, chat, settings_.max_buffer, who.who);
    core::metrics::gauge_scope open(core::metrics::live_streams_open("long_poll"));
    for (;;) {
        auto rows = co_await svc_.list_messages(token, chat, after, limit);
        if (!rows || !rows->empty()) co_return rows;
        // Not stored yet is not absent: a message handed out above `after` is read by number.
        auto top = co_await svc_.last_number(token, chat);
        std::vector<store::message_row> pending;
        for (std::uint64_t n = after + 1; top && n <= *top && static_cast<int>(pending.size()) < limit; ++n) {
            auto m = co_await svc_.get_message(token, chat, n);
            if (m)
                pending.push_back(std::move(*m));
            else if (m.error().code == errc::gone) {
                store::message_row gone;
                gone.chat_number = chat;
                gone.number = n;
                pending.push_back(tombstone_of(std::move(gone), core::now_ms()));
            } else if (m.error().code != errc::not_found || !pending.empty())
                break;  // still being created (or a hole after what we have): stop at it
        }
        if (!pending.empty()) co_return pending;
        if (clock::now() >= deadline || sub->closed()) co_return std::vector<store::message_row>{};
        // (A revocation ends the wait: the next request is refused by its authorization.)
        // Woken by a live event of this chat, or after a short while (a lost fan-out event, a
        // message still being stored), or at the deadline.
        co_await sub->wait(std::min(deadline, clock::now() + std::chrono::seconds(1)));
        for (auto& e : sub->take())
            if ((e.kind == domain::live_kind::created || e.kind == domain::live_kind::deleted) &&
                e.number == after + 1)
                co_return std::vector<store::message_row>{row_of(e)};
    }
}

}  // namespace chat::api
