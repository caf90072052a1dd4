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

// Names and bodies are classified by Unicode properties (ICU; the Unicode version of the ICU we are built
// with, 15.0 with bookworm's ICU 72). README "Input rules" states the same rules. Terms:
//  - blank: White_Space or Default_Ignorable_Code_Point (U+0020, U+00A0, U+2003, U+3000, U+200B, U+2060,
//    U+FEFF, U+3164, variation selectors...);
//  - visible: not White_Space, not Default_Ignorable_Code_Point, general category neither Cc nor Cf.
//
// The application name, stored trimmed. Valid UTF-8; the leading and trailing extended grapheme
// clusters (UAX #29) made only of blank code points are removed (a variation selector or joiner that
// belongs to the character before it stays: "I ❤️" keeps its U+FE0F). What remains is 1..255 code points,
// has at least one visible code point, and none of: Cc (C0, DEL, C1 such as U+0085, U+009B), Zl/Zp
// (U+2028, U+2029), noncharacters, bidi embeddings/overrides/isolates (Bidi_Class LRE, RLE, LRO, RLO, PDF,
// LRI, RLI, FSI, PDI: U+202A..U+202E, U+2066..U+2069). Other Cf stays allowed inside (U+200D ZWJ of emoji
// sequences, U+200C ZWNJ, U+200E/U+200F marks, U+00AD). Unassigned and private-use code points are
// accepted (new emoji must not wait for an ICU upgrade). Errors are invalid_field, or internal if ICU's
// segmentation is unusable.
result<std::string> normalize_app_name(std::string_view raw);
// A message body, kept as sent (nothing trimmed): valid UTF-8, 1..max_bytes bytes, at least one visible
// code point, no Cc other than TAB, LF and CR (so no U+0000, no DEL, no C1), no noncharacters. Format
// characters, bidi controls and line/paragraph separators are allowed in bodies.
result<std::string> validate_body(std::string_view raw, std::size_t max_bytes);
// Whether every code point of `s` (valid UTF-8) is visible and none is a noncharacter: the rule of
// identifiers that travel in paths and logs (user ids).
bool is_all_visible(std::string_view s);
// An application token as it may appear in a path: 1..64 characters of [A-Za-z0-9_-].
bool is_plausible_token(std::string_view token);
// A chat or message number from a path segment: canonical decimal 1..2^53.
result<std::uint64_t> parse_number(std::string_view segment, std::string_view what);
// Page size from ?limit=: default when absent, 1..max otherwise.
result<int> parse_limit(std::optional<std::string_view> raw, int default_limit, int max_limit);
// Cursor from ?after=: the last number the client saw, 0 when absent.
result<std::uint64_t> parse_after(std::optional<std::string_view> raw);
// Which messages a list shows (?after=, ?before=, ?around=, ?wait=): at most one of after, before and
// around. after=N: the `limit` messages above N (the default, after=0). before=N: the `limit` just
// below N, ascending (before=latest: the newest). around=N: N itself and the messages on both sides
// (half the limit before, the rest after). wait=S (0..60 seconds, with after only): a long poll.
struct history_window {
    std::optional<std::uint64_t> after;
    int after_limit = 0;
    std::optional<std::uint64_t> before;
    int before_limit = 0;
    int wait_s = 0;
};
inline constexpr int max_wait_s = 60;
result<history_window> parse_history(std::optional<std::string_view> after,
                                     std::optional<std::string_view> before,
                                     std::optional<std::string_view> around,
                                     std::optional<std::string_view> wait, int limit);
// Idempotency-Key header: 1..255 visible ASCII characters.
result<std::string> validate_idempotency_key(std::string_view raw);

}  // namespace chat::domain
