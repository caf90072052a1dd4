#pragma once
// Group-commit publisher. Owns `connections` threads, each with its own AMQP connection in confirm
// mode. Requests queue up while a thread waits for the broker's confirms; the next free thread
// takes everything queued (at most max_batch events) and publishes it as envelopes, broker messages
// that carry many events each (domain::encode_envelope; at most `envelope_max_events` events or
// max_envelope_bytes, whichever comes first), then waits for one round of confirms. The broker's
// work is per message, so an envelope of n events costs it about what one event did. A group of
// one event goes out in the old single-event format. A request completes (on its own executor) only
// when the broker confirmed the persistent message that holds its event, or with errc::unavailable
// (the envelope was nacked or the confirm failed: every request in it fails).
//
// A request may carry Redis commands to run once its message is confirmed (the read-your-writes
// entry of a message): the thread runs those of a whole batch in one pipelined round trip, on its
// own Redis connection, before completing the requests. They are best effort: the message is durable
// either way, a failure is logged and counted.
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"

namespace chat::store {

class amqp_session;

class publisher {
  public:
    // Runs on the requester's executor. The completions of a batch reach the io_context in one post
    // (a post from a foreign thread takes the io_context's lock and may wake a thread: once per batch
    // instead of once per request), which then posts each on to its requester's executor.
    using handler_type = std::function<void(core::result<void>)>;

    using redis_commands = std::vector<std::vector<std::string>>;

    // An envelope's bytes are capped so that a worker's prefetch (twice its batch size, in messages)
    // stays bounded in memory and an envelope stays far below the broker's and MariaDB's packet
    // limits; one event larger than this still goes out, alone.
    static constexpr std::size_t max_envelope_bytes = 256 * 1024;

    publisher(core::amqp_config cfg, core::redis_config redis, int connections, std::size_t max_batch = 2000,
              std::size_t envelope_max_events = 256);
    ~publisher();
    publisher(const publisher&) = delete;
    publisher& operator=(const publisher&) = delete;

    void start();
    // Stops accepting, publishes and confirms what is queued, then joins the threads.
    void stop();

    template <class CompletionToken>
    auto async_publish(std::string body, std::string message_id, redis_commands after_confirm,
                       CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, void(core::result<void>)>(
            [this](auto handler, std::string b, std::string id, redis_commands after) {
                // Resume the requester on its own executor, never on the publisher thread.
                auto ex = boost::asio::get_associated_executor(handler);
                auto h = std::make_shared<decltype(handler)>(std::move(handler));
                enqueue(std::move(b), std::move(id), std::move(after), boost::asio::any_io_executor(ex),
                        [h](core::result<void> r) { std::move (*h)(std::move(r)); });
            },
            token, std::move(body), std::move(message_id), std::move(after_confirm));
    }
    template <class CompletionToken>
    auto async_publish(std::string body, std::string message_id, CompletionToken&& token) {
        return async_publish(std::move(body), std::move(message_id), redis_commands{},
                             std::forward<CompletionToken>(token));
    }

    // Batches published so far, the events in them (a measure of the group commit) and the broker
    // messages those went out in.
    std::uint64_t batches() const;
    std::uint64_t messages() const;
    std::uint64_t envelopes() const;

  private:
    struct item {
        std::string body;
        std::string message_id;
        redis_commands after_confirm;
        boost::asio::any_io_executor executor;
        handler_type handler;
    };
    void enqueue(std::string body, std::string message_id, redis_commands after_confirm,
                 boost::asio::any_io_executor executor, handler_type handler);
    // Consecutive events of a batch that go out in one broker message.
    struct envelope {
        std::size_t first = 0;
        std::size_t count = 0;
        std::string body;  // encode_envelope of the events; empty for one event (its own body is sent)
        std::uint64_t seq = 0;
    };
    void run();
    std::vector<envelope> pack(const std::vector<item>& batch) const;
    core::result<void> publish_batch(amqp_session& session, const std::vector<item>& batch,
                                     std::vector<envelope>& envelopes, std::vector<std::uint64_t>& nacked);
    // Posts each item's outcome to its executor: consecutive items of one execution context (one
    // io_context) in one post from this thread.
    static void complete(std::vector<item>& items, std::vector<core::result<void>> outcomes);
    struct resumption {
        boost::asio::any_io_executor executor;
        handler_type handler;
        core::result<void> outcome;
    };
    static void resume(resumption& r);

    core::amqp_config cfg_;
    core::redis_config redis_cfg_;
    int connections_;
    std::size_t max_batch_;
    std::size_t envelope_max_events_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<item> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
    std::uint64_t batches_ = 0;
    std::uint64_t messages_ = 0;
    std::uint64_t envelopes_ = 0;
};

}  // namespace chat::store
