#include "domain/search_query.hpp"

#include "domain/validation.hpp"

namespace chat::domain {

using core::errc;
using core::make_error;

core::result<std::vector<std::string>> parse_search_query(std::string_view q) {
    if (!is_valid_utf8(q)) return make_error(errc::invalid_field, "query must be valid UTF-8");
    if (q.size() > max_query_bytes)
        return make_error(errc::invalid_field,
                          "query must be at most " + std::to_string(max_query_bytes) + " bytes");
    std::vector<std::string> out;
    std::string cur;
    auto flush = [&] {
        if (!cur.empty()) out.push_back(std::move(cur));
        cur.clear();
    };
    for (char ch : q) {
        auto c = static_cast<unsigned char>(ch);
        bool word = c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!word) {
            flush();
            continue;
        }
        cur.push_back((c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : ch);
    }
    flush();
    if (out.empty())
        return make_error(errc::invalid_field, "query must contain at least one letter or digit");
    if (out.size() > max_query_fragments)
        return make_error(errc::invalid_field,
                          "query must have at most " + std::to_string(max_query_fragments) + " words");
    return out;
}

std::string wildcard_pattern(std::string_view fragment) {
    std::string p = "*";
    for (char c : fragment) {
        if (c == '\\' || c == '*' || c == '?') p.push_back('\\');
        p.push_back(c);
    }
    p.push_back('*');
    return p;
}

}  // namespace chat::domain
