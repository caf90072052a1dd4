// The handlers over an in-memory service: routing, input rules before any creation, and the mapping
// of every error to its status and JSON body. Milliseconds, no server.
#include "api/handlers.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "api/demo_page.hpp"
#include "core/crypto.hpp"
#include "core/time.hpp"
#include "fake_service.hpp"

using namespace chat;
namespace http = boost::beast::http;

namespace {

struct harness {
    fakes::fake_service svc;
    api::handlers h{svc};

    api::response call(http::verb method, std::string target, std::string body = {},
                       std::vector<std::pair<std::string, std::string>> headers = {}) {
        api::request req{method, target, 11};
        req.set(http::field::host, "h");
        for (auto& [k, v] : headers) req.set(k, v);
        if (!body.empty()) {
            req.set(http::field::content_type, "application/json");
            req.body() = std::move(body);
            req.prepare_payload();
        }
        boost::asio::io_context ioc;
        auto f = boost::asio::co_spawn(ioc, h.handle(req), boost::asio::use_future);
        ioc.run();
        return f.get();
    }
};

std::string error_code_of(const api::response& res) {
    auto v = boost::json::parse(res.body());
    return std::string(v.at("error").at("code").as_string());
}

}  // namespace

TEST(handlers, creates_an_application) {
    harness t;
    auto res = t.call(http::verb::post, "/api/v1/apps", R"({"name":"instaBug"})");
    EXPECT_EQ(res.result_int(), 201);
    auto v = boost::json::parse(res.body());
    EXPECT_EQ(v.at("name").as_string(), "instaBug");
    EXPECT_FALSE(res["X-Request-Id"].empty());
}

TEST(handlers, head_is_answered_by_the_get_handler) {
    harness t;
    auto get = t.call(http::verb::get, "/api/v1/apps/tok1/chats/2");
    auto head = t.call(http::verb::head, "/api/v1/apps/tok1/chats/2");
    EXPECT_EQ(get.result_int(), 200);
    EXPECT_EQ(head.result_int(), 200);
    EXPECT_EQ(head[http::field::content_length], get[http::field::content_length]);
}

TEST(handlers, bad_input_never_reaches_a_creation) {
    harness t;
    struct {
        const char* target;
        const char* body;
        unsigned status;
    } cases[] = {
        {"/api/v1/apps/tok1/chats/1/messages", R"({"body":"\u3000"})", 422},
        {"/api/v1/apps/tok1/chats/1/messages", R"({"body":"a\u0085b"})", 422},
        {"/api/v1/apps/tok1/chats/1/messages", R"({"body":12})", 422},
        {"/api/v1/apps/tok1/chats/1/messages", R"({"body":"x")", 400},
        {"/api/v1/apps/tok1/chats/0/messages", R"({"body":"x"})", 400},
        {"/api/v1/apps/tok1/chats/01/messages", R"({"body":"x"})", 400},
        {"/api/v1/apps/to%20k/chats/1/messages", R"({"body":"x"})", 404},
    };
    for (const auto& c : cases) {
        auto res = t.call(http::verb::post, c.target, c.body);
        EXPECT_EQ(res.result_int(), c.status) << c.target << " " << c.body << " " << res.body();
    }
    auto key = t.call(http::verb::post, "/api/v1/apps/tok1/chats", "", {{"Idempotency-Key", "bad key"}});
    EXPECT_EQ(key.result_int(), 400) << key.body();
    EXPECT_EQ(t.svc.creations.load(), 0);
    auto ok = t.call(http::verb::post, "/api/v1/apps/tok1/chats/1/messages", R"({"body":"hi"})");
    EXPECT_EQ(ok.result_int(), 201) << ok.body();
    EXPECT_EQ(t.svc.creations.load(), 1);
}

TEST(handlers, errors_map_to_status_and_json) {
    harness t;
    auto missing = t.call(http::verb::get, "/api/v1/apps/missing1");
    EXPECT_EQ(missing.result_int(), 404);
    EXPECT_EQ(error_code_of(missing), "not_found");
    auto down = t.call(http::verb::get, "/api/v1/apps/down1/chats/1");
    EXPECT_EQ(down.result_int(), 503);
    EXPECT_EQ(down[http::field::retry_after], "1");
    auto limited = t.call(http::verb::get, "/api/v1/apps/limited1");
    EXPECT_EQ(limited.result_int(), 429);
    EXPECT_FALSE(limited[http::field::retry_after].empty());
    auto no_route = t.call(http::verb::get, "/nope");
    EXPECT_EQ(no_route.result_int(), 404);
    EXPECT_EQ(error_code_of(no_route), "route_not_found");
    auto method = t.call(http::verb::delete_, "/api/v1/apps/tok1");
    EXPECT_EQ(method.result_int(), 405);
    EXPECT_EQ(method[http::field::allow], "PUT, GET, HEAD");
}

TEST(handlers, search_window_is_a_client_error) {
    harness t;
    auto res = t.call(http::verb::get,
                      "/api/v1/apps/tok1/chats/1/messages/search?q=hel&cursor=18446744073709551610");
    EXPECT_EQ(res.result_int(), 422) << res.body();
    EXPECT_EQ(error_code_of(res), "invalid_field");
    auto ok = t.call(http::verb::get, "/api/v1/apps/tok1/chats/1/messages/search?q=hel+lo");
    EXPECT_EQ(ok.result_int(), 200) << ok.body();
}

TEST(handlers, serves_the_demo_client) {
    harness t;
    struct {
        const char* target;
        const char* content_type;
        std::string_view body;
    } files[] = {
        {"/demo", "text/html; charset=utf-8", api::demo_html()},
        {"/demo/app.js", "text/javascript; charset=utf-8", api::demo_js()},
        {"/demo/style.css", "text/css; charset=utf-8", api::demo_css()},
    };
    for (const auto& f : files) {
        auto res = t.call(http::verb::get, f.target);
        EXPECT_EQ(res.result_int(), 200) << f.target;
        EXPECT_EQ(res[http::field::content_type], f.content_type) << f.target;
        EXPECT_EQ(res.body(), f.body) << f.target;
        EXPECT_GT(res.body().size(), 200u) << f.target << ": the embedded file is empty";
        // Nothing from elsewhere: no absolute URL in the page, its script or its styles.
        EXPECT_EQ(res.body().find("://"), std::string::npos) << f.target;
        auto csp = std::string(res["Content-Security-Policy"]);
        EXPECT_NE(csp.find("script-src 'self'"), std::string::npos) << csp;
        EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
        EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
        EXPECT_EQ(res["X-Content-Type-Options"], "nosniff");
    }
    auto page = std::string(api::demo_html());
    EXPECT_NE(page.find(R"(<script src="/demo/app.js")"), std::string::npos);
    EXPECT_NE(page.find(R"(href="/demo/style.css")"), std::string::npos);
    // No inline script: the policy above would block it.
    EXPECT_EQ(page.find("<script>"), std::string::npos);
    auto head = t.call(http::verb::head, "/demo");
    EXPECT_EQ(head.result_int(), 200);
    EXPECT_EQ(head[http::field::content_length], std::to_string(api::demo_html().size()));
    auto post = t.call(http::verb::post, "/demo", R"({})");
    EXPECT_EQ(post.result_int(), 405);
    EXPECT_EQ(post[http::field::allow], "GET, HEAD");
}

namespace {
std::string token_for(const std::string& sub, std::optional<std::string> chats_json = std::nullopt) {
    std::string claims = R"({"sub":")" + sub + R"(","exp":)" + std::to_string(core::now_ms() / 1000 + 600) +
                         R"(,"iat":)" + std::to_string(core::now_ms() / 1000 - 1);
    if (chats_json) claims += R"(,"chats":)" + *chats_json;
    claims += "}";
    return *core::sign_hs256(claims, core::sha256(fakes::fake_service::secret), "sec_1");
}
std::pair<std::string, std::string> bearer(const std::string& credential) {
    return {"Authorization", "Bearer " + credential};
}
}  // namespace

TEST(handlers, a_restricted_application_asks_for_a_credential_on_every_route) {
    harness t;
    for (auto [method, target] :
         {std::pair{http::verb::get, "/api/v1/apps/restricted1"},
          std::pair{http::verb::get, "/api/v1/apps/restricted1/chats"},
          std::pair{http::verb::post, "/api/v1/apps/restricted1/chats"},
          std::pair{http::verb::get, "/api/v1/apps/restricted1/chats/1/messages/1"},
          std::pair{http::verb::get, "/api/v1/apps/restricted1/chats/1/messages/search?q=a"}}) {
        auto res = t.call(method, target);
        EXPECT_EQ(res.result_int(), 401) << target;
        EXPECT_EQ(error_code_of(res), "unauthorized");
        EXPECT_EQ(res[http::field::www_authenticate], "Bearer realm=\"chat\"");
    }
    EXPECT_EQ(t.svc.creations.load(), 0);
    auto secret = t.call(http::verb::get, "/api/v1/apps/restricted1/chats/1", {},
                         {bearer(fakes::fake_service::secret)});
    EXPECT_EQ(secret.result_int(), 200) << secret.body();
    for (const char* bad : {"Basic x", "Bearer", "Bearer a b"}) {
        auto res = t.call(http::verb::get, "/api/v1/apps/tok1", {}, {{"Authorization", bad}});
        EXPECT_EQ(res.result_int(), 401) << bad;  // a malformed credential is refused even when open
    }
}

TEST(handlers, a_chat_a_user_may_not_reach_answers_exactly_as_a_chat_that_does_not_exist) {
    harness t;
    auto stranger =
        t.call(http::verb::get, "/api/v1/apps/restricted1/chats/2", {}, {bearer(token_for("bob"))});
    auto absent =
        t.call(http::verb::get, "/api/v1/apps/restricted1/chats/9", {}, {bearer(token_for("member"))});
    EXPECT_EQ(stranger.result_int(), 404);
    EXPECT_EQ(stranger.body(), absent.body());
    auto post = t.call(http::verb::post, "/api/v1/apps/restricted1/chats/2/messages", R"({"body":"x"})",
                       {bearer(token_for("bob"))});
    EXPECT_EQ(post.result_int(), 404);
    EXPECT_EQ(post.body(), absent.body());
    EXPECT_EQ(t.svc.creations.load(), 0);
    auto member =
        t.call(http::verb::get, "/api/v1/apps/restricted1/chats/2", {}, {bearer(token_for("member"))});
    EXPECT_EQ(member.result_int(), 200);
    auto outside_claim =
        t.call(http::verb::get, "/api/v1/apps/restricted1/chats/2", {}, {bearer(token_for("member", "[3]"))});
    EXPECT_EQ(outside_claim.body(), absent.body());
}

TEST(handlers, the_sender_comes_from_the_credential_never_from_a_user_body) {
    harness t;
    auto by_user = t.call(http::verb::post, "/api/v1/apps/restricted1/chats/1/messages",
                          R"({"body":"hi","sender":"mallory"})", {bearer(token_for("member"))});
    ASSERT_EQ(by_user.result_int(), 201) << by_user.body();
    EXPECT_EQ(boost::json::parse(by_user.body()).at("sender"), "member");
    auto by_secret = t.call(http::verb::post, "/api/v1/apps/restricted1/chats/1/messages",
                            R"({"body":"hi","sender":"bot"})", {bearer(fakes::fake_service::secret)});
    EXPECT_EQ(boost::json::parse(by_secret.body()).at("sender"), "bot");
    auto bad = t.call(http::verb::post, "/api/v1/apps/restricted1/chats/1/messages",
                      R"({"body":"hi","sender":""})", {bearer(fakes::fake_service::secret)});
    EXPECT_EQ(bad.result_int(), 422);
    auto open =
        t.call(http::verb::post, "/api/v1/apps/tok1/chats/1/messages", R"({"body":"hi","sender":"bot"})");
    EXPECT_TRUE(boost::json::parse(open.body()).at("sender").is_null());
    auto chat = t.call(http::verb::post, "/api/v1/apps/restricted1/chats", {}, {bearer(token_for("member"))});
    EXPECT_EQ(chat.result_int(), 201);
    EXPECT_EQ(t.svc.last_creator, "member");
}

TEST(handlers, managing_the_application_is_the_secrets_and_users_edit_their_own_messages) {
    harness t;
    auto user = bearer(token_for("member"));
    for (auto [method, target] :
         {std::pair{http::verb::post, "/api/v1/apps/restricted1/secrets"},
          std::pair{http::verb::get, "/api/v1/apps/restricted1/secrets"},
          std::pair{http::verb::post, "/api/v1/apps/restricted1/users/ann/tokens"},
          std::pair{http::verb::put, "/api/v1/apps/restricted1/chats/1/members/ann"}}) {
        auto res = t.call(method, target, {}, {user});
        EXPECT_EQ(res.result_int(), 403) << target << res.body();
        EXPECT_EQ(error_code_of(res), "forbidden");
    }
    auto open_secrets = t.call(http::verb::get, "/api/v1/apps/tok1/secrets");
    EXPECT_EQ(open_secrets.result_int(), 401);  // even in an open application
    auto change = t.call(http::verb::put, "/api/v1/apps/tok1", R"({"access":"restricted"})");
    EXPECT_EQ(change.result_int(), 401);
    auto changed = t.call(http::verb::put, "/api/v1/apps/tok1", R"({"access":"restricted"})",
                          {bearer(fakes::fake_service::secret)});
    EXPECT_EQ(changed.result_int(), 200) << changed.body();
    EXPECT_EQ(boost::json::parse(changed.body()).at("access"), "restricted");
    auto minted = t.call(http::verb::post, "/api/v1/apps/tok1/users/a%2Fb/tokens", R"({"ttl":60})",
                         {bearer(fakes::fake_service::secret)});
    EXPECT_EQ(minted.result_int(), 201) << minted.body();
    EXPECT_EQ(boost::json::parse(minted.body()).at("user"), "a/b");
    auto too_long = t.call(http::verb::post, "/api/v1/apps/tok1/users/ann/tokens", R"({"ttl":86401})",
                           {bearer(fakes::fake_service::secret)});
    EXPECT_EQ(too_long.result_int(), 422);
    auto own =
        t.call(http::verb::put, "/api/v1/apps/restricted1/chats/1/messages/2", R"({"body":"mine"})", {user});
    EXPECT_EQ(own.result_int(), 200) << own.body();
    auto other =
        t.call(http::verb::put, "/api/v1/apps/restricted1/chats/1/messages/1", R"({"body":"yours"})", {user});
    EXPECT_EQ(other.result_int(), 403) << other.body();
}

TEST(handlers, an_operator_token_guards_application_creation) {
    core::config cfg;
    cfg.admin_token = "operator-token";
    fakes::fake_service svc(cfg);
    api::handlers h{svc};
    auto call = [&](std::vector<std::pair<std::string, std::string>> headers) {
        api::request req{http::verb::post, "/api/v1/apps", 11};
        req.set(http::field::host, "h");
        for (auto& [k, v] : headers) req.set(k, v);
        req.set(http::field::content_type, "application/json");
        req.body() = R"({"name":"x"})";
        req.prepare_payload();
        boost::asio::io_context ioc;
        auto f = boost::asio::co_spawn(ioc, h.handle(req), boost::asio::use_future);
        ioc.run();
        return f.get();
    };
    EXPECT_EQ(call({}).result_int(), 401);
    EXPECT_EQ(call({{"Authorization", "Bearer wrong"}}).result_int(), 401);
    auto ok = call({{"Authorization", "Bearer operator-token"}});
    EXPECT_EQ(ok.result_int(), 201);
    auto app = boost::json::parse(ok.body());
    EXPECT_EQ(app.at("access"), "open");
    EXPECT_EQ(app.at("secret").as_string().size(), core::secret_length);
}
