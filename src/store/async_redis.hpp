#pragma once
// An asynchronous Redis client on Boost.Asio over hiredis's asynchronous API, for the I/O threads:
// `co_await client.command(...)` never blocks a thread and never throws; it completes with the reply
// (a Redis error reply is a reply: see redis::reply::is_error) or with errc::unavailable when the
// connection failed, Redis went away or the reply did not come within the command timeout.
//
// Shape:
//   client ── route(slot) ──> node (one per Redis server) ──> a few connections
// Each command names the key it routes by; the client computes its slot and asks the routing
// function for the node. Against one Redis there is one node, and a redirection reply is counted,
// logged and returned as errc::unavailable. Against a Redis Cluster (config.cluster_nodes) the slot
// map comes from CLUSTER SLOTS (store/redis_cluster), nodes are added as the map names them, MOVED
// and ASK are followed (a redirected command had not run, so sending it on is safe), and the map is
// read again after a MOVED or a failed command. A command whose connection failed is not sent again:
// it may have run.
//
// Durable commands (config.wait_replicas > 0): their reply is held until a WAIT sent after them on the
// same connection says enough replicas hold the write. One WAIT follows each burst of durable
// commands on a connection, so it costs a round trip per pipelined group, not per command.
//
// Concurrency: each connection is owned by its own strand on the io_context (its hiredis context,
// its socket and its queue of commands in flight are touched only there). Commands from any thread
// are posted to that strand and pipelined: hiredis writes whatever is queued in one write and the
// replies come back in order. The completion runs on the caller's executor.
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "store/redis_reply.hpp"

namespace chat::store::redis {

struct client_options {
    int connections_per_node = 2;
    // A command whose reply has not arrived by then fails (and its connection is dropped: a Redis that
    // does not answer is treated as gone; the commands behind it fail too).
    std::chrono::milliseconds command_timeout{2000};
    // After a connection failed, new commands fail at once until this much time passed, then a
    // reconnect is tried; the wait doubles up to backoff_max on every failed attempt.
    std::chrono::milliseconds backoff_min{50};
    std::chrono::milliseconds backoff_max{2000};
};

// A Lua script: SCRIPT LOAD on first use tells its SHA1, then EVALSHA; EVAL when Redis answers
// NOSCRIPT (it restarted or failed over), which loads it again. Define one per script for the life of
// the process; thread-safe.
class script {
  public:
    explicit script(std::string text) : text_(std::move(text)) {}
    const std::string& text() const { return text_; }
    std::string sha1() const {
        std::lock_guard lock(mu_);
        return sha1_;
    }
    void learn_sha1(std::string sha) const {
        std::lock_guard lock(mu_);
        sha1_ = std::move(sha);
    }

  private:
    std::string text_;
    mutable std::mutex mu_;
    mutable std::string sha1_;
};

class connection;

class client {
  public:
    using handler_type = std::function<void(core::result<reply>)>;

    client(boost::asio::io_context& ioc, core::redis_config cfg, client_options opts = {});
    // Only once ioc no longer runs (its threads joined): handlers on the connections' strands would race
    // the destructor, which frees the hiredis contexts.
    ~client();
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    // Runs argv on the node owning `routing_key` (the command's first key; empty for keyless
    // commands such as PING, which go to the first node).
    template <class CompletionToken = boost::asio::use_awaitable_t<>>
    auto command(std::string routing_key, std::vector<std::string> argv, CompletionToken&& token = {}) {
        return initiate(std::move(routing_key), std::move(argv), false, std::forward<CompletionToken>(token));
    }
    // A write that must be on wait_replicas replicas before its reply is given (see above); errc::unavailable
    // when too few acknowledged it in time. The same as command() when wait_replicas is 0.
    template <class CompletionToken = boost::asio::use_awaitable_t<>>
    auto durable_command(std::string routing_key, std::vector<std::string> argv,
                         CompletionToken&& token = {}) {
        return initiate(std::move(routing_key), std::move(argv), true, std::forward<CompletionToken>(token));
    }

    // EVALSHA of `s` over keys (routed by keys[0]), with EVAL when Redis does not know the script;
    // durable: as durable_command.
    boost::asio::awaitable<core::result<reply>> eval(const script& s, std::vector<std::string> keys,
                                                     std::vector<std::string> args, bool durable = false);

    // Commands sent, and redirections met (a cluster would have answered with them).
    std::uint64_t commands_sent() const { return sent_.load(std::memory_order_relaxed); }
    std::uint64_t redirections() const { return redirections_.load(std::memory_order_relaxed); }

    // Slot map refreshes completed (a cluster only).
    std::uint64_t slot_refreshes() const { return refreshes_.load(std::memory_order_relaxed); }

  private:
    struct node {
        core::endpoint address;
        std::vector<std::unique_ptr<connection>> connections;
        std::atomic<std::size_t> next{0};
    };

    template <class CompletionToken>
    auto initiate(std::string routing_key, std::vector<std::string> argv, bool durable,
                  CompletionToken&& token) {
        return boost::asio::async_initiate<CompletionToken, void(core::result<reply>)>(
            [this](auto handler, std::string key, std::vector<std::string> args, bool wait) {
                auto ex = boost::asio::get_associated_executor(handler);
                auto h = std::make_shared<decltype(handler)>(std::move(handler));
                submit(key, std::move(args), wait, [ex, h](core::result<reply> r) {
                    boost::asio::post(ex, [h, r = std::move(r)]() mutable { std::move (*h)(std::move(r)); });
                });
            },
            token, std::move(routing_key), std::move(argv), durable);
    }

    // The routing function: the node serving `slot` (the only one, or the slot map's master, or the
    // first seed while the map is unknown).
    node& route(std::uint16_t slot);
    node& node_at(const core::endpoint& address);
    node& node_at_locked(const core::endpoint& address);
    void submit(const std::string& routing_key, std::vector<std::string> argv, bool durable,
                handler_type done);
    void dispatch(node& n, std::vector<std::string> argv, bool durable, bool asking, int hop,
                  handler_type done);
    // Reads the slot map again from the masters known and the seeds, one at a time; at most one
    // refresh runs at once.
    void refresh_slots();
    void try_refresh(std::shared_ptr<std::vector<core::endpoint>> candidates, std::size_t next);

    boost::asio::io_context& ioc_;
    core::redis_config cfg_;
    client_options opts_;
    std::mutex nodes_mu_;                       // guards nodes_ and slot_owner_ (a cluster only)
    std::vector<std::unique_ptr<node>> nodes_;  // never shrinks: routes hold plain references
    std::vector<node*> slot_owner_;             // per slot; nullptr: unknown
    std::atomic<bool> refreshing_{false};
    std::atomic<bool> closing_{false};
    std::atomic<std::uint64_t> sent_{0};
    std::atomic<std::uint64_t> redirections_{0};
    std::atomic<std::uint64_t> refreshes_{0};
};

}  // namespace chat::store::redis
