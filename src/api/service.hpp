#pragma once
// The API's use cases: each validates nothing (handlers did), talks to the stores and returns values
// or errors. Blocking store calls run on the blocking pool (never on the I/O threads), each pool
// thread owning its own Redis, MariaDB and Elasticsearch connections.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "core/error.hpp"
#include "store/elastic.hpp"
#include "store/publisher.hpp"
#include "store/redis.hpp"
#include "store/repository.hpp"

namespace chat::api {

template <class T>
using task = boost::asio::awaitable<core::result<T>>;

struct created_chat {
    std::uint64_t number = 0;
    std::int64_t created_at_ms = 0;
    bool replayed = false;
};

struct created_message {
    std::uint64_t number = 0;
    std::string body;
    std::int64_t created_at_ms = 0;
    bool replayed = false;
};

class service {
  public:
    service(const core::config& cfg, boost::asio::thread_pool& pool, store::publisher& pub);

    task<store::app_row> create_app(std::string name);
    task<store::app_row> rename_app(std::string token, std::string name);
    task<store::app_row> get_app(std::string token);

    task<created_chat> create_chat(std::string token, std::optional<std::string> idempotency_key,
                                   std::string request_id);
    task<store::chat_row> get_chat(std::string token, std::uint64_t number);
    task<std::vector<store::chat_row>> list_chats(std::string token, std::uint64_t after, int limit);

    task<created_message> create_message(std::string token, std::uint64_t chat, std::string body,
                                         std::optional<std::string> idempotency_key, std::string request_id);
    task<store::message_row> get_message(std::string token, std::uint64_t chat, std::uint64_t number);
    task<std::vector<store::message_row>> list_messages(std::string token, std::uint64_t chat,
                                                        std::uint64_t after, int limit);
    task<store::message_row> edit_message(std::string token, std::uint64_t chat, std::uint64_t number,
                                          std::string body, std::string request_id);
    task<store::search_page> search(std::string token, std::uint64_t chat, std::vector<std::string> fragments,
                                    std::size_t from, std::size_t size, store::search_order order);

    // Every dependency answers: Redis, MariaDB, RabbitMQ, Elasticsearch.
    task<void> ready();

    const core::config& config() const { return cfg_; }

    // Per pool thread: the connections a blocking call may use.
    struct connections {
        explicit connections(const core::config& cfg)
            : redis(cfg.redis), mysql(cfg.mysql), es(cfg.es_url, cfg.es_index) {}
        store::redis_connection redis;
        store::mysql_connection mysql;
        store::elastic_client es;
    };

  private:
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
};

}  // namespace chat::api
