#pragma once
// The API's use cases as the handlers see them. An interface, so the whole request path (session,
// router, handlers) can run over a fake in unit tests and fuzz targets; api::chat_service
// (api/chat_service.hpp) is the real one. Implementations are called from the I/O threads, concurrently.
#include <boost/asio/awaitable.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "api/access_control.hpp"
#include "api/creation.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "store/access_repository.hpp"
#include "store/elastic.hpp"
#include "store/read_state.hpp"
#include "store/repository.hpp"
#include "store/webhook_endpoints.hpp"

namespace chat::api {

// A new application and its first secret (shown once, never again).
struct created_app {
    store::app_row app;
    std::string secret;
    std::string secret_id;
};
struct issued_secret {
    std::string id;
    std::string secret;
    std::int64_t created_at_ms = 0;
};
struct minted_token {
    std::string token;
    std::int64_t expires_at_ms = 0;
};
// A user's erasure as GET …/users/{user}/erasure shows it.
struct user_erasure {
    enum class state { queued, running, done } status = state::queued;
    std::int64_t requested_at_ms = 0;
    std::optional<std::int64_t> finished_at_ms;
    std::uint64_t erased = 0;
};
// A webhook's signing secret after a rotation, and until when the previous one still signs.
struct rotated_webhook_secret {
    std::string signing_secret;
    std::int64_t previous_valid_until_ms = 0;
};

// Which chats a list shows: a user's own (member), within a token's `chats` claim.
struct chat_filter {
    std::optional<std::string> member;
    std::optional<std::vector<std::uint64_t>> chats;
};

class service {
  public:
    virtual ~service() = default;

    // Access (api/access_control.hpp): who calls, and whether it may.
    virtual task<caller> authenticate(const std::string& token, const std::string& credential) = 0;
    virtual boost::asio::awaitable<std::optional<core::error>> authorize(
        const caller& c, domain::action a, std::optional<std::uint64_t> chat,
        std::string_view not_found_message) = 0;
    virtual boost::asio::awaitable<bool> still_holds(const caller& c, std::uint64_t chat) = 0;

    virtual task<created_app> create_app(std::string name) = 0;
    virtual task<store::app_row> rename_app(std::string token, std::string name) = 0;
    virtual task<store::app_row> get_app(std::string token) = 0;
    virtual task<store::app_row> set_access(const caller& c, domain::access_mode mode) = 0;
    virtual task<issued_secret> add_secret(const caller& c) = 0;
    virtual task<std::vector<store::secret_listing>> list_secrets(const caller& c) = 0;
    virtual task<void> delete_secret(const caller& c, std::string id) = 0;

    // Webhooks (docs/webhooks.md). `url` and `events` were checked by the handler (domain/webhook.hpp);
    // the service resolves the host and refuses private addresses unless allowed.
    virtual task<store::webhook_endpoint> create_webhook(const caller& c, std::string url,
                                                         std::vector<std::string> events) = 0;
    virtual task<std::vector<store::webhook_endpoint>> list_webhooks(const caller& c) = 0;
    virtual task<store::webhook_endpoint> get_webhook(const caller& c, std::string id) = 0;
    virtual task<store::webhook_endpoint> update_webhook(const caller& c, std::string id,
                                                         store::webhook_change change) = 0;
    virtual task<void> delete_webhook(const caller& c, std::string id) = 0;
    virtual task<rotated_webhook_secret> rotate_webhook(const caller& c, std::string id) = 0;
    virtual task<store::webhook_attempt_page> webhook_attempts(
        const caller& c, std::string id, std::optional<std::pair<std::uint64_t, int>> before, int limit) = 0;
    virtual task<std::uint64_t> replay_webhook(const caller& c, std::string id, std::int64_t since_ms) = 0;
    // A user token signed with the caller's secret: `ttl_s` seconds, limited to `chats` when given.
    virtual task<minted_token> mint_token(const caller& c, std::string user, int ttl_s,
                                          std::optional<std::vector<std::uint64_t>> chats) = 0;
    // The user's tokens issued until now are refused from now on; returns that instant.
    virtual task<std::int64_t> revoke_user(const caller& c, std::string user) = 0;

    virtual task<store::member_row> add_member(const caller& c, std::uint64_t chat, std::string user) = 0;
    virtual task<void> remove_member(const caller& c, std::uint64_t chat, std::string user) = 0;
    virtual task<std::vector<store::member_row>> list_members(const caller& c, std::uint64_t chat,
                                                              std::string after_user, int limit) = 0;

    // creator: the user whose token created it (its first member), if any.
    virtual task<created_chat> create_chat(std::string token, std::optional<std::string> idempotency_key,
                                           std::string request_id, std::optional<std::string> creator) = 0;
    virtual task<store::chat_row> get_chat(std::string token, std::uint64_t number) = 0;
    virtual task<std::vector<store::chat_row>> list_chats(std::string token, std::uint64_t after, int limit,
                                                          chat_filter filter) = 0;

    // sender: set by the server from the credential (or by the secret), never from a user's body.
    virtual task<created_message> create_message(std::string token, std::uint64_t chat, std::string body,
                                                 std::optional<std::string> idempotency_key,
                                                 std::string request_id,
                                                 std::optional<std::string> sender) = 0;
    virtual task<store::message_row> get_message(std::string token, std::uint64_t chat,
                                                 std::uint64_t number) = 0;
    virtual task<std::vector<store::message_row>> list_messages(std::string token, std::uint64_t chat,
                                                                std::uint64_t after, int limit) = 0;
    // The `limit` stored messages numbered just below `before`, ascending (history paged backwards).
    virtual task<std::vector<store::message_row>> list_messages_before(std::string token, std::uint64_t chat,
                                                                       std::uint64_t before, int limit) = 0;
    // The highest message number handed out in the chat (0 when unknown): what live streams await.
    virtual task<std::uint64_t> last_number(std::string token, std::uint64_t chat) = 0;
    // A user edits only its own messages (errc::forbidden otherwise); see domain::may_change_message.
    virtual task<store::message_row> edit_message(std::string token, std::uint64_t chat, std::uint64_t number,
                                                  std::string body, std::string request_id,
                                                  domain::principal editor) = 0;
    // ---- lifecycle (domain/lifecycle.hpp). Deletions and erasures go through the queue like creations.
    // 204: the deletion is acknowledged (a message deleted already answers the same); a user deletes only
    // its own messages (errc::forbidden).
    virtual task<void> delete_message(const caller& c, std::uint64_t chat, std::uint64_t number,
                                      std::string request_id) = 0;
    // Every body the message had, oldest first (its current one last).
    virtual task<std::vector<store::message_version>> list_versions(std::string token, std::uint64_t chat,
                                                                    std::uint64_t number) = 0;
    virtual task<void> delete_chat(const caller& c, std::uint64_t chat, std::string request_id) = 0;
    // Queues the erasure of a user (and revokes its tokens at once); returns when it was requested.
    virtual task<std::int64_t> erase_user(const caller& c, std::string user, std::string request_id) = 0;
    virtual task<user_erasure> erasure_status(const caller& c, std::string user) = 0;
    // The caller's (a user's) read marker moves forward to `number`; 422 when above the chat's last.
    virtual task<store::read_state> mark_read(const caller& c, std::uint64_t chat, std::uint64_t number,
                                              std::string request_id) = 0;
    // Every user's marker in the chat ("seen by").
    virtual task<std::map<std::string, std::uint64_t>> read_markers(std::string token,
                                                                    std::uint64_t chat) = 0;
    // A user's read state in each of `chats` (same order).
    virtual task<std::vector<store::read_state>> read_states(std::string token,
                                                             std::vector<std::uint64_t> chats,
                                                             std::string user) = 0;
    virtual task<store::app_row> set_retention(const caller& c, std::optional<int> days) = 0;

    virtual task<store::search_page> search(std::string token, std::uint64_t chat,
                                            std::vector<std::string> fragments, std::size_t from,
                                            std::size_t size, store::search_options options) = 0;

    // Every dependency answers: Redis, MariaDB, RabbitMQ, Elasticsearch.
    virtual task<void> ready() = 0;

    virtual const core::config& config() const = 0;
};

}  // namespace chat::api
