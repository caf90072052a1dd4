#include "store/redis.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <cerrno>

#include "store/failure.hpp"
#include "store/redis_reply.hpp"

namespace chat::store {

bool is_error(const redisReply* r) {
    return r == nullptr || r->type == REDIS_REPLY_ERROR;
}

std::string reply_string(const redisReply* r) {
    if (r == nullptr) return {};
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR)
        return std::string(r->str, r->len);
    if (r->type == REDIS_REPLY_INTEGER) return std::to_string(r->integer);
    return {};
}

redis_connection::redis_connection(core::redis_config cfg) : cfg_(std::move(cfg)) {
    if (cfg_.clustered())
        for (const auto& seed : cfg_.cluster_nodes) node_at(seed);
    else
        node_at({cfg_.host, cfg_.port});
}

redis_connection::node& redis_connection::node_at(const core::endpoint& address) {
    for (auto& n : nodes_)
        if (n->address == address) return *n;
    nodes_.push_back(std::make_unique<node>());
    nodes_.back()->address = address;
    return *nodes_.back();
}

void redis_connection::drop(node& n) {
    n.ctx.reset();
    if (cfg_.clustered()) slots_stale_ = true;  // a failed node may have been failed over
}

namespace {
// True when the server closed this idle connection (restart, timeout): the next command would fail
// without having been sent, so it is safe and better to reconnect first.
bool peer_closed(const redisContext* c) {
    char byte;
    ssize_t n = ::recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

std::vector<const char*> pointers(const std::vector<std::string>& argv, std::vector<size_t>& lens) {
    std::vector<const char*> ptrs;
    lens.clear();
    for (const auto& a : argv) {
        ptrs.push_back(a.data());
        lens.push_back(a.size());
    }
    return ptrs;
}
}  // namespace

core::result<redisContext*> redis_connection::ensure_connected(node& n) {
    if (n.ctx && n.ctx->err == 0 && !peer_closed(n.ctx.get())) return n.ctx.get();
    drop(n);
    timeval tv{2, 0};
    redisContext* c = redisConnectWithTimeout(n.address.host.c_str(), n.address.port, tv);
    if (c == nullptr || c->err) {
        std::string why = c ? c->errstr : "allocation failed";
        if (c) redisFree(c);
        return unavailable("redis", storage_unavailable, "cannot connect: " + why);
    }
    n.ctx.reset(c);
    timeval io{5, 0};
    redisSetTimeout(c, io);
    if (!cfg_.password.empty()) {
        reply_ptr r(
            static_cast<redisReply*>(redisCommand(c, "AUTH %b", cfg_.password.data(), cfg_.password.size())));
        if (!r || is_error(r.get())) {
            drop(n);
            return unavailable("redis", storage_unavailable, "AUTH failed");
        }
    }
    return c;
}

core::result<reply_ptr> redis_connection::send(node& n, const std::vector<std::string>& argv, bool asking) {
    auto connected = ensure_connected(n);
    if (!connected) return connected.error();
    redisContext* c = *connected;
    if (asking) {
        reply_ptr ok(static_cast<redisReply*>(redisCommand(c, "ASKING")));
        if (!ok) {
            std::string why = c->errstr;
            drop(n);
            return unavailable("redis", storage_unavailable, why);
        }
    }
    std::vector<size_t> lens;
    auto ptrs = pointers(argv, lens);
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data()));
    if (r == nullptr) {
        std::string why = c->errstr;
        drop(n);
        return unavailable("redis", storage_unavailable, why);
    }
    return reply_ptr(r);
}

redis_connection::node& redis_connection::route(std::optional<std::string_view> key) {
    if (!cfg_.clustered()) return *nodes_.front();
    if (slots_stale_) refresh_slots();
    if (slots_) {
        const auto* master = slots_->master_of(key ? redis::hash_slot(*key) : 0);
        if (master) return node_at(*master);
    }
    return *nodes_.front();
}

void redis_connection::refresh_slots() {
    slots_stale_ = false;
    // The masters we know, then the seeds: whichever answers first with a map.
    std::vector<core::endpoint> candidates;
    if (slots_) candidates = slots_->masters();
    for (const auto& seed : cfg_.cluster_nodes) candidates.push_back(seed);
    for (const auto& address : candidates) {
        node& n = node_at(address);
        auto r = send(n, {"CLUSTER", "SLOTS"}, false);
        if (!r) continue;
        if (auto map = redis::slot_map::parse(redis::reply::from_hiredis(r->get()), address)) {
            slots_ = std::move(map);
            slots_stale_ = false;
            return;
        }
    }
    slots_stale_ = true;  // nobody answered: try again on the next command
}

// Follows redirections: MOVED (the slot lives elsewhere now: read the map again) and ASK (the slot is
// being migrated: this one command goes to the target, after ASKING). A few hops at most.
core::result<reply_ptr> redis_connection::cluster_command(const std::vector<std::string>& argv) {
    node* target = &route(redis::routing_key(argv));
    bool asking = false;
    for (int hop = 0;; ++hop) {
        auto r = send(*target, argv, asking);
        if (!r || !is_error(r->get()) || hop == 4) return r;
        auto redirect = redis::parse_redirection(reply_string(r->get()));
        if (!redirect) return r;
        asking = redirect->type == redis::redirection::kind::ask;
        if (!asking) slots_stale_ = true;
        target = &node_at({redirect->host, redirect->port});
    }
}

core::result<reply_ptr> redis_connection::command(const std::vector<std::string>& argv) {
    if (cfg_.clustered()) return cluster_command(argv);
    return send(*nodes_.front(), argv, false);
}

core::result<std::vector<reply_ptr>> redis_connection::send_pipeline(
    node& n, const std::vector<const std::vector<std::string>*>& commands) {
    auto connected = ensure_connected(n);
    if (!connected) return connected.error();
    redisContext* c = *connected;
    std::vector<size_t> lens;
    for (const auto* argv : commands) {
        auto ptrs = pointers(*argv, lens);
        if (redisAppendCommandArgv(c, static_cast<int>(argv->size()), ptrs.data(), lens.data()) != REDIS_OK) {
            drop(n);
            return unavailable("redis", storage_unavailable, "cannot buffer command");
        }
    }
    std::vector<reply_ptr> out;
    for (std::size_t i = 0; i < commands.size(); ++i) {
        void* raw = nullptr;
        if (redisGetReply(c, &raw) != REDIS_OK || raw == nullptr) {
            std::string why = c->errstr;
            drop(n);
            return unavailable("redis", storage_unavailable, why);
        }
        out.emplace_back(static_cast<redisReply*>(raw));
    }
    return out;
}

core::result<std::vector<reply_ptr>> redis_connection::pipeline(
    const std::vector<std::vector<std::string>>& commands) {
    std::vector<const std::vector<std::string>*> all;
    for (const auto& c : commands) all.push_back(&c);
    if (!cfg_.clustered()) return send_pipeline(*nodes_.front(), all);
    // One pipeline per node, in the order of the commands. Keyless commands (PUBLISH) go last, after
    // every keyed one has been answered: a live event must not overtake the pending entry it announces.
    std::vector<reply_ptr> out(commands.size());
    std::vector<std::pair<node*, std::vector<std::size_t>>> groups;
    std::vector<std::size_t> keyless;
    for (std::size_t i = 0; i < commands.size(); ++i) {
        auto key = redis::routing_key(commands[i]);
        if (!key) {
            keyless.push_back(i);
            continue;
        }
        node* n = &route(key);
        auto g = std::find_if(groups.begin(), groups.end(), [n](const auto& e) { return e.first == n; });
        if (g == groups.end()) g = groups.insert(groups.end(), {n, {}});
        g->second.push_back(i);
    }
    if (!keyless.empty()) groups.emplace_back(&route(std::nullopt), std::move(keyless));
    for (auto& [n, indexes] : groups) {
        std::vector<const std::vector<std::string>*> cmds;
        for (auto i : indexes) cmds.push_back(&commands[i]);
        auto replies = send_pipeline(*n, cmds);
        if (!replies) return replies.error();
        for (std::size_t k = 0; k < indexes.size(); ++k) {
            auto& r = (*replies)[k];
            if (is_error(r.get()) && redis::parse_redirection(reply_string(r.get()))) {
                // The slot moved meanwhile: this command again, following the cluster.
                auto again = cluster_command(commands[indexes[k]]);
                if (!again) return again.error();
                r = std::move(*again);
            }
            out[indexes[k]] = std::move(r);
        }
    }
    return out;
}

core::result<void> redis_connection::wait_for_replicas(std::string_view key) {
    if (cfg_.wait_replicas <= 0) return {};
    node& n = route(key);
    auto r =
        send(n, {"WAIT", std::to_string(cfg_.wait_replicas), std::to_string(cfg_.wait_timeout_ms)}, false);
    if (!r) return r.error();
    if (r->get()->type != REDIS_REPLY_INTEGER || r->get()->integer < cfg_.wait_replicas)
        return unavailable("redis", storage_unavailable, "too few replicas acknowledged the write");
    return {};
}

core::result<reply_ptr> redis_connection::eval(const std::string& script,
                                               const std::vector<std::string>& keys,
                                               const std::vector<std::string>& args) {
    std::string sha;
    for (const auto& [text, s] : script_shas_)
        if (text == script) sha = s;
    if (sha.empty()) {
        // The SHA1 is the script's, the same on every node: any node may tell it.
        auto loaded = command({"SCRIPT", "LOAD", script});
        if (!loaded) return loaded.error();
        if (is_error(loaded->get())) {
            // A script that does not compile is our bug; anything else (LOADING while Redis reads
            // its AOF after a restart, BUSY, ...) passes, so the client gets a retryable 503.
            auto why = reply_string(loaded->get());
            if (why.find("compiling") != std::string::npos)
                return internal("redis", "SCRIPT LOAD failed: " + clip(why));
            return unavailable("redis", storage_unavailable, "SCRIPT LOAD failed: " + clip(why));
        }
        sha = reply_string(loaded->get());
        script_shas_.emplace_back(script, sha);
    }
    std::vector<std::string> argv{"EVALSHA", sha, std::to_string(keys.size())};
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    auto r = command(argv);
    if (!r) return r.error();
    if (is_error(r->get()) && reply_string(r->get()).rfind("NOSCRIPT", 0) == 0) {
        // This node does not know the script (it restarted, failed over, or never ran it): EVAL runs
        // it and loads it there.
        argv[0] = "EVAL";
        argv[1] = script;
        return command(argv);
    }
    return r;
}

}  // namespace chat::store
