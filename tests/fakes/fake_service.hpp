#pragma once
// An in-memory api::service for tests and fuzz targets of the request path: no server behind it.
// Deterministic by token: "missing..." names no application, "down..." is a dependency outage,
// "limited..." is over its rate limit; any other token is an application with chats 1..3 of
// messages 1..3. Creations hand out increasing numbers. Thread-safe (called from the I/O threads).
#include <atomic>
#include <string>

#include "api/service.hpp"

namespace chat::fakes {

class fake_service final : public api::service {
  public:
    explicit fake_service(core::config cfg = {}) : cfg_(std::move(cfg)) {}

    template <class T>
    using task = api::task<T>;

    task<store::app_row> create_app(std::string name) override {
        co_return app("tok" + std::to_string(++next_), name);
    }
    task<store::app_row> rename_app(std::string token, std::string name) override {
        if (auto e = fail(token)) co_return *e;
        co_return app(token, name);
    }
    task<store::app_row> get_app(std::string token) override {
        if (auto e = fail(token)) co_return *e;
        co_return app(token, "name");
    }
    task<api::created_chat> create_chat(std::string token, std::optional<std::string> key,
                                        std::string) override {
        ++creations;
        if (auto e = fail(token)) co_return *e;
        co_return api::created_chat{++next_, 1, key.has_value()};
    }
    task<store::chat_row> get_chat(std::string token, std::uint64_t number) override {
        if (auto e = fail(token, number)) co_return *e;
        co_return store::chat_row{number, 3, 1, 2};
    }
    task<std::vector<store::chat_row>> list_chats(std::string token, std::uint64_t after,
                                                  int limit) override {
        if (auto e = fail(token)) co_return *e;
        std::vector<store::chat_row> out;
        for (std::uint64_t n = after + 1; n <= 3 && static_cast<int>(out.size()) < limit; ++n)
            out.push_back({n, 3, 1, 2});
        co_return out;
    }
    task<api::created_message> create_message(std::string token, std::uint64_t chat, std::string body,
                                              std::optional<std::string> key, std::string) override {
        ++creations;
        if (auto e = fail(token, chat)) co_return *e;
        co_return api::created_message{++next_, std::move(body), 1, key.has_value()};
    }
    task<store::message_row> get_message(std::string token, std::uint64_t chat,
                                         std::uint64_t number) override {
        if (auto e = fail(token, chat, number)) co_return *e;
        co_return store::message_row{chat, number, "hello", 1, 2};
    }
    task<std::vector<store::message_row>> list_messages(std::string token, std::uint64_t chat,
                                                        std::uint64_t after, int limit) override {
        if (auto e = fail(token, chat)) co_return *e;
        std::vector<store::message_row> out;
        for (std::uint64_t n = after + 1; n <= 3 && static_cast<int>(out.size()) < limit; ++n)
            out.push_back({chat, n, "hello", 1, 2});
        co_return out;
    }
    task<std::vector<store::message_row>> list_messages_before(std::string token, std::uint64_t chat,
                                                               std::uint64_t before, int limit) override {
        if (auto e = fail(token, chat)) co_return *e;
        std::vector<store::message_row> out;
        for (std::uint64_t n = std::min<std::uint64_t>(before, 4);
             n-- > 1 && static_cast<int>(out.size()) < limit;)
            out.insert(out.begin(), store::message_row{chat, n, "hello", 1, 2});
        co_return out;
    }
    task<std::uint64_t> last_number(std::string token, std::uint64_t chat) override {
        if (auto e = fail(token, chat)) co_return *e;
        co_return 3;
    }
    task<store::message_row> edit_message(std::string token, std::uint64_t chat, std::uint64_t number,
                                          std::string body, std::string) override {
        if (auto e = fail(token, chat, number)) co_return *e;
        co_return store::message_row{chat, number, std::move(body), 1, 3};
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
        0};  // create_chat and create_message calls: what a rejected input must not reach

  private:
    static store::app_row app(std::string token, std::string name) {
        return store::app_row{0, std::move(token), std::move(name), 3, 1, 2};
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
};

}  // namespace chat::fakes
