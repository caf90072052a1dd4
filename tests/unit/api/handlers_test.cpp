// The handlers over an in-memory service: routing, input rules before any creation, and the mapping
// of every error to its status and JSON body. Milliseconds, no server.
#include "api/handlers.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include "api/demo_page.hpp"
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
