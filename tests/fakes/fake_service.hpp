#pragma once
// An in-memory api::service for tests and fuzz targets of the request path: no server behind it.
// Deterministic by token: "missing..." names no application, "down..." is a dependency outage,
// "limited..." is over its rate limit, "restricted..." is a restricted application whose secret is
// fake_service::secret and whose user "member" is a member of every chat (anyone else of none); any
// other token is an open application. Every application has chats 1..3 of messages 1..3, message 2 sent
// by "member". Creations hand out increasing numbers. Access is decided by the real
// api::access_control over these facts. Thread-safe (called from the I/O threads).
#include <atomic>
#include <string>

#include "api/access_control.hpp"
#include "api/service.hpp"
#include "core/crypto.hpp"

namespace chat::fakes {

class fake_service final : public api::service, private api::access_stores {
  public:
    // The one secret of every fake application ("sk_" and 86 characters, as a real one).
    static inline const std::string secret = "sk_" + std::string(86, 'x');

    explicit fake_service(core::config cfg = {}) : cfg_(std::move(cfg)) {}

    template <class T>
    using task = api::task<T>;

    task<api::caller> authenticate(const std::string& token, const std::string& credential) override {
        co_return co_await access_.authenticate(token, credential);
    }
    boost::asio::awaitable<std::optional<core::error>> authorize(const api::caller& c, domain::action a,
                                                                 std::optional<std::uint64_t> chat,
                                                                 std::string_view not_found) override {
        co_return co_await access_.authorize(c, a, chat, not_found);
    }
    boost::asio::awaitable<bool> still_holds(const api::caller& c, std::uint64_t chat) override {
        co_return co_await access_.still_holds(c, chat);
    }

    task<api::created_app> create_app(std::string name) override {
        co_return api::created_app{app("tok" + std::to_string(++next_), name), secret, "sec_1"};
    }
    task<store::app_row> rename_app(std::string token, std::string name) override {
        if (auto e = fail(token)) co_return *e;
        co_return app(token, name);
    }
    task<store::app_row> get_app(std::string token) override {
        if (auto e = fail(token)) co_return *e;
        co_return app(token, "name");
    }
    task<store::app_row> set_access(const api::caller& c, domain::access_mode mode) override {
        auto row = app(c.token(), "name");
        row.access = mode;
        co_return row;
    }
    task<api::issued_secret> add_secret(const api::caller&) override {
        co_return api::issued_secret{"sec_2", secret, 1};
    }
    task<std::vector<store::secret_listing>> list_secrets(const api::caller&) override {
        co_return std::vector<store::secret_listing>{{"sec_1", 1, std::nullopt}};
    }
    task<void> delete_secret(const api::caller&, std::string id) override {
        if (id != "sec_1") co_return core::make_error(core::errc::not_found, "secret not found");
        co_return core::make_error(core::errc::conflict, "an application keeps at least one secret");
    }
    // Webhooks: one endpoint, "wh_1".
    static store::webhook_endpoint fake_webhook(std::string url = "https://hooks.example.com/in") {
        return {"wh_1", std::move(url), {"*"},        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                true,   std::nullopt,   std::nullopt, 1,
                1};
    }
    static core::error no_webhook() { return core::make_error(core::errc::not_found, "webhook not found"); }
    task<store::webhook_endpoint> create_webhook(const api::caller&, std::string url,
                                                 std::vector<std::string>) override {
        co_return fake_webhook(std::move(url));
    }
    task<std::vector<store::webhook_endpoint>> list_webhooks(const api::caller&) override {
        co_return std::vector<store::webhook_endpoint>{fake_webhook()};
    }
    task<store::webhook_endpoint> get_webhook(const api::caller&, std::string id) override {
        if (id != "wh_1") co_return no_webhook();
        co_return fake_webhook();
    }
    task<store::webhook_endpoint> update_webhook(const api::caller&, std::string id,
                                                 store::webhook_change) override {
        if (id != "wh_1") co_return no_webhook();
        co_return fake_webhook();
    }
    task<void> delete_webhook(const api::caller&, std::string id) override {
        if (id != "wh_1") co_return no_webhook();
        co_return core::result<void>{};
    }
    task<api::rotated_webhook_secret> rotate_webhook(const api::caller&, std::string id) override {
        if (id != "wh_1") co_return no_webhook();
        co_return api::rotated_webhook_secret{"whsec_bmV3", 2};
    }
    task<store::webhook_attempt_page> webhook_attempts(const api::caller&, std::string id,
                                                       std::optional<std::pair<std::uint64_t, int>>,
                                                       int) override {
        if (id != "wh_1") co_return no_webhook();
        co_return store::webhook_attempt_page{};
    }
    task<std::uint64_t> replay_webhook(const api::caller&, std::string id, std::int64_t) override {
        if (id != "wh_1") co_return no_webhook();
        co_return std::uint64_t{0};
    }
    task<api::minted_token> mint_token(const api::caller&, std::string user, int ttl_s,
                                       std::optional<std::vector<std::uint64_t>>) override {
        co_return api::minted_token{"minted-for-" + user, ttl_s * 1000LL};
    }
    task<std::int64_t> revoke_user(const api::caller&, std::string) override { co_return 1; }
    task<store::member_row> add_member(const api::caller&, std::uint64_t, std::string user) override {
        co_return store::member_row{std::move(user), 1};
    }
    task<void> remove_member(const api::caller&, std::uint64_t, std::string) override {
        co_return core::result<void>{};
    }
    task<std::vector<store::member_row>> list_members(const api::caller&, std::uint64_t, std::string,
                                                      int) override {
        co_return std::vector<store::member_row>{{"member", 1}};
    }

    task<api::created_chat> create_chat(std::string token, std::optional<std::string> key, std::string,
                                        std::optional<std::string> creator) override {
        ++creations;
        last_creator = creator.value_or("");
        if (auto e = fail(token)) co_return *e;
        co_return api::created_chat{++next_, 1, key.has_value()};
    }
    task<store::chat_row> get_chat(std::string token, std::uint64_t number) override {
        if (auto e = fail(token, number)) co_return *e;
        co_return store::chat_row{number, 3, 1, 2};
    }
    task<std::vector<store::chat_row>> list_chats(std::string token, std::uint64_t after, int limit,
                                                  api::chat_filter) override {
        if (auto e = fail(token)) co_return *e;
        std::vector<store::chat_row> out;
        for (std::uint64_t n = after + 1; n <= 3 && static_cast<int>(out.size()) < limit; ++n)
            out.push_back({n, 3, 1, 2});
        co_return out;
    }
    task<api::created_message> create_message(std::string token, std::uint64_t chat, std::string body,
                                              std::optional<std::string> key, std::string,
                                              std::optional<std::string> sender) override {
        ++creations;
        if (auto e = fail(token, chat)) co_return *e;
        co_return api::created_message{++next_, std::move(body), 1, key.has_value(), std::move(sender)};
    }
    task<store::message_row> get_message(std::string token, std::uint64_t chat,
                                         std::uint64_t number) override {
        if (auto e = fail(token, chat, number)) co_return *e;
        co_return row(chat, number, "hello");
    }
    task<std::vector<store::message_row>> list_messages(std::string token, std::uint64_t chat,
                                                        std::uint64_t after, int limit) override {
        if (auto e = fail(token, chat)) co_return *e;
        std::vector<store::message_row> out;
        for (std::uint64_t n = after + 1; n <= 3 && static_cast<int>(out.size()) < limit; ++n)
            out.push_back(row(chat, n, "hello"));
        co_return out;
    }
    task<std::vector<store::message_row>> list_messages_before(std::string token, std::uint64_t chat,
                                                               std::uint64_t before, int limit) override {
        if (auto e = fail(token, chat)) co_return *e;
        std::vector<store::message_row> out;
        for (std::uint64_t n = std::min<std::uint64_t>(before, 4);
             n-- > 1 && static_cast<int>(out.size()) < limit;)
            out.insert(out.begin(), row(chat, n, "hello"));
        co_return out;
    }
    task<std::uint64_t> last_number(std::string token, std::uint64_t chat) override {
        if (auto e = fail(token, chat)) co_return *e;
        co_return 3;
    }
    task<store::message_row> edit_message(std::string token, std::uint64_t chat, std::uint64_t number,
                                          std::string body, std::string, domain::principal editor) override {
        if (auto e = fail(token, chat, number)) co_return *e;
        auto r = row(chat, number, std::move(body));
        if (domain::may_change_message(editor, r.sender) != domain::verdict::allow)
            co_return core::make_error(core::errc::forbidden, "only its sender may change a message");
        r.updated_at_ms = 3;
        co_return r;
    }
    // Lifecycle: message 2 is "member"'s, every chat's marker is at 1 of 3.
    task<void> delete_message(const api::caller& c, std::uint64_t chat, std::uint64_t number,
                              std::string) override {
        if (auto e = fail(c.token(), chat, number)) co_return *e;
        if (domain::may_change_message(c.who, row(chat, number, "").sender) != domain::verdict::allow)
            co_return core::make_error(core::errc::forbidden, "only its sender may delete a message");
        co_return core::result<void>{};
    }
    task<std::vector<store::message_version>> list_versions(std::string token, std::uint64_t chat,
                                                            std::uint64_t number) override {
        if (auto e = fail(token, chat, number)) co_return *e;
        co_return std::vector<store::message_version>{{1, "hullo", 1}, {2, "hello", 2}};
    }
    task<void> delete_chat(const api::caller& c, std::uint64_t chat, std::string) override {
        if (auto e = fail(c.token(), chat)) co_return *e;
        co_return core::result<void>{};
    }
    task<std::int64_t> erase_user(const api::caller& c, std::string, std::string) override {
        if (auto e = fail(c.token())) co_return *e;
        co_return std::int64_t{5};
    }
    task<api::user_erasure> erasure_status(const api::caller& c, std::string) override {
        if (auto e = fail(c.token())) co_return *e;
        co_return api::user_erasure{api::user_erasure::state::done, 5, 6, 2};
    }
    task<store::read_state> mark_read(const api::caller& c, std::uint64_t chat, std::uint64_t number,
                                      std::string) override {
        if (auto e = fail(c.token(), chat)) co_return *e;
        if (!c.who.is_user()) co_return core::make_error(core::errc::forbidden, "a read marker is a user's");
        if (number > 3)
            co_return core::make_error(core::errc::invalid_field, "number is above the chat's last");
        co_return store::read_state{std::max<std::uint64_t>(number, 1), 3, 0};
    }
    task<std::map<std::string, std::uint64_t>> read_markers(std::string token, std::uint64_t chat) override {
        if (auto e = fail(token, chat)) co_return *e;
        co_return std::map<std::string, std::uint64_t>{{"member", 1}};
    }
    task<std::vector<store::read_state>> read_states(std::string token, std::vector<std::uint64_t> chats,
                                                     std::string) override {
        if (auto e = fail(token)) co_return *e;
        co_return std::vector<store::read_state>(chats.size(), store::read_state{1, 3, 0});
    }
    task<store::app_row> set_retention(const api::caller& c, std::optional<int> days) override {
        auto a = app(c.token(), "x");
        a.retention_days = days;
        co_return a;
    }
    task<store::search_page> search(std::string token, std::uint64_t chat, std::vector<std::string> fragments,
                                    std::size_t, std::size_t size, store::search_options) override {
        if (auto e = fail(token, chat)) co_return *e;
        store::search_page page;
        for (std::size_t i = 0; i < fragments.size() && i < size; ++i)
            page.hits.push_back({i + 1, fragments[i], 1, 2, "<em>" + fragments[i] + "</em>"});
        page.total = page.hits.size();
        co_return page;
    }
    task<void> ready() override { co_return core::result<void>{}; }
    const core::config& config() const override { return cfg_; }

    std::atomic<int> creations{
        0};                    // create_chat and create_message calls: what a rejected input must not reach
    std::string last_creator;  // of the last create_chat (tests run one request at a time)

  private:
    // access_stores: the facts of the file comment.
    task<std::optional<domain::app_access>> load_app(const std::string& token) override {
        if (auto e = fail(token)) co_return *e;
        domain::app_access a;
        a.app_id = 1;
        a.token = token;
        a.mode =
            token.rfind("restricted", 0) == 0 ? domain::access_mode::restricted : domain::access_mode::open;
        a.secrets.push_back({"sec_1", core::sha256(secret), 1});
        co_return std::optional<domain::app_access>(std::move(a));
    }
    task<std::int64_t> load_revocation(std::uint64_t, const std::string&) override {
        co_return std::int64_t{0};
    }
    task<api::membership> load_membership(const domain::app_access&, std::uint64_t chat,
                                          const std::string& user) override {
        co_return api::membership{user == "member" && chat <= 3, chat <= 3};
    }
    void secret_used(std::uint64_t, const std::string&) override {}

    static store::app_row app(std::string token, std::string name) {
        store::app_row a{0, std::move(token), std::move(name), 3, 1, 2};
        if (a.token.rfind("restricted", 0) == 0) a.access = domain::access_mode::restricted;
        return a;
    }
    static store::message_row row(std::uint64_t chat, std::uint64_t number, std::string body) {
        store::message_row r{chat, number, std::move(body), 1, 2};
        if (number == 2) r.sender = "member";
        return r;
    }
    // The error a token (and numbers above 3) stand for, if any.
    static std::optional<core::error> fail(const std::string& token, std::uint64_t chat = 1,
                                           std::uint64_t number = 1) {
        if (token.rfind("missing", 0) == 0)
            return core::make_error(core::errc::not_found, "application not found");
        if (token.rfind("down", 0) == 0)
            return core::make_error(core::errc::unavailable, "storage is unavailable, retry");
        if (token.rfind("limited", 0) == 0) {
            auto e = core::make_error(core::errc::rate_limited, "over the rate limit");
            e.retry_after_s = 1;
            return e;
        }
        if (chat > 3) return core::make_error(core::errc::not_found, "chat not found");
        if (number > 3) return core::make_error(core::errc::not_found, "message not found");
        return std::nullopt;
    }

    core::config cfg_;
    std::atomic<std::uint64_t> next_{0};
    api::access_control access_{static_cast<api::access_stores&>(*this)};
};

}  // namespace chat::fakes
