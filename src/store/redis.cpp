#include "store/redis.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>

#include "store/failure.hpp"

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

void redis_connection::drop() {
    ctx_.reset();
    script_shas_.clear();
}

namespace {
// True when the server closed this idle connection (restart, timeout): the next command would fail
// without having been sent, so it is safe and better to reconnect first.
bool peer_closed(const redisContext* c) {
    char byte;
    ssize_t n = ::recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}
}  // namespace

core::result<void> redis_connection::ensure_connected() {
    if (ctx_ && ctx_->err == 0 && !peer_closed(ctx_.get())) return {};
    drop();
    timeval tv{2, 0};
    redisContext* c = redisConnectWithTimeout(cfg_.host.c_str(), cfg_.port, tv);
    if (c == nullptr || c->err) {
        std::string why = c ? c->errstr : "allocation failed";
        if (c) redisFree(c);
        return unavailable("redis", storage_unavailable, "cannot connect: " + why);
    }
    ctx_.reset(c);
    timeval io{5, 0};
    redisSetTimeout(c, io);
    if (!cfg_.password.empty()) {
        auto r = command({"AUTH", cfg_.password});
        if (!r) return r.error();
        if (is_error(r->get())) {
            drop();
            return unavailable("redis", storage_unavailable, "AUTH failed");
        }
    }
    return {};
}

core::result<reply_ptr> redis_connection::command(const std::vector<std::string>& argv) {
    if (auto ok = ensure_connected(); !ok) return ok.error();
    std::vector<const char*> ptrs;
    std::vector<size_t> lens;
    for (const auto& a : argv) {
        ptrs.push_back(a.data());
        lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(ctx_.get(), static_cast<int>(argv.size()), ptrs.data(), lens.data()));
    if (r == nullptr) {
        std::string why = ctx_->errstr;
        drop();
        return unavailable("redis", storage_unavailable, why);
    }
    return reply_ptr(r);
}

core::result<std::vector<reply_ptr>> redis_connection::pipeline(
    const std::vector<std::vector<std::string>>& commands) {
    if (auto ok = ensure_connected(); !ok) return ok.error();
    for (const auto& argv : commands) {
        std::vector<const char*> ptrs;
        std::vector<size_t> lens;
        for (const auto& a : argv) {
            ptrs.push_back(a.data());
            lens.push_back(a.size());
        }
        if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(argv.size()), ptrs.data(), lens.data()) !=
            REDIS_OK) {
            drop();
            return unavailable("redis", storage_unavailable, "cannot buffer command");
        }
    }
    std::vector<reply_ptr> out;
    for (std::size_t i = 0; i < commands.size(); ++i) {
        void* raw = nullptr;
        if (redisGetReply(ctx_.get(), &raw) != REDIS_OK || raw == nullptr) {
            std::string why = ctx_->errstr;
            drop();
            return unavailable("redis", storage_unavailable, why);
        }
        out.emplace_back(static_cast<redisReply*>(raw));
    }
    return out;
}

core::result<reply_ptr> redis_connection::eval(const std::string& script,
                                               const std::vector<std::string>& keys,
                                               const std::vector<std::string>& args) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::string sha;
        for (const auto& [text, s] : script_shas_)
            if (text == script) sha = s;
        if (sha.empty()) {
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
            script_shas_.clear();  // Redis restarted and forgot its scripts: load again and retry once
            continue;
        }
        return r;
    }
    return unavailable("redis", storage_unavailable, "script could not be loaded");
}

}  // namespace chat::store
