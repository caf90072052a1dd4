#pragma once
// Per-application token bucket kept in Redis, so every API server draws from the same bucket. One
// script call per request: it refills by elapsed time (Redis's clock, not ours, so servers with
// skewed clocks agree), takes a token or says how long until one is available.
#include <cstdint>
#include <string_view>

#include "core/error.hpp"
#include "store/redis.hpp"

namespace chat::store {

struct rate_decision {
    bool allowed = true;
    std::int64_t retry_after_ms = 0;  // when refused: until the bucket holds a token again
};

core::result<rate_decision> take_token(redis_connection& r, std::string_view token, int rate_per_s,
                                       int burst);

}  // namespace chat::store
