#pragma once
// The API's use cases over our servers: api::service as the handlers call it. It validates nothing
// (handlers did) and decides no access (access_control, before the handler, did): it talks to the
// stores through the blocking pool (reads and management, each on one pool thread's connections), the
// creation flow (api/creation.hpp over creation_adapter: Redis from the I/O threads, the broker through
// the publisher) and the read rules (api/read_rules.hpp), and returns values or errors.
//
// It is also access_control's store (access_stores): an application's access, a user's revocation, a
// membership, each read on the pool; and it announces every change of access to all API servers
// (domain::access_event over Redis pub/sub), this one included.
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <map>
#include <mutex>

#include "api/access_control.hpp"
#include "api/blocking_pool.hpp"
#include "api/creation.hpp"
#include "api/creation_adapter.hpp"
#include "api/service.hpp"
#include "store/async_redis.hpp"
#include "store/publisher.hpp"

namespace chat::api {

class chat_service final : public service, private access_stores {
  public:
    chat_service(const core::config& cfg, boost::asio::thread_pool& pool, store::publisher& pub,
                 store::redis::client& redis);

    task<caller> authenticate(const std::string& token, const std::string& credential) override;
    boost::asio::awaitable<std::optional<core::error>> authorize(const caller& c, domain::action a,
                                                                 std::optional<std::uint64_t> chat,
                                                                 std::string_view not_found_message) override;
    boost::asio::awaitable<bool> still_holds(const caller& c, std::uint64_t chat) override;

    task<created_app> create_app(std::string name) override;
    task<store::app_row> rename_app(std::string token, std::string name) override;
    task<store::app_row> get_app(std::string token) override;
    task<store::app_row> set_access(const caller& c, domain::access_mode mode) override;
    task<issued_secret> add_secret(const caller& c) override;
    task<std::vector<store::secret_listing>> list_secrets(const caller& c) override;
    task<void> delete_secret(const caller& c, std::string id) override;
    task<store::webhook_endpoint> create_webhook(const caller& c, std::string url,
                                                 std::vector<std::string> events) override;
    task<std::vector<store::webhook_endpoint>> list_webhooks(const caller& c) override;
    task<store::webhook_endpoint> get_webhook(const caller& c, std::string id) override;
    task<store::webhook_endpoint> update_webhook(const caller& c, std::string id,
                                                 store::webhook_change change) override;
    task<void> delete_webhook(const caller& c, std::string id) override;
    task<rotated_webhook_secret> rotate_webhook(const caller& c, std::string id) override;
    task<store::webhook_attempt_page> webhook_attempts(const caller& c, std::string id,
                                                       std::optional<std::pair<std::uint64_t, int>> before,
                                                       int limit) override;
    task<std::uint64_t> replay_webhook(const caller& c, std::string id, std::int64_t since_ms) override;
    task<minted_token> mint_token(const caller& c, std::string user, int ttl_s,
                                  std::optional<std::vector<std::uint64_t>> chats) override;
    task<std::int64_t> revoke_user(const caller& c, std::string user) override;

    task<store::member_row> add_member(const caller& c, std::uint64_t chat, std::string user) override;
    task<void> remove_member(const caller& c, std::uint64_t chat, std::string user) override;
    task<std::vector<store::member_row>> list_members(const caller& c, std::uint64_t chat,
                                                      std::string after_user, int limit) override;

    task<created_chat> create_chat(std::string token, std::optional<std::string> idempotency_key,
                                   std::string request_id, std::optional<std::string> creator) override;
    task<store::chat_row> get_chat(std::string token, std::uint64_t number) override;
    task<std::vector<store::chat_row>> list_chats(std::string token, std::uint64_t after, int limit,
                                                  chat_filter filter) override;

    task<created_message> create_message(std::string token, std::uint64_t chat, std::string body,
                                         std::optional<std::string> idempotency_key, std::string request_id,
                                         std::optional<std::string> sender) override;
    task<store::message_row> get_message(std::string token, std::uint64_t chat,
                                         std::uint64_t number) override;
    task<std::vector<store::message_row>> list_messages(std::string token, std::uint64_t chat,
                                                        std::uint64_t after, int limit) override;
    task<std::vector<store::message_row>> list_messages_before(std::string token, std::uint64_t chat,
                                                               std::uint64_t before, int limit) override;
    task<std::uint64_t> last_number(std::string token, std::uint64_t chat) override;
    task<store::message_row> edit_message(std::string token, std::uint64_t chat, std::uint64_t number,
                                          std::string body, std::string request_id,
                                          domain::principal editor) override;
    task<void> delete_message(const caller& c, std::uint64_t chat, std::uint64_t number,
                              std::string request_id) override;
    task<std::vector<store::message_version>> list_versions(std::string token, std::uint64_t chat,
                                                            std::uint64_t number) override;
    task<void> delete_chat(const caller& c, std::uint64_t chat, std::string request_id) override;
    task<std::int64_t> erase_user(const caller& c, std::string user, std::string request_id) override;
    task<user_erasure> erasure_status(const caller& c, std::string user) override;
    task<store::read_state> mark_read(const caller& c, std::uint64_t chat, std::uint64_t number,
                                      std::string request_id) override;
    task<std::map<std::string, std::uint64_t>> read_markers(std::string token, std::uint64_t chat) override;
    task<std::vector<store::read_state>> read_states(std::string token, std::vector<std::uint64_t> chats,
                                                     std::string user) override;
    task<store::app_row> set_retention(const caller& c, std::optional<int> days) override;
    task<store::search_page> search(std::string token, std::uint64_t chat, std::vector<std::string> fragments,
                                    std::size_t from, std::size_t size,
                                    store::search_options options) override;
    task<void> ready() override;

    const core::config& config() const override { return cfg_; }

    // From the fan-out's thread: an access change announced by any server; the fan-out reconnected.
    void access_changed(const domain::access_event& e) { access_.forget(e); }
    void fanout_reconnected() { access_.forget_all(); }

  private:
    // access_stores, for access_
    task<std::optional<domain::app_access>> load_app(const std::string& token) override;
    task<std::int64_t> load_revocation(std::uint64_t app_id, const std::string& user) override;
    task<membership> load_membership(const domain::app_access& app, std::uint64_t chat,
                                     const std::string& user) override;
    void secret_used(std::uint64_t app_id, const std::string& secret_id) override;

    // pool_.run(f) for an application-scoped operation: first takes a token from the application's
    // rate-limit bucket (errc::rate_limited when empty, and f does not run: nothing is consumed).
    template <class F>
    auto admitted(const std::string& token, F f)
        -> boost::asio::awaitable<decltype(f(std::declval<blocking_pool::connections&>()))>;
    // The rate-limit decision: an error when over the limit. Fails open (admits) when Redis cannot
    // answer: the limit protects the service, it must not cause an outage.
    std::optional<core::error> take_token(blocking_pool::connections& c, const std::string& token);
    // Announces a change of access to every API server (this one first, at once: its own next request
    // must see it), best effort: the others' caches expire within access_control::fresh_for anyway.
    boost::asio::awaitable<void> announce(const domain::access_event& e);
    // Writes the last-use times noted since the last time (at most every 30 s), on the pool.
    void flush_secret_uses(bool now);

    const core::config& cfg_;
    blocking_pool pool_;
    store::publisher& pub_;
    store::redis::client& redis_;
    creation_adapter creation_stores_;
    creation_flow creation_;
    access_control access_;
    // Last-use times of secrets not yet written: (app, secret id) -> ms.
    std::mutex uses_mu_;
    std::map<std::pair<std::uint64_t, std::string>, std::int64_t> uses_;
    std::chrono::steady_clock::time_point uses_flushed_{};
    bool uses_flushing_ = false;
};

}  // namespace chat::api
