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
                                                               int rate_per_s, int burst) {
    std::vector<std::string> keys{core::keys::app_rate(token)};
    std::vector<std::string> args{std::to_string(rate_per_s), std::to_string(burst)};
    auto answer = co_await r.eval(bucket_script_async, std::move(keys), std::move(args));
    if (!answer) co_return answer.error();
    co_return read_rate_decision(*answer);
}

}  // namespace chat::store
