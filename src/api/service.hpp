#pragma once
// The API's use cases: the interface the handlers call, and its implementation over our stores.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/creation.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "store/async_redis.hpp"
#include "store/elastic.hpp"
#include "store/numbering.hpp"
#include "store/publisher.hpp"
#include "store/rate_limit.hpp"
#include "store/redis.hpp"
#include "store/repository.hpp"

namespace chat::api {

// The API's use cases as the handlers see them. An interface, so the whole request path (session,
// router, handlers) can run over a fake in unit tests and fuzz targets; store_service below is the
// real one. Implementations are called from the I/O threads, concurrently.
class service {
  public:
    virtual ~service() = default;

    virtual task<store::app_row> create_app(std::string name) = 0;
    virtual task<store::app_row> rename_app(std::string token, std::string name) = 0;
    virtual task<store::app_row> get_app(std::string token) = 0;

    virtual task<created_chat> create_chat(std::string token, std::optional<std::string> idempotency_key,
                                           std::string request_id) = 0;
    virtual task<store::chat_row> get_chat(std::string token, std::uint64_t number) = 0;
    virtual task<std::vector<store::chat_row>> list_chats(std::string token, std::uint64_t after,
                                                          int limit) = 0;

    virtual task<created_message> create_message(std::string token, std::uint64_t chat, std::string body,
                                                 std::optional<std::string> idempotency_key,
                                                 std::string request_id) = 0;
    virtual task<store::message_row> get_message(std::string token, std::uint64_t chat,
                                                 std::uint64_t number) = 0;
    virtual task<std::vector<store::message_row>> list_messages(std::string token, std::uint64_t chat,
                                                                std::uint64_t after, int limit) = 0;
    // The `limit` stored messages numbered just below `before`, ascending (history paged backwards).
    virtual task<std::vector<store::message_row>> list_messages_before(std::string token, std::uint64_t chat,
                                                                       std::uint64_t before, int limit) = 0;
    // The highest message number handed out in the chat (0 when unknown): what live streams await.
    virtual task<std::uint64_t> last_number(std::string token, std::uint64_t chat) = 0;
    virtual task<store::message_row> edit_message(std::string token, std::uint64_t chat, std::uint64_t number,
                                                  std::string body, std::string request_id) = 0;
    virtual task<store::search_page> search(std::string token, std::uint64_t chat,
                                            std::vector<std::string> fragments, std::size_t from,
                                            std::size_t size, store::search_options options) = 0;

    // Every dependency answers: Redis, MariaDB, RabbitMQ, Elasticsearch.
    virtual task<void> ready() = 0;

    virtual const core::config& config() const = 0;
};

// The use cases over our stores: each validates nothing (handlers did), talks to the stores and
// returns values or errors. Blocking store calls run on the blocking pool (never on the I/O threads),
// each pool thread owning its own Redis, MariaDB and Elasticsearch connections. The creation path
// (rate limit, numbering, registration) stays on the I/O threads instead: it talks to Redis through
// the asynchronous client, which pipelines concurrent requests' commands on a few connections, and
// goes to the pool only for the rare recovery that needs MariaDB.
class store_service final : public service, private creation_stores {
  public:
    store_service(const core::config& cfg, boost::asio::thread_pool& pool, store::publisher& pub,
                  store::redis::client& redis);

    task<store::app_row> create_app(std::string name) override;
    task<store::app_row> rename_app(std::string token, std::string name) override;
    task<store::app_row> get_app(std::string token) override;

    task<created_chat> create_chat(std::string token, std::optional<std::string> idempotency_key,
                                   std::string request_id) override;
    task<store::chat_row> get_chat(std::string token, std::uint64_t number) override;
    task<std::vector<store::chat_row>> list_chats(std::string token, std::uint64_t after, int limit) override;

    task<created_message> create_message(std::string token, std::uint64_t chat, std::string body,
                                         std::optional<std::string> idempotency_key,
                                         std::string request_id) override;
    task<store::message_row> get_message(std::string token, std::uint64_t chat,
                                         std::uint64_t number) override;
    task<std::vector<store::message_row>> list_messages(std::string token, std::uint64_t chat,
                                                        std::uint64_t after, int limit) override;
    task<std::vector<store::message_row>> list_messages_before(std::string token, std::uint64_t chat,
                                                               std::uint64_t before, int limit) override;
    task<std::uint64_t> last_number(std::string token, std::uint64_t chat) override;
    task<store::message_row> edit_message(std::string token, std::uint64_t chat, std::uint64_t number,
                                          std::string body, std::string request_id) override;
    task<store::search_page> search(std::string token, std::uint64_t chat, std::vector<std::string> fragments,
                                    std::size_t from, std::size_t size,
                                    store::search_options options) override;
    task<void> ready() override;

    const core::config& config() const override { return cfg_; }

    // Per pool thread: the connections a blocking call may use.
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

  private:
    // A read that may lag behind the writes: f(replica) when one is configured and answers, else
    // f(primary). Only for reads whose callers accept a stale answer (lists); a read that must see
    // what this service just confirmed (a GET after a 201, a row read back after its update) stays
    // on the primary.
    template <class F>
    static auto lagging(connections& c, F f) -> decltype(f(c.mysql)) {
        if (c.replica) {
            auto r = f(*c.replica);
            if (r || r.error().code != core::errc::unavailable) return r;
        }
        return f(c.mysql);
    }
    // A lookup of one row that may lag: a row the replica has is served (its counts may be as old as
    // the replica's lag, and counts lag anyway), a row it lacks is asked of the primary, the only one
    // that can say "none" (a chat stored a moment ago is on the primary before the replica).
    template <class F>
    static auto lagging_lookup(connections& c, F f) -> decltype(f(c.mysql)) {
        if (c.replica) {
            auto r = f(*c.replica);
            if (r && *r) return r;
            if (!r && r.error().code != core::errc::unavailable) return r;
        }
        return f(c.mysql);
    }
    template <class F>
    auto blocking(F f) -> boost::asio::awaitable<decltype(f(std::declval<connections&>()))>;
    // blocking(f) for an application-scoped operation: first takes a token from the application's
    // rate-limit bucket (errc::rate_limited when empty, and f does not run: nothing is consumed).
    template <class F>
    auto admitted(const std::string& token, F f)
        -> boost::asio::awaitable<decltype(f(std::declval<connections&>()))>;
    // The rate-limit decision: an error when over the limit. Fails open (admits) when Redis cannot
    // answer: the limit protects the service, it must not cause an outage.
    std::optional<core::error> take_token(connections& c, const std::string& token);

    // creation_stores, for creation_: Redis through the asynchronous client from the I/O thread, the
    // broker through the publisher, MariaDB (recovery only) on the pool.
    task<store::rate_decision> take_token(const std::string& token) override;
    task<store::allocation> allocate(const store::allocation_request& req) override;
    boost::asio::awaitable<core::error> unknown_parent(const std::string& what) override;
    task<store::allocation> recover_chat(const std::string& token, std::uint64_t chat,
                                         const store::allocation_request& req) override;
    task<void> publish(std::string event, std::string creation_id, redis_commands after_confirm) override;
    task<void> register_chat(const std::string& token, std::uint64_t chat, std::uint64_t app_id,
                             std::int64_t created_at_ms) override;
    connections& local();
    core::result<std::uint64_t> resolve_app(connections& c, const std::string& token);
    core::error unknown_parent(connections& c, const std::string& what);
    // Registers a chat stored in MySQL but missing in Redis; false when MySQL does not have it either.
    core::result<bool> heal_chat(connections& c, const std::string& token, std::uint64_t chat);
    // For a chat found neither in MySQL nor registered in Redis: 503 (retry) while its number is
    // freshly handed out (store::unregistered_chat), a Redis error, or nothing when it is unknown.
    std::optional<core::error> chat_being_created(connections& c, const std::string& token,
                                                  std::uint64_t chat);

    const core::config& cfg_;
    boost::asio::thread_pool& pool_;
    store::publisher& pub_;
    store::redis::client& redis_;
    creation_flow creation_;
    // The blocking pool's connections, one set per pool thread (see local()).
    std::mutex connections_mu_;
    std::unordered_map<std::thread::id, std::unique_ptr<connections>> connections_;
};

}  // namespace chat::api
