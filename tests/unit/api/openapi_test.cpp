#include "api/openapi.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "core/error.hpp"

namespace json = boost::json;

namespace {

std::string read_source(const std::string& relative) {
    std::ifstream in(std::string(CHAT_SOURCE_DIR) + "/" + relative, std::ios::binary);
    EXPECT_TRUE(in.good()) << relative;
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

json::object spec() {
    return json::parse(chat::api::openapi_json()).as_object();
}

// (method, OpenAPI path) of every route handlers.cpp registers: `add(verb::get, "/a/:x/b", ...)`
// becomes ("get", "/a/{x}/b"). Read from the source so that a new route cannot be added without
// this test seeing it, and without exposing the router from the handlers.
std::set<std::pair<std::string, std::string>> registered_routes() {
    std::string src = read_source("src/api/handlers.cpp");
    static const std::regex add_call(R"re(add\(verb::(\w+),\s*"([^"]+)")re");
    static const std::regex param(R"re(:(\w+))re");
    std::set<std::pair<std::string, std::string>> out;
    for (std::sregex_iterator it(src.begin(), src.end(), add_call), end; it != end; ++it) {
        std::string method = (*it)[1];
        if (!method.empty() && method.back() == '_') method.pop_back();  // verb::delete_
        out.emplace(method, std::regex_replace(std::string((*it)[2]), param, "{$1}"));
    }
    return out;
}

}  // namespace

TEST(openapi, embedded_document_is_the_source_file_and_parses) {
    EXPECT_EQ(chat::api::openapi_json(), read_source("src/api/openapi.json"))
        << "the build embeds a stale copy: re-run cmake";
    boost::system::error_code ec;
    auto v = json::parse(chat::api::openapi_json(), ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(v.is_object());
    EXPECT_EQ(v.as_object().at("openapi"), "3.1.0");
    EXPECT_TRUE(v.as_object().at("paths").is_object());
}

TEST(openapi, documents_every_registered_route_and_nothing_else) {
    auto routes = registered_routes();
    ASSERT_GE(routes.size(), 16u) << "handlers.cpp no longer registers routes with add(verb::..., \"...\")";
    EXPECT_TRUE(routes.count({"get", "/openapi.json"}));
    auto doc = spec();
    const auto& paths = doc.at("paths").as_object();
    for (const auto& [method, path] : routes) {
        const auto* item = paths.if_contains(path);
        ASSERT_NE(item, nullptr) << "path not in openapi.json: " << path;
        EXPECT_TRUE(item->as_object().contains(method))
            << "operation not in openapi.json: " << method << " " << path;
    }
    static const std::set<std::string> methods{"get",   "put",  "post",    "delete",
                                               "patch", "head", "options", "trace"};
    for (const auto& [path, item] : paths) {
        for (const auto& [key, op] : item.as_object()) {
            if (!methods.count(std::string(key))) continue;
            EXPECT_TRUE(routes.count({std::string(key), std::string(path)}))
                << "openapi.json documents a route the server does not have: " << key << " " << path;
        }
    }
}

TEST(openapi, error_code_enum_is_every_errc) {
    auto doc = spec();
    const auto& codes = doc.at("components")
                            .as_object()
                            .at("schemas")
                            .as_object()
                            .at("ErrorCode")
                            .as_object()
                            .at("enum")
                            .as_array();
    std::set<std::string> documented;
    for (const auto& c : codes) documented.insert(std::string(c.as_string()));
    std::set<std::string> actual;
    for (int e = static_cast<int>(chat::core::errc::bad_request);
         e <= static_cast<int>(chat::core::errc::internal); ++e)
        actual.insert(std::string(chat::core::code_name(static_cast<chat::core::errc>(e))));
    EXPECT_EQ(documented, actual);
}
