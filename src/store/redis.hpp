#pragma once
// A synchronous hiredis connection. Owned by one thread at a time (the API keeps one per blocking-pool
// thread, the worker one per thread); it reconnects lazily after a network error.
//
// Against a Redis Cluster (config.cluster_nodes) it holds one hiredis context per master it has talked
// to, routes each command by its key's slot (store/redis_cluster), follows MOVED and ASK, and reads
// the slot map again after a redirection or a failed node. A command whose connection failed is not
// sent again (it may have run): the caller gets errc::unavailable, as against a single Redis.
#include <hiredis/hiredis.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "store/redis_cluster.hpp"

namespace chat::store {

struct reply_deleter {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

class redis_connection {
  public:
    explicit redis_connection(core::redis_config cfg);
    redis_connection(const redis_connection&) = delete;
    redis_connection& operator=(const redis_connection&) = delete;

    // Runs one command. A Redis error reply is returned as a reply (type REDIS_REPLY_ERROR); only
    // transport failures become errc::unavailable.
    core::result<reply_ptr> command(const std::vector<std::string>& argv);
    // Runs several commands in one round trip (pipelining); replies in order.
    core::result<std::vector<reply_ptr>> pipeline(const std::vector<std::vector<std::string>>& commands);
    // EVALSHA with a transparent SCRIPT LOAD when Redis does not know the script (first use, restart).
    core::result<reply_ptr> eval(const std::string& script, const std::vector<std::string>& keys,
                                 const std::vector<std::string>& args);
    // After writes on this connection: WAIT until cfg.wait_replicas replicas of the node that took
    // `key` hold them. errc::unavailable when fewer did within cfg.wait_timeout_ms. No-op when off.
    core::result<void> wait_for_replicas(std::string_view key);

  private:
    using context_ptr = std::unique_ptr<redisContext, void (*)(redisContext*)>;
    struct node {
        core::endpoint address;
        context_ptr ctx{nullptr, redisFree};
    };

    node& node_at(const core::endpoint& address);
    // The node a command with this routing key runs on: the slot map's master, else the first seed.
    node& route(std::optional<std::string_view> key);
    core::result<redisContext*> ensure_connected(node& n);
    void drop(node& n);
    core::result<reply_ptr> send(node& n, const std::vector<std::string>& argv, bool asking);
    core::result<reply_ptr> cluster_command(const std::vector<std::string>& argv);
    core::result<std::vector<reply_ptr>> send_pipeline(
        node& n, const std::vector<const std::vector<std::string>*>& cmds);
    void refresh_slots();

    core::redis_config cfg_;
    std::vector<std::unique_ptr<node>> nodes_;  // [0]: host:port, or the first seed of a cluster
    std::optional<redis::slot_map> slots_;
    bool slots_stale_ = true;
    std::vector<std::pair<std::string, std::string>> script_shas_;  // script text -> sha1
};

// Helpers to read replies.
bool is_error(const redisReply* r);
std::string reply_string(const redisReply* r);

}  // namespace chat::store
