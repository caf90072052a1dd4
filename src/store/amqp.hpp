#pragma once
// One blocking rabbitmq-c connection with one channel, owned by one thread. Declares the queue
// topology on connect (both binaries do, so either may start first). With CHAT_AMQP_NODES, open()
// tries the brokers of the list in turn, so a reconnect after a broker died lands on another one.
#include <amqp.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"

namespace chat::store {

struct delivery {
    std::uint64_t tag = 0;
    std::string body;
    bool redelivered = false;
    std::string message_id;  // as published ("" when none)
};

class amqp_session {
  public:
    explicit amqp_session(core::amqp_config cfg) : cfg_(std::move(cfg)) {}
    ~amqp_session() { close(); }
    amqp_session(const amqp_session&) = delete;
    amqp_session& operator=(const amqp_session&) = delete;

    // Connects, opens channel 1 and declares the queues. confirm: put the channel in confirm mode.
    // heartbeat_s: 0 for connections that may sit idle between calls (rabbitmq-c only answers
    // heartbeats inside its own calls, so an idle publisher would be dropped by the broker).
    core::result<void> open(bool confirm, int heartbeat_s = 30);
    bool is_open() const { return conn_ != nullptr; }
    void close();

    // Publishes a persistent message to `queue` through the default exchange. In confirm mode the
    // returned number is the message's publish sequence number (its confirm's delivery tag).
    core::result<std::uint64_t> publish(const std::string& queue, std::string_view body,
                                        const std::string& message_id, const std::string& reason_header = {},
                                        const char* content_type = "application/json");
    // Waits for confirms until every sequence number up to `last` is acked or nacked, or the deadline.
    // Returns the set of nacked sequence numbers (normally empty).
    core::result<std::vector<std::uint64_t>> wait_confirms(std::uint64_t last,
                                                           std::chrono::steady_clock::time_point deadline);

    // Consumer side.
    core::result<void> consume(const std::string& queue, std::uint16_t prefetch);
    // Next delivery, or nullopt after the timeout.
    core::result<std::optional<delivery>> next(std::chrono::milliseconds timeout);
    core::result<void> ack(std::uint64_t tag, bool multiple);
    // Up to `max` messages at the head of `queue`, read and then put back in place (basic.get, then a
    // nack with requeue): for operators looking at the dead-letter queue.
    struct peeked {
        std::string body;
        std::string message_id;
        std::string reason;  // the x-chat-dead-letter-reason header ("" when none)
    };
    core::result<std::vector<peeked>> peek(const std::string& queue, std::size_t max);
    // Messages ready in the queue (passive declare), e.g. to wait for the queue to drain.
    core::result<std::uint32_t> queue_depth(const std::string& queue);

    const core::amqp_config& config() const { return cfg_; }

  private:
    core::result<void> open_on(const core::endpoint& broker, bool confirm, int heartbeat_s);
    core::result<void> check_rpc(const char* what);
    core::error fail(const std::string& what);
    void settle(std::uint64_t tag, bool multiple);

    core::amqp_config cfg_;
    std::size_t first_broker_ = 0;  // of cfg_.nodes: the one tried first by the next open()
    amqp_connection_state_t conn_ = nullptr;
    std::uint64_t next_seq_ = 1;
    std::uint64_t confirmed_up_to_ = 0;
    std::set<std::uint64_t> settled_;  // confirmed tags above confirmed_up_to_
};

}  // namespace chat::store
