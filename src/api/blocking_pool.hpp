#pragma once
// Blocking store calls, off the I/O threads: run(f) takes f to a thread of the blocking pool and back.
// Each pool thread owns its own connections (Redis, MariaDB, its replica, Elasticsearch), made on its
// first call; only the map from thread to connections is shared. Also the lookups several use cases
// share (an application's id, a chat Redis lost, a number being created).
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "core/config.hpp"
#include "core/error.hpp"
#include "store/elastic.hpp"
#include "store/mysql.hpp"
#include "store/redis.hpp"

namespace chat::api {

class blocking_pool {
  public:
    // One pool thread's connections.
    struct connections {
        explicit connections(const core::config& cfg)
            : redis(cfg.redis),
              mysql(cfg.mysql),
              es(cfg.es_url, cfg.es_index, {cfg.es_shards, cfg.es_replicas}) {
            if (cfg.mysql_replica) replica.emplace(*cfg.mysql_replica);
        }
        store::redis_connection redis;
        store::mysql_connection mysql;
        std::optional<store::mysql_connection> replica;  // CHAT_MYSQL_REPLICA_*: reads that may lag
        store::elastic_client es;
    };

    blocking_pool(const core::config& cfg, boost::asio::thread_pool& pool) : cfg_(cfg), pool_(pool) {}

    // f(connections&) on a pool thread; its result back on the caller's executor.
    template <class F>
    auto run(F f) -> boost::asio::awaitable<decltype(f(std::declval<connections&>()))> {
        using R = decltype(f(std::declval<connections&>()));
        co_return co_await boost::asio::co_spawn(
            pool_, [this, &f]() -> boost::asio::awaitable<R> { co_return f(local()); },
            boost::asio::use_awaitable);
    }
    // f(connections&) on a pool thread, not awaited (work off a request's path).
    template <class F>
    void post(F f) {
        boost::asio::post(pool_, [this, f = std::move(f)]() mutable { f(local()); });
    }
    boost::asio::thread_pool& pool() { return pool_; }

  private:
    connections& local() {
        std::lock_guard lock(mu_);
        auto& conns = by_thread_[std::this_thread::get_id()];
        if (!conns) conns = std::make_unique<connections>(cfg_);
        return *conns;
    }

    const core::config& cfg_;
    boost::asio::thread_pool& pool_;
    std::mutex mu_;
    std::unordered_map<std::thread::id, std::unique_ptr<connections>> by_thread_;
};

// A read that may lag behind the writes: f(replica) when one is configured and answers, else
// f(primary). Only for reads whose callers accept a stale answer (lists); a read that must see what
// this service just confirmed (a GET after a 201, a row read back after its update) stays on the
// primary.
template <class F>
auto lagging(blocking_pool::connections& c, F f) -> decltype(f(c.mysql)) {
    if (c.replica) {
        auto r = f(*c.replica);
        if (r || r.error().code != core::errc::unavailable) return r;
    }
    return f(c.mysql);
}
// A lookup of one row that may lag: a row the replica has is served (its counts may be as old as the
// replica's lag, and counts lag anyway), a row it lacks is asked of the primary, the only one that can
// say "none" (a chat stored a moment ago is on the primary before the replica).
template <class F>
auto lagging_lookup(blocking_pool::connections& c, F f) -> decltype(f(c.mysql)) {
    if (c.replica) {
        auto r = f(*c.replica);
        if (r && *r) return r;
        if (!r && r.error().code != core::errc::unavailable) return r;
    }
    return f(c.mysql);
}

// token -> application id: Redis, then MariaDB (the source of truth); cached for the process's life
// (the mapping never changes).
core::result<std::uint64_t> resolve_app(blocking_pool::connections& c, const std::string& token);
// Registers a chat stored in MariaDB but missing in Redis; false when MariaDB does not have it either.
core::result<bool> heal_chat(blocking_pool::connections& c, const std::string& token, std::uint64_t chat);
// For a chat found neither in MariaDB nor registered in Redis: 503 (retry) while its number is freshly
// handed out (store::unregistered_chat), a Redis error, or nothing when it is unknown.
std::optional<core::error> chat_being_created(blocking_pool::connections& c, const std::string& token,
                                              std::uint64_t chat);
// Why a parent was not found: 404, or 503 while Redis is being seeded from MariaDB.
core::error unknown_parent(blocking_pool::connections& c, const std::string& what);

}  // namespace chat::api
