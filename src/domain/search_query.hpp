#pragma once
// Turns what a user typed into search fragments. User text never reaches Elasticsearch as query
// syntax: it is split into folded fragments, each a literal term or prefix (or, on an index made before
// mapping version 2, a literal wildcard pattern (*fragment*) whose special characters are escaped).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace chat::domain {

inline constexpr std::size_t max_query_bytes = 200;
inline constexpr std::size_t max_query_fragments = 8;
// Elasticsearch's index.max_result_window: from + size of a search may not pass it.
inline constexpr std::uint64_t max_search_window = 10000;

// The words of the query (domain/search_terms.hpp: split_words), folded and clipped to max_term_chars
// exactly as the indexer folds and clips the words of a message, without repeats.
core::result<std::vector<std::string>> parse_search_query(std::string_view q);
// "*" + fragment with \ * ? escaped + "*": a Lucene wildcard pattern matching the fragment literally.
std::string wildcard_pattern(std::string_view fragment);

// The page of `limit` hits that starts at offset `from` (a search cursor), when it ends within the
// first `max_window` hits: `from` itself; invalid_field otherwise. Nothing overflows, whatever the
// input (a cursor near 2^64 is refused, not wrapped around).
core::result<std::uint64_t> search_window(std::uint64_t from, std::uint64_t limit,
                                          std::uint64_t max_window = max_search_window);
// The offset of page `page` (1-based) of `limit` hits under the same rule: (page - 1) * limit, when
// that page ends within the first `max_window` hits; invalid_field otherwise (also for page 0 or
// limit 0). The bound is checked before anything is multiplied.
core::result<std::uint64_t> page_window(std::uint64_t page, std::uint64_t limit,
                                        std::uint64_t max_window = max_search_window);

// A time bound of a search (`since`, `until`), named `name` in errors: epoch milliseconds (1..15
// digits), or an RFC 3339 date-time such as 2026-11-28T03:22:28.123Z or 2026-11-28T05:22:28+02:00
// (fractional seconds are cut to milliseconds; years 1970..9999). invalid_field otherwise.
core::result<std::int64_t> parse_timestamp(std::string_view s, std::string_view name);

}  // namespace chat::domain
