#include "domain/search_query.hpp"

#include <algorithm>
#include <optional>

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

namespace {
// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = y / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool leap(unsigned y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

// n decimal digits at s[at..], or nothing.
std::optional<unsigned> digits(std::string_view s, std::size_t at, std::size_t n) {
    if (at + n > s.size()) return std::nullopt;
    unsigned v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return std::nullopt;
        v = v * 10 + static_cast<unsigned>(s[i] - '0');
    }
    return v;
}
}  // namespace

core::result<std::int64_t> parse_timestamp(std::string_view s, std::string_view name) {
    auto bad = [&] {
        return make_error(errc::invalid_field,
                          std::string(name) + " must be epoch milliseconds or an RFC 3339 date-time");
    };
    if (!s.empty() && s.size() <= 15 &&
        std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        std::int64_t v = 0;
        for (char c : s) v = v * 10 + (c - '0');
        return v;
    }
    // YYYY-MM-DDTHH:MM:SS[.f+](Z|+HH:MM|-HH:MM)
    auto y = digits(s, 0, 4), mo = digits(s, 5, 2), d = digits(s, 8, 2), h = digits(s, 11, 2),
         mi = digits(s, 14, 2), sec = digits(s, 17, 2);
    if (!y || !mo || !d || !h || !mi || !sec || s[4] != '-' || s[7] != '-' ||
        (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
        return bad();
    static constexpr unsigned month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (*y < 1970 || *mo < 1 || *mo > 12 || *d < 1 || *h > 23 || *mi > 59 || *sec > 59) return bad();
    if (*d > month_days[*mo - 1] + ((*mo == 2 && leap(*y)) ? 1 : 0)) return bad();
    std::size_t at = 19;
    std::int64_t ms = 0;
    if (at < s.size() && s[at] == '.') {
        std::size_t first = ++at, scale = 100;
        while (at < s.size() && s[at] >= '0' && s[at] <= '9') {
            if (scale > 0) ms += (s[at] - '0') * static_cast<std::int64_t>(scale);
            scale /= 10;
            ++at;
        }
        if (at == first || at - first > 9) return bad();
    }
    std::int64_t offset_min = 0;
    if (at < s.size() && (s[at] == 'Z' || s[at] == 'z')) {
        ++at;
    } else if (at < s.size() && (s[at] == '+' || s[at] == '-')) {
        auto oh = digits(s, at + 1, 2), om = digits(s, at + 4, 2);
        if (!oh || !om || at + 3 >= s.size() || s[at + 3] != ':' || *oh > 23 || *om > 59) return bad();
        offset_min = (s[at] == '-' ? -1 : 1) * static_cast<std::int64_t>(*oh * 60 + *om);
        at += 6;
    } else {
        return bad();
    }
    if (at != s.size()) return bad();
    std::int64_t secs = days_from_civil(*y, *mo, *d) * 86400 + *h * 3600 + *mi * 60 + *sec - offset_min * 60;
    return secs * 1000 + ms;
}

}  // namespace chat::domain
