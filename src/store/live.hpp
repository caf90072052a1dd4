#pragma once
// Fan-out of live message events between API servers over Redis pub/sub. The API server that
// accepted a message publishes its event in the same pipelined round trip that writes the
// read-your-writes entry after the broker's confirm (so a subscriber that hears of a message can
// read it, and the fan-out costs no extra trip); every API server runs one live_subscriber. Pub/sub
// is fire-and-forget: a subscriber that was disconnected resyncs from storage (on_resync), and
// domain::sequencer fills any gap from storage, so a lost event delays, never loses, a message.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/config.hpp"
#include "domain/access.hpp"
#include "domain/live.hpp"
#include "store/async_redis.hpp"

namespace chat::store {

// One channel for every chat: each API server filters for its own subscribers. (Redis Cluster
// broadcasts PUBLISH to every node, so this works there unchanged.)
inline constexpr std::string_view live_channel = "chat:live";
// Changes of access (domain::access_event), so that every server drops what it cached and ends the
// live connections a change takes away.
inline constexpr std::string_view access_channel = "chat:access";

// The PUBLISH command for `e`, to append to a pipeline.
std::vector<std::string> live_publish_command(const domain::live_event& e);
// PUBLISH of `e` on its own (an edit's event), from an I/O thread.
boost::asio::awaitable<core::result<void>> publish_live(redis::client& r, const domain::live_event& e);
// PUBLISH of an access change, from an I/O thread.
boost::asio::awaitable<core::result<void>> publish_access(redis::client& r, const domain::access_event& e);

// Owns one thread and its own Redis connection in subscribe mode (both channels); reconnects with
// back-off. `on_event` and `on_resync` run on that thread.
class live_subscriber {
  public:
    using on_event = std::function<void(std::string_view channel, std::string_view payload)>;
    using on_resync = std::function<void()>;  // (re)subscribed: events may have been missed before

    live_subscriber(core::redis_config cfg, on_event event, on_resync resync);
    ~live_subscriber();
    live_subscriber(const live_subscriber&) = delete;
    live_subscriber& operator=(const live_subscriber&) = delete;

    void start();
    void stop();

  private:
    void run();
    // One subscribed session: returns when the connection fails or stop() was called.
    void session();

    core::redis_config cfg_;
    std::size_t sessions_ = 0;  // a cluster: each session tries the next seed (PUBLISH reaches every node)
    on_event on_event_;
    on_resync on_resync_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace chat::store
