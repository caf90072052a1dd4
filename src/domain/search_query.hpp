#pragma once
// Turns what a user typed into search fragments. User text never reaches Elasticsearch as query
// syntax: it is split into fragments and each becomes a literal wildcard pattern (*fragment*) whose
// special characters are escaped.
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace chat::domain {

inline constexpr std::size_t max_query_bytes = 200;
inline constexpr std::size_t max_query_fragments = 8;

// Splits on everything that is not a letter or digit (ASCII punctuation and whitespace; any non-ASCII
// byte counts as a letter), the way the standard analyzer splits the indexed text, and lowercases ASCII.
core::result<std::vector<std::string>> parse_search_query(std::string_view q);
// "*" + fragment with \ * ? escaped + "*": a Lucene wildcard pattern matching the fragment literally.
std::string wildcard_pattern(std::string_view fragment);

}  // namespace chat::domain
