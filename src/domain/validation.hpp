#pragma once
// Input rules of the API, pure functions (no I/O), unit-tested in tests/unit/domain.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace chat::domain {

using core::result;

inline constexpr std::size_t max_name_chars = 255;
inline constexpr std::size_t max_idempotency_key_chars = 255;

// Valid UTF-8 (no overlongs, no surrogates, no code point above U+10FFFF)?
bool is_valid_utf8(std::string_view s);
// Number of code points of a valid UTF-8 string.
std::size_t utf8_length(std::string_view s);

// The application name, trimmed of surrounding whitespace: 1..255 characters of valid UTF-8.
result<std::string> normalize_app_name(std::string_view raw);
// A message body: valid UTF-8, not blank, at most max_bytes bytes. Kept as sent (no trimming).
result<std::string> validate_body(std::string_view raw, std::size_t max_bytes);
// An application token as it may appear in a path: 1..64 characters of [A-Za-z0-9_-].
bool is_plausible_token(std::string_view token);
// A chat or message number from a path segment: canonical decimal 1..2^53.
result<std::uint64_t> parse_number(std::string_view segment, std::string_view what);
// Page size from ?limit=: default when absent, 1..max otherwise.
result<int> parse_limit(std::optional<std::string_view> raw, int default_limit, int max_limit);
// Cursor from ?after=: the last number the client saw, 0 when absent.
result<std::uint64_t> parse_after(std::optional<std::string_view> raw);
// Idempotency-Key header: 1..255 visible ASCII characters.
result<std::string> validate_idempotency_key(std::string_view raw);

}  // namespace chat::domain
