#include "store/rate_limit.hpp"

#include "core/keys.hpp"
#include "store/failure.hpp"

namespace chat::store {

namespace {

// KEYS: one bucket hash {tokens, ts} per limit (the application's, then a user's: one slot, {token}).
// ARGV: rate per second and burst of each key in turn. A request takes a token from every bucket or from
// none: refused by a user's bucket, it leaves the application's untouched. Returns {allowed,
// retry_after_ms}. A key expires once its full bucket would have refilled: idle ones cost no memory.
const std::string bucket_script = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local b = redis.call('HMGET', key, 'tokens', 'ts')
  local tokens = tonumber(b[1])
  local ts = tonumber(b[2])
  if not tokens or not ts then tokens = burst; ts = now end
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
  if tokens < 1 then wait = math.max(wait, math.ceil((1 - tokens) * 1000 / rate)) end
  state[i] = {tokens, rate, burst}
end
local allowed = 0
if wait == 0 then allowed = 1 end
for i, key in ipairs(KEYS) do
  local tokens = state[i][1]
  if allowed == 1 then tokens = tokens - 1 end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(state[i][3] * 1000 / state[i][2]) + 1000)
end
return {allowed, wait}
)lua";

const redis::script bucket_script_async{bucket_script};

}  // namespace

core::result<rate_decision> read_rate_decision(const redis::reply& answer) {
    auto allowed = answer.size() == 2 ? answer.at(0)->as_integer() : std::nullopt;
    auto wait = answer.size() == 2 ? answer.at(1)->as_integer() : std::nullopt;
    if (!allowed || !wait) {
        auto text = answer.is_error() ? answer.error_text() : std::string_view("an unexpected answer");
        return unavailable("redis", storage_unavailable, "rate limit script failed: " + clip(text));
    }
    return rate_decision{*allowed == 1, *wait};
}

core::result<rate_decision> take_token(redis_connection& r, std::string_view token, int rate_per_s,
                                       int burst) {
    auto reply = r.eval(bucket_script, {core::keys::app_rate(token)},
                        {std::to_string(rate_per_s), std::to_string(burst)});
    if (!reply) return reply.error();
    return read_rate_decision(redis::reply::from_hiredis(reply->get()));
}

boost::asio::awaitable<core::result<rate_decision>> take_token(redis::client& r, std::string_view token,
                                                               int rate_per_s, int burst,
                                                               const user_limit& user) {
    std::vector<std::string> keys, args;
    if (rate_per_s > 0) {
        keys.push_back(core::keys::app_rate(token));
        args.insert(args.end(), {std::to_string(rate_per_s), std::to_string(burst)});
    }
    if (!user.user.empty() && user.rate_per_s > 0) {
        keys.push_back(core::keys::user_rate(token, user.user));
        args.insert(args.end(), {std::to_string(user.rate_per_s), std::to_string(user.burst)});
    }
    if (keys.empty()) co_return rate_decision{};
    auto answer = co_await r.eval(bucket_script_async, std::move(keys), std::move(args));
    if (!answer) co_return answer.error();
    co_return read_rate_decision(*answer);
}

}  // namespace chat::store
