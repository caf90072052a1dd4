#include "store/read_state.hpp"

#include <charconv>

#include "core/keys.hpp"
#include "store/failure.hpp"

namespace chat::store {

namespace {

std::uint64_t to_number(std::string_view s) {
    std::uint64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
}

// KEYS: the chat's hash, its reads hash, its deleted set. ARGV: user. Returns {marker, last, deleted above}.
const std::string read_state_script = R"lua(
local last = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local marker = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local deleted = redis.call('ZCOUNT', KEYS[3], '(' .. marker, '+inf')
return {marker, last, deleted}
)lua";

// KEYS: the chat's hash, its reads hash. ARGV: user, number. Returns {-1} when the number is above the
// chat's last, else {marker after, 1 if it moved}. The same rule as domain::move_marker, atomic.
const std::string move_marker_script = R"lua(
local last = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local wanted = tonumber(ARGV[2])
if wanted > last then return {-1} end
local cur = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if wanted > cur then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  return {wanted, 1}
end
return {cur, 0}
)lua";

core::error script_failed(const char* what) {
    return unavailable("redis", storage_unavailable, std::string(what) + " failed");
}

}  // namespace

std::vector<std::vector<std::string>> deletion_commands(const std::string& token, std::uint64_t chat,
                                                        std::uint64_t number, std::int64_t deleted_at_ms) {
    auto pending = core::keys::chat_pending_deletions(token, chat);
    auto n = std::to_string(number);
    return {{"HSET", pending, n, std::to_string(deleted_at_ms)},
            {"EXPIRE", pending, std::to_string(pending_ttl_s)},
            {"ZADD", core::keys::chat_deleted(token, chat), n, n}};
}

core::result<deletion_marks> deletion_marks_of(redis_connection& r, const std::string& token,
                                               std::uint64_t chat, std::optional<std::uint64_t> number) {
    std::vector<std::vector<std::string>> cmds{{"HGET", core::keys::chat(token, chat), "deleted"}};
    if (number)
        cmds.push_back({"HGET", core::keys::chat_pending_deletions(token, chat), std::to_string(*number)});
    else
        cmds.push_back({"HGETALL", core::keys::chat_pending_deletions(token, chat)});
    auto replies = r.pipeline(cmds);
    if (!replies) return replies.error();
    if (replies->size() != 2 || is_error((*replies)[0].get()) || is_error((*replies)[1].get()))
        return script_failed("deletion marks");
    deletion_marks out;
    out.chat_deleted = (*replies)[0]->type == REDIS_REPLY_STRING;
    const redisReply* rep = (*replies)[1].get();
    if (number && rep->type == REDIS_REPLY_STRING)
        out.messages[*number] = static_cast<std::int64_t>(to_number(reply_string(rep)));
    if (!number && rep->type == REDIS_REPLY_ARRAY)
        for (std::size_t i = 0; i + 1 < rep->elements; i += 2)
            out.messages[to_number(reply_string(rep->element[i]))] =
                static_cast<std::int64_t>(to_number(reply_string(rep->element[i + 1])));
    return out;
}

std::vector<std::string> chat_deletion_command(const std::string& token, std::uint64_t chat,
                                               std::int64_t deleted_at_ms) {
    return {"HSET", core::keys::chat(token, chat), "deleted", std::to_string(deleted_at_ms)};
}

core::result<std::map<std::uint64_t, std::int64_t>> pending_deletions(redis_connection& r,
                                                                      const std::string& token,
                                                                      std::uint64_t chat) {
    auto reply = r.command({"HGETALL", core::keys::chat_pending_deletions(token, chat)});
    if (!reply) return reply.error();
    const redisReply* rep = reply->get();
    if (is_error(rep) || rep->type != REDIS_REPLY_ARRAY) return script_failed("HGETALL pending deletions");
    std::map<std::uint64_t, std::int64_t> out;
    for (std::size_t i = 0; i + 1 < rep->elements; i += 2)
        out[to_number(reply_string(rep->element[i]))] =
            static_cast<std::int64_t>(to_number(reply_string(rep->element[i + 1])));
    return out;
}

core::result<void> clear_pending_deletions(redis_connection& r, const std::vector<pending_ref>& refs) {
    if (refs.empty()) return {};
    std::vector<std::vector<std::string>> cmds;
    for (const auto& ref : refs)
        cmds.push_back({"HDEL", core::keys::chat_pending_deletions(ref.token, ref.chat_number),
                        std::to_string(ref.number)});
    auto replies = r.pipeline(cmds);
    if (!replies) return replies.error();
    return {};
}

core::result<void> add_deleted(redis_connection& r, const std::string& token, std::uint64_t chat,
                               const std::vector<std::uint64_t>& numbers) {
    if (numbers.empty()) return {};
    std::vector<std::string> argv{"ZADD", core::keys::chat_deleted(token, chat)};
    for (auto n : numbers) {
        argv.push_back(std::to_string(n));
        argv.push_back(std::to_string(n));
    }
    auto reply = r.command(argv);
    if (!reply) return reply.error();
    if (is_error(reply->get())) return script_failed("ZADD deleted");
    return {};
}

core::result<std::vector<read_state>> read_states(redis_connection& r, const std::string& token,
                                                  const std::vector<std::uint64_t>& chats,
                                                  const std::string& user) {
    std::vector<read_state> out;
    if (chats.empty()) return out;
    // One EVAL a chat, pipelined: one round trip (per master in a cluster: each lands on its chat's slot).
    std::vector<std::vector<std::string>> cmds;
    for (auto chat : chats)
        cmds.push_back({"EVAL", read_state_script, "3", core::keys::chat(token, chat),
                        core::keys::chat_reads(token, chat), core::keys::chat_deleted(token, chat), user});
    auto replies = r.pipeline(cmds);
    if (!replies) return replies.error();
    for (const auto& reply : *replies) {
        const redisReply* rep = reply.get();
        if (is_error(rep) || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3)
            return script_failed("read state");
        out.push_back(read_state{static_cast<std::uint64_t>(rep->element[0]->integer),
                                 static_cast<std::uint64_t>(rep->element[1]->integer),
                                 static_cast<std::uint64_t>(rep->element[2]->integer)});
    }
    return out;
}

std::vector<std::string> sender_read_command(const std::string& token, std::uint64_t chat,
                                             const std::string& user, std::uint64_t number) {
    return {"EVAL",
            move_marker_script,
            "2",
            core::keys::chat(token, chat),
            core::keys::chat_reads(token, chat),
            user,
            std::to_string(number)};
}

core::result<std::optional<marker_move>> move_marker(redis_connection& r, const std::string& token,
                                                     std::uint64_t chat, const std::string& user,
                                                     std::uint64_t number) {
    auto reply =
        r.eval(move_marker_script, {core::keys::chat(token, chat), core::keys::chat_reads(token, chat)},
               {user, std::to_string(number)});
    if (!reply) return reply.error();
    const redisReply* rep = reply->get();
    if (is_error(rep) || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1)
        return script_failed("move marker");
    if (rep->element[0]->integer < 0) return std::optional<marker_move>{};
    if (rep->elements != 2) return script_failed("move marker");
    return std::optional<marker_move>(
        marker_move{static_cast<std::uint64_t>(rep->element[0]->integer), rep->element[1]->integer == 1});
}

std::vector<std::string> erasure_queued_command(const std::string& token, const std::string& user,
                                                std::int64_t requested_at_ms) {
    return {"HSET", core::keys::app_erasures(token), user, std::to_string(requested_at_ms)};
}

core::result<std::optional<std::int64_t>> erasure_queued(redis_connection& r, const std::string& token,
                                                         const std::string& user) {
    auto reply = r.command({"HGET", core::keys::app_erasures(token), user});
    if (!reply) return reply.error();
    const redisReply* rep = reply->get();
    if (is_error(rep)) return script_failed("HGET erasures");
    if (rep->type != REDIS_REPLY_STRING) return std::optional<std::int64_t>{};
    return std::optional<std::int64_t>{static_cast<std::int64_t>(to_number(reply_string(rep)))};
}

core::result<std::map<std::string, std::uint64_t>> markers(redis_connection& r, const std::string& token,
                                                           std::uint64_t chat) {
    auto reply = r.command({"HGETALL", core::keys::chat_reads(token, chat)});
    if (!reply) return reply.error();
    const redisReply* rep = reply->get();
    if (is_error(rep) || rep->type != REDIS_REPLY_ARRAY) return script_failed("HGETALL reads");
    std::map<std::string, std::uint64_t> out;
    for (std::size_t i = 0; i + 1 < rep->elements; i += 2)
        out[reply_string(rep->element[i])] = to_number(reply_string(rep->element[i + 1]));
    return out;
}

core::result<void> drop_markers(redis_connection& r, const std::string& token,
                                const std::vector<std::uint64_t>& chats, const std::string& user) {
    if (chats.empty()) return {};
    std::vector<std::vector<std::string>> cmds;
    for (auto chat : chats) cmds.push_back({"HDEL", core::keys::chat_reads(token, chat), user});
    auto replies = r.pipeline(cmds);
    if (!replies) return replies.error();
    return {};
}

core::result<void> restore_lifecycle(redis_connection& r, const std::string& token, std::uint64_t chat,
                                     const chat_lifecycle& state) {
    std::vector<std::vector<std::string>> cmds;
    if (state.deleted_at_ms) cmds.push_back(chat_deletion_command(token, chat, *state.deleted_at_ms));
    if (!state.deleted.empty()) {
        std::vector<std::string> zadd{"ZADD", core::keys::chat_deleted(token, chat)};
        for (auto n : state.deleted) {
            zadd.push_back(std::to_string(n));
            zadd.push_back(std::to_string(n));
        }
        cmds.push_back(std::move(zadd));
    }
    if (!state.markers.empty()) {
        // Only forward: a marker moved since (the API serves while this runs) stays.
        for (const auto& [user, number] : state.markers)
            cmds.push_back(
                {"EVAL",
                 "local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') "
                 "if tonumber(ARGV[2]) > cur then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end "
                 "return 0",
                 "1", core::keys::chat_reads(token, chat), user, std::to_string(number)});
    }
    if (cmds.empty()) return {};
    auto replies = r.pipeline(cmds);
    if (!replies) return replies.error();
    for (const auto& rep : *replies)
        if (is_error(rep.get())) return script_failed("restore lifecycle");
    return {};
}

}  // namespace chat::store
