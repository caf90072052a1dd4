#pragma once
// An asynchronous Redis client on Boost.Asio over hiredis's asynchronous API, for the I/O threads:
// `co_await client.command(...)` never blocks a thread and never throws; it completes with the reply
// (a Redis error reply is a reply: see redis::reply::is_error) or with errc::unavailable when the
// connection failed, Redis went away or the reply did not come within the command timeout.
//
// Shape, so that a later change can follow a Redis Cluster:
//   client ── route(slot) ──> node (one per Redis server: today exactly one) ──> a few connections
// Each command names the key it routes by; the client computes its slot and asks the routing
// function for the node. Following MOVED/ASK means filling a slot map there and adding nodes; today a
// redirection reply is counted, logged and returned as errc::unavailable.
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
        return boost::asio::async_initiate<CompletionToken, void(core::result<reply>)>(
            [this](auto handler, std::string key, std::vector<std::string> args) {
                auto ex = boost::asio::get_associated_executor(handler);
                auto h = std::make_shared<decltype(handler)>(std::move(handler));
                submit(key, std::move(args), [ex, h](core::result<reply> r) {
                    boost::asio::post(ex, [h, r = std::move(r)]() mutable { std::move (*h)(std::move(r)); });
                });
            },
            token, std::move(routing_key), std::move(argv));
    }

    // EVALSHA of `s` over keys (routed by keys[0]), with EVAL when Redis does not know the script.
    boost::asio::awaitable<core::result<reply>> eval(const script& s, std::vector<std::string> keys,
                                                     std::vector<std::string> args);

    // Commands sent, and redirections met (a cluster would have answered with them).
    std::uint64_t commands_sent() const { return sent_.load(std::memory_order_relaxed); }
    std::uint64_t redirections() const { return redirections_.load(std::memory_order_relaxed); }

  private:
    struct node {
        std::vector<std::unique_ptr<connection>> connections;
        std::atomic<std::size_t> next{0};
    };
    // The routing function: the node serving `slot`. One node today; a slot map goes here.
    node& route(std::uint16_t slot);
    void submit(const std::string& routing_key, std::vector<std::string> argv, handler_type done);

    core::redis_config cfg_;
    client_options opts_;
    std::vector<std::unique_ptr<node>> nodes_;
    std::atomic<std::uint64_t> sent_{0};
    std::atomic<std::uint64_t> redirections_{0};
};

}  // namespace chat::store::redis
