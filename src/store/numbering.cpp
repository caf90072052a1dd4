#include "store/numbering.hpp"

#include <charconv>

#include "core/keys.hpp"
#include "domain/creation.hpp"
#include "store/failure.hpp"

namespace chat::store {

using core::errc;
using core::make_error;

namespace {

// KEYS[1]: counter hash (field app_id marks existence, field seq the last number).
// Then, when ARGV[5] is '1', the idempotency record "number|creation_id|fingerprint|created_at", and
// when ARGV[6] is '1', the sorted set of handed-out unregistered chats (score created_at; entries
// older than ARGV[7] are dropped on the way), and when ARGV[8] is '1', the chat's pending hash, which
// gets the placeholder "@created_at" for the new number and the expiry ARGV[9] (pending_ttl_s).
// Optional keys rather than empty names: every key a script touches must be a real key of the same
// cluster slot. The placeholder is domain::placeholder's encoding ("@" .. created_at).
// Returns {0} unknown parent, {1, app_id, number} allocated, {2, app_id, record} replay.
const std::string allocate_script = R"lua(
local app_id = redis.call('HGET', KEYS[1], 'app_id')
if not app_id then return {0} end
if redis.call('HEXISTS', KEYS[1], 'deleted') == 1 then return {0} end
local idem, mark, pending
local i = 2
if ARGV[5] == '1' then idem = KEYS[i]; i = i + 1 end
if ARGV[6] == '1' then mark = KEYS[i]; i = i + 1 end
if ARGV[8] == '1' then pending = KEYS[i] end
if idem then
  local rec = redis.call('GET', idem)
  if rec then return {2, app_id, rec} end
end
local n = redis.call('HINCRBY', KEYS[1], 'seq', 1)
if idem then
  redis.call('SET', idem, n .. '|' .. ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3], 'EX', ARGV[4])
end
if mark then
  redis.call('ZREMRANGEBYSCORE', mark, '-inf', '(' .. ARGV[7])
  redis.call('ZADD', mark, ARGV[3], n)
end
if pending then
  redis.call('HSET', pending, n, '@' .. ARGV[3])
  redis.call('EXPIRE', pending, ARGV[9])
end
return {1, app_id, n}
)lua";

// KEYS[1]: counter hash. ARGV: app_id, seq_at_least, created_at (may be empty), creator (a chat's first
// member, may be empty). Never lowers seq.
const std::string register_script = R"lua(
redis.call('HSET', KEYS[1], 'app_id', ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'seq') or '-1')
if cur < tonumber(ARGV[2]) then redis.call('HSET', KEYS[1], 'seq', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSETNX', KEYS[1], 'created_at', ARGV[3]) end
if ARGV[4] and ARGV[4] ~= '' then redis.call('HSETNX', KEYS[1], 'creator', ARGV[4]) end
return 1
)lua";

const redis::script allocate_script_async{allocate_script};
const redis::script register_script_async{register_script};

std::uint64_t to_u64(std::string_view s) {
    std::uint64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

core::result<void> expect_ok(core::result<reply_ptr> r, const char* what) {
    if (!r) return r.error();
    if (is_error(r->get()))
        return unavailable("redis", storage_unavailable,
                           std::string(what) + " failed: " + clip(reply_string(r->get())));
    return {};
}

}  // namespace

std::uint64_t fingerprint(std::string_view data) {
    std::uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : data) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h;
}

namespace {

struct script_call {
    std::vector<std::string> keys;
    std::vector<std::string> args;
};

script_call allocation_call(const allocation_request& req) {
    script_call call;
    call.keys.push_back(req.counter_key);
    if (!req.idempotency_key.empty()) call.keys.push_back(req.idempotency_key);
    if (!req.unregistered_key.empty()) call.keys.push_back(req.unregistered_key);
    if (!req.pending_key.empty()) call.keys.push_back(req.pending_key);
    call.args = {req.creation_id,
                 std::to_string(req.fingerprint),
                 std::to_string(req.created_at_ms),
                 std::to_string(idempotency_ttl_s),
                 req.idempotency_key.empty() ? "0" : "1",
                 req.unregistered_key.empty() ? "0" : "1",
                 std::to_string(req.created_at_ms - domain::handed_out_ttl_ms),
                 req.pending_key.empty() ? "0" : "1",
                 std::to_string(pending_ttl_s)};
    return call;
}

core::error script_failed(const redis::reply& answer) {
    auto text = answer.is_error() ? answer.error_text() : std::string_view("an unexpected answer");
    return unavailable("redis", storage_unavailable, "numbering script failed: " + clip(text));
}

}  // namespace

core::result<allocation> read_allocation(const redis::reply& answer, const allocation_request& req) {
    const redis::reply* head = answer.at(0);
    auto status = head ? head->as_integer() : std::nullopt;
    if (!status || *status < 0 || *status > 2 || (*status != 0 && answer.size() < 3))
        return script_failed(answer);
    allocation out;
    if (*status == 0) return out;
    auto app_id = answer.at(1)->as_u64();
    if (!app_id) return script_failed(answer);
    out.app_id = *app_id;
    if (*status == 1) {
        auto number = answer.at(2)->as_u64();
        if (!number || *number == 0) return script_failed(answer);
        out.status = allocation::kind::allocated;
        out.number = *number;
        out.creation_id = req.creation_id;
        out.created_at_ms = req.created_at_ms;
        return out;
    }
    // Replay: "number|creation_id|fingerprint|created_at"
    auto rec = answer.at(2)->as_string();
    if (!rec) return script_failed(answer);
    std::vector<std::string_view> parts;
    std::string_view rest = *rec;
    while (true) {
        auto pos = rest.find('|');
        parts.push_back(rest.substr(0, pos));
        if (pos == std::string_view::npos) break;
        rest.remove_prefix(pos + 1);
    }
    if (parts.size() != 4) return internal("redis", "malformed idempotency record");
    if (to_u64(parts[2]) != req.fingerprint)
        return make_error(errc::conflict, "Idempotency-Key was already used for a different request");
    out.status = allocation::kind::replayed;
    out.number = to_u64(parts[0]);
    out.creation_id = std::string(parts[1]);
    out.created_at_ms = static_cast<std::int64_t>(to_u64(parts[3]));
    return out;
}

core::result<allocation> allocate_number(redis_connection& r, const allocation_request& req) {
    auto call = allocation_call(req);
    auto reply = r.eval(allocate_script, call.keys, call.args);
    if (!reply) return reply.error();
    auto out = read_allocation(redis::reply::from_hiredis(reply->get()), req);
    // Acknowledged only once a replica holds it (CHAT_REDIS_WAIT_REPLICAS), a replay too: its record
    // may be the write a failed WAIT did not cover. Too few replicas: the number is skipped.
    if (out && out->status != allocation::kind::unknown_parent)
        if (auto held = r.wait_for_replicas(req.counter_key); !held) return held.error();
    return out;
}

boost::asio::awaitable<core::result<allocation>> allocate_number(redis::client& r,
                                                                 const allocation_request& req) {
    auto call = allocation_call(req);
    // durable: acknowledged only once CHAT_REDIS_WAIT_REPLICAS replicas hold it (see the blocking one).
    auto answer = co_await r.eval(allocate_script_async, std::move(call.keys), std::move(call.args), true);
    if (!answer) co_return answer.error();
    co_return read_allocation(*answer, req);
}

core::result<std::optional<std::uint64_t>> registered_app_id(redis_connection& r, const std::string& token) {
    auto reply = r.command({"HGET", core::keys::app(token), "app_id"});
    if (!reply) return reply.error();
    auto answer = redis::reply::from_hiredis(reply->get());
    if (answer.is_error()) return unavailable("redis", storage_unavailable, "HGET app_id failed");
    if (answer.is_nil()) return std::optional<std::uint64_t>{};
    auto id = answer.as_u64();
    if (!id || *id == 0) {
        spdlog::warn("redis: unreadable app_id for an application");
        return std::optional<std::uint64_t>{};
    }
    return id;
}

core::result<void> ping(redis_connection& r) {
    return expect_ok(r.command({"PING"}), "PING");
}

core::result<bool> is_seeded(redis_connection& r) {
    auto reply = r.command({"EXISTS", core::keys::seeded()});
    if (!reply) return reply.error();
    if (is_error(reply->get())) return unavailable("redis", storage_unavailable, "EXISTS failed");
    return reply->get()->integer == 1;
}

core::result<void> mark_seeded(redis_connection& r) {
    return expect_ok(r.command({"SET", core::keys::seeded(), "1"}), "SET seeded");
}

core::result<void> register_app(redis_connection& r, const std::string& token, std::uint64_t app_id) {
    return expect_ok(r.eval(register_script, {core::keys::app(token)}, {std::to_string(app_id), "0", "", ""}),
                     "register app");
}

core::result<void> raise_app_counter(redis_connection& r, const std::string& token, std::uint64_t app_id,
                                     std::uint64_t seq) {
    return expect_ok(r.eval(register_script, {core::keys::app(token)},
                            {std::to_string(app_id), std::to_string(seq), "", ""}),
                     "raise app counter");
}

core::result<void> register_chat(redis_connection& r, const std::string& token, std::uint64_t chat_number,
                                 std::uint64_t app_id, std::int64_t created_at_ms, std::uint64_t seq_at_least,
                                 const std::string& creator) {
    auto ok = expect_ok(r.eval(register_script, {core::keys::chat(token, chat_number)},
                               {std::to_string(app_id), std::to_string(seq_at_least),
                                std::to_string(created_at_ms), creator}),
                        "register chat");
    if (!ok) return ok;
    // Another slot, so another command. A failure here leaves a mark nobody reads: message creation
    // only looks at it when the chat is not registered.
    return expect_ok(r.command({"ZREM", core::keys::app_unregistered(token), std::to_string(chat_number)}),
                     "clear handed-out mark");
}

boost::asio::awaitable<core::result<void>> register_chat(redis::client& r, const std::string& token,
                                                         std::uint64_t chat_number, std::uint64_t app_id,
                                                         std::int64_t created_at_ms, std::string creator) {
    auto key = core::keys::chat(token, chat_number);
    std::vector<std::string> args{std::to_string(app_id), "0", std::to_string(created_at_ms),
                                  std::move(creator)};
    std::vector<std::string> keys{key};  // (GCC 12 cannot take a braced list inside a co_await expression)
    auto registered = co_await r.eval(register_script_async, std::move(keys), std::move(args));
    if (!registered) co_return registered.error();
    if (registered->is_error())
        co_return unavailable("redis", storage_unavailable,
                              "register chat failed: " + clip(registered->error_text()));
    // Another slot, so another command (see the blocking register_chat).
    auto mark = core::keys::app_unregistered(token);
    std::vector<std::string> zrem{"ZREM", mark, std::to_string(chat_number)};
    auto cleared = co_await r.command(mark, std::move(zrem));
    if (!cleared) co_return cleared.error();
    if (cleared->is_error())
        co_return unavailable("redis", storage_unavailable,
                              "clear handed-out mark failed: " + clip(cleared->error_text()));
    co_return core::result<void>{};
}

core::result<std::optional<std::int64_t>> unregistered_chat(redis_connection& r, const std::string& token,
                                                            std::uint64_t chat_number, std::int64_t now_ms) {
    auto reply = r.command({"ZSCORE", core::keys::app_unregistered(token), std::to_string(chat_number)});
    if (!reply) return reply.error();
    const redisReply* rep = reply->get();
    if (is_error(rep)) return unavailable("redis", storage_unavailable, "ZSCORE failed");
    if (rep->type != REDIS_REPLY_STRING) return std::optional<std::int64_t>{};  // not marked
    // The score is the created_at the script stored, an integer of milliseconds.
    auto created_at = static_cast<std::int64_t>(to_u64(reply_string(rep)));
    if (!domain::still_being_created(created_at, now_ms)) return std::optional<std::int64_t>{};
    return std::optional<std::int64_t>{created_at};
}

core::result<std::optional<chat_meta>> get_chat_meta(redis_connection& r, const std::string& token,
                                                     std::uint64_t chat_number) {
    auto reply = r.command(
        {"HMGET", core::keys::chat(token, chat_number), "app_id", "seq", "created_at", "creator", "deleted"});
    if (!reply) return reply.error();
    const redisReply* rep = reply->get();
    if (is_error(rep) || rep->type != REDIS_REPLY_ARRAY || rep->elements != 5)
        return unavailable("redis", storage_unavailable, "HMGET failed");
    if (rep->element[0]->type == REDIS_REPLY_NIL) return std::optional<chat_meta>{};
    chat_meta m;
    m.app_id = to_u64(reply_string(rep->element[0]));
    m.last_number = to_u64(reply_string(rep->element[1]));
    m.created_at_ms = static_cast<std::int64_t>(to_u64(reply_string(rep->element[2])));
    if (rep->element[3]->type == REDIS_REPLY_STRING) m.creator = reply_string(rep->element[3]);
    if (rep->element[4]->type == REDIS_REPLY_STRING)
        m.deleted_at_ms = static_cast<std::int64_t>(to_u64(reply_string(rep->element[4])));
    return std::optional<chat_meta>{m};
}

std::vector<std::vector<std::string>> pending_commands(const std::string& token, std::uint64_t chat_number,
                                                       std::uint64_t number, const std::string& json) {
    auto key = core::keys::chat_pending(token, chat_number);
    return {{"HSET", key, std::to_string(number), json}, {"EXPIRE", key, std::to_string(pending_ttl_s)}};
}

core::result<std::optional<std::string>> get_pending(redis_connection& r, const std::string& token,
                                                     std::uint64_t chat_number, std::uint64_t number) {
    auto reply = r.command({"HGET", core::keys::chat_pending(token, chat_number), std::to_string(number)});
    if (!reply) return reply.error();
    const redisReply* rep = reply->get();
    if (is_error(rep)) return unavailable("redis", storage_unavailable, "HGET pending failed");
    if (rep->type != REDIS_REPLY_STRING) return std::optional<std::string>{};
    return std::optional<std::string>{reply_string(rep)};
}

core::result<void> clear_pending(redis_connection& r, const std::vector<pending_ref>& refs) {
    if (refs.empty()) return {};
    std::vector<std::vector<std::string>> cmds;
    cmds.reserve(refs.size());
    for (const auto& ref : refs)
        cmds.push_back(
            {"HDEL", core::keys::chat_pending(ref.token, ref.chat_number), std::to_string(ref.number)});
    auto replies = r.pipeline(cmds);
    if (!replies) return replies.error();
    return {};
}

}  // namespace chat::store
