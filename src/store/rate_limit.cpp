#include "store/rate_limit.hpp"

#include "core/keys.hpp"
#include "store/failure.hpp"

namespace chat::store {

namespace {

// KEYS[1]: bucket hash {tokens, ts}. ARGV: rate per second, burst. Returns {allowed, retry_after_ms}.
// The key expires once a full bucket would have refilled: an idle application costs no memory.
const std::string bucket_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(b[1])
local ts = tonumber(b[2])
if not tokens or not ts then tokens = burst; ts = now end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait}
)lua";

}  // namespace

core::result<rate_decision> take_token(redis_connection& r, std::string_view token, int rate_per_s,
                                       int burst) {
    auto reply = r.eval(bucket_script, {core::keys::app_rate(token)},
                        {std::to_string(rate_per_s), std::to_string(burst)});
    if (!reply) return reply.error();
    const redisReply* rep = reply->get();
    if (is_error(rep) || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2)
        return unavailable("redis", storage_unavailable,
                           "rate limit script failed: " + clip(reply_string(rep)));
    return rate_decision{rep->element[0]->integer == 1, rep->element[1]->integer};
}

}  // namespace chat::store
