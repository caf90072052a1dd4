#include "domain/search_query.hpp"

#include <algorithm>

#include "domain/search_terms.hpp"
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
    for (auto& w : split_words(q)) {
        auto f = clip_code_points(w.folded, max_term_chars);
        if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(std::move(f));
    }
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

core::result<std::uint64_t> search_window(std::uint64_t from, std::uint64_t limit, std::uint64_t max_window) {
    // from + limit <= max_window, written so that neither side can wrap around.
    if (limit > max_window || from > max_window - limit)
        return make_error(errc::invalid_field, "results past the first " + std::to_string(max_window) +
                                                   " hits cannot be paged; narrow the search");
    return from;
}

core::result<std::uint64_t> page_window(std::uint64_t page, std::uint64_t limit, std::uint64_t max_window) {
    // (page - 1) * limit + limit <= max_window, i.e. page - 1 <= (max_window - limit) / limit.
    if (page == 0 || limit == 0 || limit > max_window || page - 1 > (max_window - limit) / limit)
        return make_error(errc::invalid_field,
                          "pages past the first " + std::to_string(max_window) + " hits are not available");
    return (page - 1) * limit;
}

}  // namespace chat::domain
