// The WebSocket of an application: GET /api/v1/apps/{token}/ws (RFC 6455, Boost.Beast), upgraded from
// the HTTP session. Frames are parsed by domain/ws_protocol; each subscribed chat is one chat_feed
// (the same replay-then-live code as SSE) whose sink is this socket's outbox.
//
// One ws_connection per socket, on the connection's strand: the reader (this coroutine), one writer,
// one coroutine per subscribed chat, one per send in flight and one that watches for a shutdown, all
// joined before the socket is given back. The outbox is bounded: feeds wait for room while their
// subscriptions buffer the live events; a subscription that overflows (the client does not read)
// closes the socket with a close frame saying how to resume.
#include <spdlog/spdlog.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>
#include <deque>
#include <map>

#include "api/live_stream.hpp"
#include "api/views.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "core/spawn.hpp"
#include "core/time.hpp"
#include "domain/ws_protocol.hpp"

namespace chat::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace json = boost::json;
using core::errc;

namespace {

using ws_stream = websocket::stream<beast::tcp_stream&>;
constexpr int max_sends_in_flight = 32;

// A message event carries the message; read.updated its marker; chat.deleted the chat.
std::string event_frame(const domain::live_event& e) {
    json::object frame{{"event", domain::event_name(e.kind)}, {"chat", e.chat}};
    switch (e.kind) {
        case domain::live_kind::read:
            frame["read"] = live_data(e);
            break;
        case domain::live_kind::chat_deleted:
            frame["deleted"] = live_data(e);
            break;
        default:
            frame["number"] = e.number;
            frame["message"] = live_data(e);
    }
    return json::serialize(frame);
}

// The timers below are condition variables: they never expire, cancel() wakes every waiter. (Setting
// an expiry would cancel the other waiters, so it is set once, at construction.)
asio::steady_timer signal_timer(asio::any_io_executor ex) {
    asio::steady_timer t(std::move(ex));
    t.expires_at(asio::steady_timer::time_point::max());
    return t;
}

asio::awaitable<void> wait_on(asio::steady_timer& t) {
    beast::error_code ec;
    co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

class ws_connection {
  public:
    ws_connection(live_streams& live, ws_stream& ws, caller who, asio::any_io_executor ex)
        : live_(live),
          ws_(ws),
          who_(std::move(who)),
          ex_(ex),
          frames_ready_(signal_timer(ex)),
          room_(signal_timer(ex)),
          all_done_(signal_timer(ex)),
          watch_(live.hub().watch(ex, who_.token(), who_.who)) {}

    asio::awaitable<void> run() {
        core::metrics::gauge_scope open(core::metrics::live_streams_open("websocket"));
        spawn(writer());
        spawn(watch());
        co_await reader();
        begin_close(close_kind::peer_gone);
        while (running_ > 0) co_await wait_on(all_done_);
    }

  private:
    // One chat the socket follows; shared by the map and the chat's coroutine.
    struct chat_entry;
    class chat_sink final : public feed_sink {
      public:
        chat_sink(ws_connection& c, chat_entry& e) : c_(c), e_(e) {}
        asio::awaitable<bool> deliver(const domain::live_event& e) override;
        asio::awaitable<bool> idle() override { co_return !c_.closing_; }

      private:
        ws_connection& c_;
        chat_entry& e_;
    };
    struct chat_entry {
        std::uint64_t chat = 0;
        bool cancelled = false;  // unsubscribed, or the socket is ending
        chat_feed* feed = nullptr;
    };

    enum class close_kind { peer_gone, slow, shutdown, revoked };

    // Runs `a` on the strand as a child of this connection (run() waits for every child).
    void spawn(asio::awaitable<void> a) {
        ++running_;
        asio::co_spawn(ex_, std::move(a), asio::bind_executor(ex_, [this](std::exception_ptr e) {
                           if (e) core::log_escape{"websocket"}(e);
                           if (--running_ == 0) all_done_.cancel();
                       }));
    }

    // Control frames (confirmations, errors) are few per client frame: they skip the wait for room,
    // bounded by a hard cap in case a client floods us with frames while never reading.
    void push(std::string frame) {
        if (closing_) return;
        if (frames_.size() >= 4 * live_.settings().ws_outbox_frames) return begin_close(close_kind::slow);
        frames_.push_back(std::move(frame));
        frames_ready_.cancel();
    }
    void refuse(const domain::ws_refusal& r) { push(domain::ws_error_frame(r)); }

    // Returns once the outbox has room (true) or the socket is closing (false).
    asio::awaitable<bool> room() {
        while (!closing_ && frames_.size() >= live_.settings().ws_outbox_frames) co_await wait_on(room_);
        co_return !closing_;
    }

    void begin_close(close_kind why) {
        if (closing_) return;
        closing_ = true;
        close_ = why;
        if (why == close_kind::slow) {
            core::metrics::live_dropped_slow();
            frames_.clear();  // the client resumes from what it received
        }
        for (auto& [chat, entry] : chats_) stop(*entry);
        chats_.clear();
        watch_->close();
        frames_ready_.cancel();
        room_.cancel();
    }

    void stop(chat_entry& e) {
        e.cancelled = true;
        if (e.feed) e.feed->stop();
    }

    asio::awaitable<void> reader();
    asio::awaitable<void> writer();
    asio::awaitable<void> watch();
    void on_frame(std::string_view text);
    void subscribe(const domain::ws_subscribe& s);
    void unsubscribe(const domain::ws_unsubscribe& u);
    void send(domain::ws_send s);
    asio::awaitable<void> follow(std::shared_ptr<chat_entry> entry, std::optional<std::uint64_t> after);
    asio::awaitable<void> create(domain::ws_send s);

    live_streams& live_;
    ws_stream& ws_;
    caller who_;
    asio::any_io_executor ex_;
    std::deque<std::string> frames_;
    asio::steady_timer frames_ready_;  // wakes the writer
    asio::steady_timer room_;          // wakes feeds waiting for room in the outbox
    asio::steady_timer all_done_;      // wakes run() when the last child ended
    std::shared_ptr<live_subscription> watch_;
    std::map<std::uint64_t, std::shared_ptr<chat_entry>> chats_;
    int running_ = 0;
    int sends_in_flight_ = 0;
    bool closing_ = false;
    close_kind close_ = close_kind::peer_gone;
};

asio::awaitable<bool> ws_connection::chat_sink::deliver(const domain::live_event& e) {
    bool has_room = co_await c_.room();
    if (!has_room || e_.cancelled) co_return false;
    c_.frames_.push_back(event_frame(e));
    c_.frames_ready_.cancel();
    co_return true;
}

// Reads whole messages, bounded: a message over the limit is read to its end and discarded, and
// answered with an error frame; the socket stays open.
asio::awaitable<void> ws_connection::reader() {
    const std::size_t limit = live_.svc().config().max_body_bytes;
    beast::flat_buffer buffer;
    for (;;) {
        buffer.clear();
        bool too_big = false;
        beast::error_code ec;
        do {
            co_await ws_.async_read_some(buffer, 16 * 1024, asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;  // closed by either side, or the connection failed
            if (buffer.size() > limit) {
                too_big = true;
                buffer.clear();
            }
        } while (!ws_.is_message_done());
        if (closing_) continue;  // read until the close handshake ends the read
        if (too_big)
            refuse(domain::ws_refused(errc::payload_too_large,
                                      "frame over " + std::to_string(limit) + " bytes"));
        else if (ws_.got_binary())
            refuse(domain::ws_refused(errc::bad_request, "binary frames are not supported: send JSON text"));
        else
            on_frame(beast::buffers_to_string(buffer.data()));
    }
}

void ws_connection::on_frame(std::string_view text) {
    auto cmd = domain::parse_ws_frame(text, live_.svc().config().max_message_bytes);
    if (!cmd) return refuse(cmd.error());
    std::visit(
        [this](auto&& c) {
            using T = std::decay_t<decltype(c)>;
            if constexpr (std::is_same_v<T, domain::ws_subscribe>)
                subscribe(c);
            else if constexpr (std::is_same_v<T, domain::ws_unsubscribe>)
                unsubscribe(c);
            else
                send(std::move(c));
        },
        std::move(*cmd));
}

void ws_connection::subscribe(const domain::ws_subscribe& s) {
    if (chats_.count(s.chat))
        return refuse(domain::ws_refused(errc::conflict, "already subscribed to this chat: unsubscribe first",
                                         "subscribe", s.chat));
    if (chats_.size() >= live_.settings().ws_max_chats)
        return refuse(domain::ws_refused(
            errc::invalid_field,
            "at most " + std::to_string(live_.settings().ws_max_chats) + " chats on one socket", "subscribe",
            s.chat));
    auto entry = std::make_shared<chat_entry>();
    entry->chat = s.chat;
    chats_.emplace(s.chat, entry);
    spawn(follow(std::move(entry), s.after));
}

void ws_connection::unsubscribe(const domain::ws_unsubscribe& u) {
    auto it = chats_.find(u.chat);
    if (it == chats_.end())
        return refuse(
            domain::ws_refused(errc::not_found, "not subscribed to this chat", "unsubscribe", u.chat));
    stop(*it->second);
    chats_.erase(it);
    // After this frame no event of the chat follows: its feed's sink refuses them from now on.
    push(domain::ws_unsubscribed_frame(u.chat));
}

void ws_connection::send(domain::ws_send s) {
    if (sends_in_flight_ >= max_sends_in_flight) {
        domain::ws_refusal r = domain::ws_refused(
            errc::rate_limited, "too many sends in flight on this socket: wait for their answers", "send",
            s.chat);
        r.key = s.key;
        r.error.retry_after_s = 1;
        return refuse(r);
    }
    ++sends_in_flight_;
    spawn(create(std::move(s)));
}

// The same service call as POST .../messages with an Idempotency-Key, so a resend after a reconnect
// is answered with the first number instead of creating the message twice.
asio::awaitable<void> ws_connection::create(domain::ws_send s) {
    auto refused = co_await live_.svc().authorize(who_, domain::action::write_chat, s.chat, "chat not found");
    core::result<created_message> msg = core::make_error(errc::internal, "unsent");
    if (refused) {
        msg = *refused;
    } else {
        std::optional<std::string> sender;
        if (who_.who.is_user()) sender = who_.who.user;
        msg = co_await live_.svc().create_message(who_.token(), s.chat, std::move(s.body), s.key,
                                                  core::make_creation_id(), std::move(sender));
    }
    --sends_in_flight_;
    if (msg) co_return push(domain::ws_sent_frame(s.chat, msg->number, s.key, msg->replayed));
    domain::ws_refusal r{msg.error(), "send", s.chat, s.key};
    if (r.error.code == errc::internal || r.error.code == errc::unavailable)
        spdlog::warn("websocket send to chat {}: {}", s.chat, r.error.message);
    refuse(r);
}

asio::awaitable<void> ws_connection::follow(std::shared_ptr<chat_entry> entry,
                                            std::optional<std::uint64_t> after) {
    auto opened = co_await live_.open_feed(ex_, who_, entry->chat, stream_start{after});
    if (entry->cancelled) co_return;  // unsubscribed (and confirmed) or closing meanwhile
    if (!opened) {
        chats_.erase(entry->chat);
        co_return refuse(domain::ws_refusal{opened.error(), "subscribe", entry->chat, std::nullopt});
    }
    push(domain::ws_subscribed_frame(entry->chat, after));
    core::metrics::gauge_scope open(core::metrics::live_streams_open("websocket_chat"));
    chat_sink sink(*this, *entry);
    chat_feed feed(live_.svc(), std::move(*opened), sink, live_.settings(), who_, entry->chat);
    entry->feed = &feed;
    auto end = co_await feed.run();
    entry->feed = nullptr;
    // Otherwise the sink refused: the chat was unsubscribed or the socket is closing already.
    if (end == feed_end::slow) begin_close(close_kind::slow);
    if (end == feed_end::shutdown) begin_close(close_kind::shutdown);
    if (end == feed_end::chat_deleted && !entry->cancelled) {
        // The chat's last frame: it is gone, so is the subscription.
        chats_.erase(entry->chat);
        push(event_frame(domain::live_event{
            domain::live_kind::chat_deleted, who_.token(), entry->chat, 0, {}, 0, core::now_ms()}));
    }
    if (end == feed_end::revoked && !entry->cancelled) {
        // This chat only (a removed member); the socket's own watch ends the whole socket when the
        // credential itself no longer holds.
        chats_.erase(entry->chat);
        refuse(domain::ws_refused(errc::not_found, "chat not found", "subscribe", entry->chat));
    }
}

// The only writer of frames (and of the close frame), so writes never overlap.
asio::awaitable<void> ws_connection::writer() {
    beast::error_code ec;
    for (;;) {
        while (frames_.empty() && !closing_) co_await wait_on(frames_ready_);
        if (frames_.empty() || (closing_ && close_ != close_kind::shutdown && close_ != close_kind::revoked))
            break;
        std::string frame = std::move(frames_.front());
        frames_.pop_front();
        room_.cancel();
        ws_.text(true);
        co_await ws_.async_write(asio::buffer(frame), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            begin_close(close_kind::peer_gone);
            beast::get_lowest_layer(ws_).cancel();  // ends the reader
            co_return;
        }
    }
    if (close_ == close_kind::peer_gone) co_return;
    websocket::close_reason reason(websocket::close_code::going_away);
    if (close_ == close_kind::slow) {
        reason.code = websocket::close_code::policy_error;
        reason.reason.assign(domain::ws_slow_reason.data(), domain::ws_slow_reason.size());
    } else if (close_ == close_kind::revoked) {
        reason.code = websocket::close_code::policy_error;
        reason.reason.assign(domain::ws_revoked_reason.data(), domain::ws_revoked_reason.size());
    } else {
        reason.reason.assign(domain::ws_shutdown_reason.data(), domain::ws_shutdown_reason.size());
    }
    // Beast reads the peer's close frame through the reader's pending read, which then ends.
    co_await ws_.async_close(reason, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) beast::get_lowest_layer(ws_).cancel();
}

// Ends the socket when the server shuts down, or when its credential no longer holds: at once on an
// access change (live_hub::withdraw), else on the next heartbeat's check (an event lost in transit, a
// token that expired).
asio::awaitable<void> ws_connection::watch() {
    const auto heartbeat = live_.settings().heartbeat;
    while (!closing_ && !watch_->closed()) {
        co_await watch_->wait(std::chrono::steady_clock::now() + heartbeat);
        if (closing_ || watch_->closed()) break;
        bool holds = co_await live_.svc().still_holds(who_, 0);
        if (!holds) watch_->close(live_subscription::end_reason::revoked);
    }
    // No-op when the socket was closing already.
    begin_close(watch_->reason() == live_subscription::end_reason::revoked && watch_->closed()
                    ? close_kind::revoked
                    : close_kind::shutdown);
}

}  // namespace

asio::awaitable<void> live_streams::serve_ws(beast::tcp_stream& stream, const request& req, caller who) {
    auto lease = quota_.acquire(who.token(), who.who.user);
    if (!lease) {
        co_await refuse_stream(stream, req, lease.error());
        co_return;
    }
    stream.expires_never();  // the websocket stream keeps its own timeouts
    ws_stream ws(stream);
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
    timeouts.idle_timeout = std::chrono::seconds(60);  // a ping after 30 s of silence, closed after 60 s
    timeouts.keep_alive_pings = true;
    ws.set_option(timeouts);
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set("X-Request-Id", core::make_creation_id()); }));
    beast::error_code ec;
    co_await ws.async_accept(req, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    auto ex = co_await asio::this_coro::executor;
    ws_connection conn(*this, ws, std::move(who), ex);
    co_await conn.run();
}

}  // namespace chat::api
