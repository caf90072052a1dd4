// The search query parser and the page-window rules: any text a user types becomes fragments that
// are non-empty and bounded, and wildcard patterns that keep no unescaped special character.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "domain/search_query.hpp"
#include "domain/search_terms.hpp"

namespace d = chat::domain;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto fragments = d::parse_search_query(in);
    // Whatever the text (even invalid UTF-8), splitting, the index terms and a highlight are defined;
    // every word's span lies in the text and the terms are within their bounds.
    for (const auto& w : d::split_words(in))
        if (w.begin >= w.end || w.end > in.size() || w.folded.empty()) std::abort();
    auto terms = d::compute_index_terms(in);
    for (const auto& g : terms.grams)
        if (g.empty() || g.size() > 4 * d::max_gram_chars) std::abort();
    for (const auto& s : terms.suffixes)
        if (s.empty() || s.size() > 4 * d::max_term_chars) std::abort();
    (void)d::highlight(in, fragments ? *fragments : std::vector<std::string>{"a"});
    if (fragments) {
        if (fragments->empty() || fragments->size() > d::max_query_fragments) std::abort();
        for (const auto& f : *fragments) {
            if (f.empty()) std::abort();
            auto p = d::wildcard_pattern(f);
            if (p.size() < f.size() + 2 || p.front() != '*' || p.back() != '*') std::abort();
            // Inside the pattern every * ? \ is escaped.
            for (std::size_t i = 1; i + 1 < p.size(); ++i) {
                if (p[i] == '\\') {
                    ++i;
                    continue;
                }
                if (p[i] == '*' || p[i] == '?') std::abort();
            }
        }
    }
    if (size >= 16) {
        std::uint64_t a = 0, b = 0;
        std::memcpy(&a, data, 8);
        std::memcpy(&b, data + 8, 8);
        if (auto w = d::search_window(a, b); w && (*w != a || a > d::max_search_window ||
                                                   b > d::max_search_window || a + b > d::max_search_window))
            std::abort();
        if (auto w = d::page_window(a, b); w && (a == 0 || b == 0 || a > d::max_search_window ||
                                                 b > d::max_search_window || a * b > d::max_search_window))
            std::abort();
    }
    return 0;
}
