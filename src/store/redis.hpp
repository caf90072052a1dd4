#pragma once
// A synchronous hiredis connection. Owned by one thread at a time (the API keeps one per blocking-pool
// thread, the worker one per thread); it reconnects lazily after a network error.
#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"

namespace chat::store {

struct reply_deleter {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using reply_ptr = std::unique_ptr<redisReply, reply_deleter>;

class redis_connection {
  public:
    explicit redis_connection(core::redis_config cfg) : cfg_(std::move(cfg)) {}
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

  private:
    core::result<void> ensure_connected();
    void drop();

    core::redis_config cfg_;
    std::unique_ptr<redisContext, void (*)(redisContext*)> ctx_{nullptr, redisFree};
    std::vector<std::pair<std::string, std::string>> script_shas_;  // script text -> sha1
};

// Helpers to read replies.
bool is_error(const redisReply* r);
std::string reply_string(const redisReply* r);

}  // namespace chat::store
