#pragma once
// Who on this API server listens to which chat. The live subscriber's thread publishes events into
// the hub; each subscription (an SSE stream, a long poll) lives on its connection's strand and takes
// them from its own bounded buffer. A subscriber that does not read fills only its own buffer: on
// overflow it is marked and its stream closes (the client resumes with Last-Event-ID and misses
// nothing), nobody else waits.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "domain/access.hpp"
#include "domain/live.hpp"

namespace chat::api {

class live_hub;

// One subscriber's buffer. push() and wake() run on any thread; wait() and take() on the owner's strand.
class live_subscription : public std::enable_shared_from_this<live_subscription> {
  public:
    // Why a closed subscription ended: the server shuts down, or its caller's access was withdrawn.
    enum class end_reason { shutdown, revoked };

    live_subscription(live_hub& hub, boost::asio::any_io_executor ex, std::string token, std::uint64_t chat,
                      std::size_t max_buffer, domain::principal who = {});
    ~live_subscription();
    live_subscription(const live_subscription&) = delete;
    live_subscription& operator=(const live_subscription&) = delete;

    // Returns at once when something is waiting (events, a resync, the end), else at `deadline` or
    // when woken.
    boost::asio::awaitable<void> wait(std::chrono::steady_clock::time_point deadline);
    std::vector<domain::live_event> take();
    bool overflowed() const;
    bool closed() const;
    // True once after the fan-out reconnected (events may have been lost: look at storage).
    bool take_resync();

    const std::string& token() const { return token_; }
    std::uint64_t chat() const { return chat_; }
    const domain::principal& who() const { return who_; }
    // Ends the subscription (any thread): nothing more is pushed, wait() returns at once, closed() is true.
    void close(end_reason why = end_reason::shutdown);
    // Why it was closed (meaningful once closed()).
    end_reason reason() const;

  private:
    friend class live_hub;
    void push(const domain::live_event& e);
    void flag_resync();
    void wake_locked();

    live_hub& hub_;
    std::string token_;
    std::uint64_t chat_;
    std::size_t max_buffer_;
    domain::principal who_;
    end_reason reason_ = end_reason::shutdown;
    boost::asio::steady_timer timer_;
    mutable std::mutex mu_;
    std::deque<domain::live_event> queue_;
    bool overflow_ = false;
    bool resync_ = false;
    bool closed_ = false;
    bool wake_posted_ = false;
};

class live_hub {
  public:
    // `who`: the caller that opened it, whose access changes may end it (withdraw()).
    std::shared_ptr<live_subscription> subscribe(boost::asio::any_io_executor ex, std::string token,
                                                 std::uint64_t chat, std::size_t max_buffer,
                                                 domain::principal who = {});
    // A subscription to no chat, closed by close_all() or when `who` loses access to application
    // `token`: how a WebSocket learns of a shutdown or a revocation. (Filed under chat 0, which no
    // message event names.)
    std::shared_ptr<live_subscription> watch(boost::asio::any_io_executor ex, std::string token,
                                             domain::principal who);
    // An access change (from any server): closes, as revoked, every subscription it takes away.
    void withdraw(const domain::access_event& e);
    // From the fan-out: hand `e` to this server's subscribers of its chat.
    void publish(const domain::live_event& e);
    // The fan-out reconnected: every subscriber re-reads storage.
    void resync_all();
    // Graceful shutdown: every subscription ends (streams close cleanly); new ones start closed.
    void close_all();
    std::size_t subscriptions() const;

  private:
    friend class live_subscription;
    void forget(live_subscription* s);
    using chat_key = std::pair<std::string, std::uint64_t>;
    mutable std::mutex mu_;
    std::map<chat_key, std::vector<live_subscription*>> by_chat_;
    std::size_t count_ = 0;
    bool closing_ = false;
};

}  // namespace chat::api
