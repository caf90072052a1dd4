#pragma once
// Matches a method and a path against route patterns such as "/api/v1/apps/:token/chats/:chat".
// Patterns are tried in declaration order, so literal routes (".../messages/search") must be added
// before the parameterised ones they overlap (".../messages/:message").
#include <boost/beast/http/verb.hpp>
#include <functional>
#include <map>
#include <optional>
#include <ostream>  // verb.hpp streams without including it
#include <string>
#include <string_view>
#include <vector>

namespace chat::api {

using params = std::map<std::string, std::string, std::less<>>;

template <class Handler>
class router {
  public:
    void add(boost::beast::http::verb method, std::string_view pattern, Handler h) {
        routes_.push_back(route{method, std::string(pattern), split(pattern), std::move(h)});
    }

    struct match {
        const Handler* handler = nullptr;  // null: no route for this method
        std::string_view pattern;          // the matched route's pattern (a low-cardinality metrics label)
        params captured;
        bool path_known = false;  // some route has this path (so the answer is 405, not 404)
        std::string allow;        // methods allowed on this path, for the Allow header
    };

    match find(boost::beast::http::verb method, std::string_view path) const {
        match m;
        auto segs = split(path);
        for (const auto& r : routes_) {
            params p;
            if (!matches(r.segments, segs, p)) continue;
            // HEAD is served wherever GET is (RFC 9110 §9.3.2); the server drops the body.
            bool serves = r.method == method || (method == boost::beast::http::verb::head &&
                                                 r.method == boost::beast::http::verb::get);
            if (serves && m.handler == nullptr) {
                m.handler = &r.handler;
                m.pattern = r.pattern;
                m.captured = std::move(p);
            }
            allow(m.allow, to_string(r.method));
            if (r.method == boost::beast::http::verb::get) allow(m.allow, "HEAD");
            m.path_known = true;
        }
        return m;
    }

    static std::vector<std::string> split(std::string_view path) {
        std::vector<std::string> out;
        std::size_t i = 0;
        while (i < path.size()) {
            while (i < path.size() && path[i] == '/') ++i;
            std::size_t j = i;
            while (j < path.size() && path[j] != '/') ++j;
            if (j > i) out.emplace_back(path.substr(i, j - i));
            i = j;
        }
        return out;
    }

  private:
    static void allow(std::string& list, std::string_view method) {
        for (std::size_t i = 0; i < list.size();) {
            auto j = list.find(", ", i);
            if (j == std::string::npos) j = list.size();
            if (std::string_view(list).substr(i, j - i) == method) return;
            i = j + 2;
        }
        if (!list.empty()) list += ", ";
        list += method;
    }

    struct route {
        boost::beast::http::verb method;
        std::string pattern;
        std::vector<std::string> segments;
        Handler handler;
    };

    static bool matches(const std::vector<std::string>& pattern, const std::vector<std::string>& segs,
                        params& p) {
        if (pattern.size() != segs.size()) return false;
        for (std::size_t i = 0; i < pattern.size(); ++i) {
            if (!pattern[i].empty() && pattern[i][0] == ':')
                p[pattern[i].substr(1)] = segs[i];
            else if (pattern[i] != segs[i])
                return false;
        }
        return true;
    }

    std::vector<route> routes_;
};

}  // namespace chat::api
