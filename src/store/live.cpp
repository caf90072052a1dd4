#include "store/live.hpp"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include "core/metrics.hpp"
#include "store/failure.hpp"

namespace chat::store {

std::vector<std::string> live_publish_command(const domain::live_event& e) {
    return {"PUBLISH", std::string(live_channel), domain::encode(e)};
}

namespace {
boost::asio::awaitable<core::result<void>> publish(redis::client& r, std::vector<std::string> argv) {
    // (GCC 12 miscompiles a braced temporary inside a co_await expression: named values only.)
    std::string keyless;
    auto sent = co_await r.command(std::move(keyless), std::move(argv));
    if (!sent) co_return sent.error();
    if (sent->is_error())
        co_return unavailable("redis", storage_unavailable, "PUBLISH failed: " + clip(sent->error_text()));
    co_return core::result<void>{};
}
}  // namespace

boost::asio::awaitable<core::result<void>> publish_live(redis::client& r, const domain::live_event& e) {
    co_return co_await publish(r, live_publish_command(e));
}

boost::asio::awaitable<core::result<void>> publish_access(redis::client& r, const domain::access_event& e) {
    std::vector<std::string> argv{"PUBLISH", std::string(access_channel), domain::encode(e)};
    co_return co_await publish(r, std::move(argv));
}

live_subscriber::live_subscriber(core::redis_config cfg, on_event event, on_resync resync)
    : cfg_(std::move(cfg)), on_event_(std::move(event)), on_resync_(std::move(resync)) {}

live_subscriber::~live_subscriber() {
    stop();
}

void live_subscriber::start() {
    thread_ = std::thread([this] { run(); });
}

void live_subscriber::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void live_subscriber::run() {
    int backoff_ms = 100;
    while (!stop_) {
        auto started = std::chrono::steady_clock::now();
        session();
        if (stop_) break;
        // Quick failures back off; a session that lived a while retries at once.
        if (std::chrono::steady_clock::now() - started > std::chrono::seconds(5)) backoff_ms = 100;
        for (int waited = 0; waited < backoff_ms && !stop_; waited += 50)
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        backoff_ms = std::min(backoff_ms * 2, 2000);
    }
}

namespace {

struct reply_free {
    void operator()(void* r) const { freeReplyObject(r); }
};
using owned_reply = std::unique_ptr<redisReply, reply_free>;

}  // namespace

void live_subscriber::session() {
    timeval tv{2, 0};
    core::endpoint node{cfg_.host, cfg_.port};
    if (cfg_.clustered()) node = cfg_.cluster_nodes[sessions_++ % cfg_.cluster_nodes.size()];
    std::unique_ptr<redisContext, void (*)(redisContext*)> ctx(
        redisConnectWithTimeout(node.host.c_str(), node.port, tv), redisFree);
    if (!ctx || ctx->err) {
        core::metrics::dependency_failed("redis");
        spdlog::warn("live fan-out: cannot connect to Redis: {}", ctx ? ctx->errstr : "allocation failed");
        return;
    }
    redisSetTimeout(ctx.get(), timeval{5, 0});
    if (!cfg_.password.empty()) {
        owned_reply auth(static_cast<redisReply*>(redisCommand(ctx.get(), "AUTH %s", cfg_.password.c_str())));
        if (!auth || auth->type == REDIS_REPLY_ERROR) {
            spdlog::warn("live fan-out: Redis AUTH failed");
            return;
        }
    }
    std::string live(live_channel), access(access_channel);
    owned_reply sub(static_cast<redisReply*>(redisCommand(ctx.get(), "SUBSCRIBE %b %b", live.data(),
                                                          static_cast<size_t>(live.size()), access.data(),
                                                          static_cast<size_t>(access.size()))));
    if (!sub || sub->type == REDIS_REPLY_ERROR) {
        spdlog::warn("live fan-out: SUBSCRIBE failed");
        return;
    }
    spdlog::info("live fan-out: subscribed to {} and {}", live, access);
    on_resync_();
    while (!stop_) {
        pollfd p{ctx->fd, POLLIN, 0};
        int n = ::poll(&p, 1, 200);
        if (n < 0 && errno != EINTR) return;
        if (n <= 0) continue;
        if (redisBufferRead(ctx.get()) != REDIS_OK) {
            spdlog::warn("live fan-out: Redis connection lost: {}", ctx->errstr);
            return;
        }
        for (;;) {
            void* raw = nullptr;
            if (redisGetReplyFromReader(ctx.get(), &raw) != REDIS_OK) return;
            if (raw == nullptr) break;
            owned_reply r(static_cast<redisReply*>(raw));
            // ["message", channel, payload] (and a second ["subscribe", …] confirmation, skipped)
            if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
                r->element[0]->type == REDIS_REPLY_STRING &&
                std::string_view(r->element[0]->str, r->element[0]->len) == "message" &&
                r->element[1]->type == REDIS_REPLY_STRING && r->element[2]->type == REDIS_REPLY_STRING)
                on_event_(std::string_view(r->element[1]->str, r->element[1]->len),
                          std::string_view(r->element[2]->str, r->element[2]->len));
        }
    }
}

}  // namespace chat::store
