#pragma once
// One subscriber's feed of one chat, shared by every kind of live delivery (an SSE stream, one chat of
// a WebSocket): replay what storage holds above the start, then follow the hub, through
// domain::sequencer, so every message number goes out exactly once and in order, gaps are filled from
// storage (a number whose creation failed is skipped once storage says it does not exist), and edits
// of delivered messages follow as updates.
//
// Owns its subscription and sequencer; borrows the service and its sink. Runs on its connection's
// strand (every call, and the sink's).
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "api/live_hub.hpp"
#include "api/service.hpp"
#include "domain/live.hpp"

namespace chat::api {

struct live_settings {
    std::chrono::milliseconds heartbeat{15000};  // SSE comment line that keeps proxies from closing
    std::chrono::milliseconds gap_grace{500};    // how long a missing number may be awaited live
    std::size_t max_buffer = 1024;               // events held per subscriber before it is dropped
    std::size_t ws_outbox_frames = 256;          // frames queued per WebSocket before feeds wait
    std::size_t ws_max_chats = 100;              // chats one WebSocket may follow at once
};

// Where a feed's events go.
class feed_sink {
  public:
    virtual ~feed_sink() = default;
    // Hands one event to the client; false when it cannot take more (gone, or the feed was stopped).
    virtual boost::asio::awaitable<bool> deliver(const domain::live_event& e) = 0;
    // Every heartbeat of the feed (an SSE stream writes a comment line); false: the client is gone.
    virtual boost::asio::awaitable<bool> idle() = 0;
};

enum class feed_end {
    client_gone,   // the sink failed
    slow,          // the subscriber's buffer overflowed: it must resume from what it received
    shutdown,      // the server is draining
    stopped,       // stop() was called (a WebSocket unsubscribe or the socket's end)
    revoked,       // the caller's access was withdrawn (member removed, token revoked or expired...)
    chat_deleted,  // the chat was deleted
};

// Where a feed starts, decided when it opens (see live_streams::open_feed).
struct feed_start {
    std::shared_ptr<live_subscription> sub;
    std::uint64_t after = 0;  // the last number the client has
    bool replay = false;      // the client named it: replay from storage first
};

class chat_feed {
  public:
    // `who`: the caller that opened it; every heartbeat asks whether its access still holds.
    chat_feed(service& svc, feed_start start, feed_sink& sink, const live_settings& s, caller who,
              std::uint64_t chat);

    // Replays (when the start asks for it), then follows the chat until the feed ends.
    boost::asio::awaitable<feed_end> run();
    // Ends run() at its next step; nothing more reaches the sink once the sink has seen stopped().
    void stop();
    bool stopped() const { return stopped_; }
    std::uint64_t delivered() const { return seq_.delivered(); }
    std::uint64_t chat() const { return chat_; }

  private:
    boost::asio::awaitable<bool> replay();
    boost::asio::awaitable<feed_end> follow();
    boost::asio::awaitable<bool> send(const domain::live_event& e);
    boost::asio::awaitable<bool> flush();
    boost::asio::awaitable<void> learn_top();
    boost::asio::awaitable<bool> fill_gaps(std::chrono::steady_clock::duration grace);

    service& svc_;
    std::shared_ptr<live_subscription> sub_;
    feed_sink& sink_;
    const live_settings& settings_;
    caller who_;
    std::string token_;
    std::uint64_t chat_;
    domain::sequencer seq_;
    // Deletions of numbers not delivered yet: their creation goes out as a tombstone.
    std::map<std::uint64_t, std::int64_t> deleted_ahead_;
    bool replay_first_;
    bool replaying_ = true;
    bool stopped_ = false;
    static constexpr int page_ = 100;
};

}  // namespace chat::api
