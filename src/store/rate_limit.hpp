#pragma once
// Per-application token bucket kept in Redis (and per user for creations by a user token), so every
// API server draws from the same bucket. One script call per request: it refills by elapsed time (Redis's
// clock, not ours, so servers with skewed clocks agree), takes a token or says how long until one is
// available.
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <string_view>

#include "core/error.hpp"
#include "store/async_redis.hpp"
#include "store/redis.hpp"

namespace chat::store {

struct rate_decision {
    bool allowed = true;
    std::int64_t retry_after_ms = 0;  // when refused: until the bucket holds a token again
};

core::result<rate_decision> take_token(redis_connection& r, std::string_view token, int rate_per_s,
                                       int burst);
// A user's own bucket beside the application's (creations by a user token): empty user or a zero rate,
// none.
struct user_limit {
    std::string user;
    int rate_per_s = 0;
    int burst = 0;
};
// The same on the asynchronous client (the creation path, from the I/O threads), in one script call
// with the user's bucket when there is one: a token from both, or from neither. An application rate of
// 0 leaves the application's bucket out.
boost::asio::awaitable<core::result<rate_decision>> take_token(redis::client& r, std::string_view token,
                                                               int rate_per_s, int burst,
                                                               const user_limit& user = {});
// The script's answer read as a decision (pure, shared by both clients).
core::result<rate_decision> read_rate_decision(const redis::reply& answer);

}  // namespace chat::store
