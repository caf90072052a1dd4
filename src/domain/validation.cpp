#include "domain/validation.hpp"

#include <unicode/ubrk.h>
#include <unicode/uchar.h>
#include <unicode/utext.h>
#include <unicode/utf8.h>

#include <charconv>
#include <limits>
#include <memory>

namespace chat::domain {

using core::errc;
using core::make_error;

bool is_valid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const auto* end = p + s.size();
    while (p < end) {
        unsigned char c = *p;
        if (c < 0x80) {
            ++p;
            continue;
        }
        int len = 0;
        std::uint32_t cp = 0;
        if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (end - p < len) return false;
        for (int i = 1; i < len; ++i) {
            if ((p[i] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) return false;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        p += len;
    }
    return true;
}

std::size_t utf8_length(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

namespace {

// ---- Unicode classification (ICU; the Unicode version is the one of the ICU we are built with) ----

// White_Space: ASCII spaces, TAB..CR, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F,
// U+205F, U+3000.
bool is_white_space(UChar32 c) {
    if (c < 0x80) return c == ' ' || (c >= '\t' && c <= '\r');  // ASCII fast paths: same answers as ICU
    return u_isUWhiteSpace(c);
}
// Default_Ignorable_Code_Point: U+00AD, U+034F, U+061C, Hangul fillers, U+180B..U+180F, U+200B..U+200F,
// U+202A..U+202E, U+2060..U+206F, U+FE00..U+FE0F, U+FEFF, U+FFF0..U+FFF8, tags, ...
bool is_default_ignorable(UChar32 c) {
    if (c < 0x80) return false;
    return u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
}
bool is_control(UChar32 c) {  // Cc: C0, DEL, C1
    if (c < 0x80) return c < 0x20 || c == 0x7F;
    return u_charType(c) == U_CONTROL_CHAR;
}
bool is_noncharacter(UChar32 c) {  // U+FDD0..U+FDEF and the last two code points of every plane
    if (c < 0x80) return false;
    return u_hasBinaryProperty(c, UCHAR_NONCHARACTER_CODE_POINT);
}
bool is_line_or_paragraph_separator(UChar32 c) {  // Zl, Zp: U+2028, U+2029
    auto t = u_charType(c);
    return t == U_LINE_SEPARATOR || t == U_PARAGRAPH_SEPARATOR;
}
// Bidi_Class LRE, RLE, LRO, RLO, PDF, LRI, RLI, FSI, PDI (U+202A..U+202E, U+2066..U+2069): they reorder
// the text that follows until their terminator. The marks U+200E, U+200F, U+061C are not among them.
bool is_bidi_embedding_override_or_isolate(UChar32 c) {
    switch (u_charDirection(c)) {
        case U_LEFT_TO_RIGHT_EMBEDDING:
        case U_RIGHT_TO_LEFT_EMBEDDING:
        case U_LEFT_TO_RIGHT_OVERRIDE:
        case U_RIGHT_TO_LEFT_OVERRIDE:
        case U_POP_DIRECTIONAL_FORMAT:
        case U_LEFT_TO_RIGHT_ISOLATE:
        case U_RIGHT_TO_LEFT_ISOLATE:
        case U_FIRST_STRONG_ISOLATE:
        case U_POP_DIRECTIONAL_ISOLATE:
            return true;
        default:
            return false;
    }
}
// Blank for trimming: White_Space or Default_Ignorable_Code_Point.
bool is_blank(UChar32 c) {
    return is_white_space(c) || is_default_ignorable(c);
}
// Visible: neither White_Space nor Default_Ignorable_Code_Point nor Cc nor Cf.
bool is_visible(UChar32 c) {
    if (c < 0x80) return c > 0x20 && c < 0x7F;
    if (is_blank(c)) return false;
    auto t = u_charType(c);
    return t != U_CONTROL_CHAR && t != U_FORMAT_CHAR;
}

// Calls f(code point) for each code point of s, which is valid UTF-8 of at most INT32_MAX bytes; stops
// at the first f that returns false and returns false then.
template <class F>
bool each_code_point(std::string_view s, F&& f) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
    const auto n = static_cast<std::int32_t>(s.size());
    for (std::int32_t i = 0; i < n;) {
        UChar32 c = 0;
        U8_NEXT(p, i, n, c);
        if (!f(c)) return false;
    }
    return true;
}

struct break_iterator_closer {
    void operator()(UBreakIterator* it) const { ubrk_close(it); }
};

// One grapheme-cluster iterator per thread (opening one loads ICU's rules; a clone per call is not needed
// since validation never suspends). Null if ICU's data is unusable.
UBreakIterator* grapheme_iterator() {
    thread_local std::unique_ptr<UBreakIterator, break_iterator_closer> it = [] {
        UErrorCode status = U_ZERO_ERROR;
        std::unique_ptr<UBreakIterator, break_iterator_closer> b(
            ubrk_open(UBRK_CHARACTER, "", nullptr, 0, &status));
        if (U_FAILURE(status)) b.reset();
        return b;
    }();
    return it.get();
}

// s (valid UTF-8, at most INT32_MAX bytes) without its leading and trailing extended grapheme clusters
// (UAX #29) made only of blank code points. Cluster-wise, so that a variation selector, tag or joiner
// that belongs to the character before it stays ("I ❤️" keeps its U+FE0F). Null if ICU fails.
std::optional<std::string_view> trim_blank_clusters(std::string_view s) {
    UBreakIterator* it = grapheme_iterator();
    if (!it) return std::nullopt;
    UErrorCode status = U_ZERO_ERROR;
    UText text = UTEXT_INITIALIZER;
    utext_openUTF8(&text, s.data(), static_cast<std::int64_t>(s.size()), &status);
    ubrk_setUText(it, &text, &status);  // the iterator keeps a shallow clone; s outlives its use below
    if (U_FAILURE(status)) {
        utext_close(&text);
        return std::nullopt;
    }
    std::int32_t first = -1, last = 0;  // UTF-8 text: the iterator's offsets are byte offsets
    for (std::int32_t start = ubrk_first(it), end = ubrk_next(it); end != UBRK_DONE;
         start = end, end = ubrk_next(it)) {
        auto cluster = s.substr(static_cast<std::size_t>(start), static_cast<std::size_t>(end - start));
        if (each_code_point(cluster, is_blank)) continue;
        if (first < 0) first = start;
        last = end;
    }
    utext_close(&text);
    if (first < 0) return std::string_view{};
    return s.substr(static_cast<std::size_t>(first), static_cast<std::size_t>(last - first));
}

bool too_long_for_icu(std::string_view s) {
    return s.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max());
}

}  // namespace

result<std::string> normalize_app_name(std::string_view raw) {
    if (!is_valid_utf8(raw)) return make_error(errc::invalid_field, "name must be valid UTF-8");
    // Bounded before any segmentation work: 255 code points of at most 4 bytes, and room for blanks
    // around them. (A 64 KiB name would otherwise be segmented whole on an I/O thread.)
    constexpr std::size_t max_raw_name_bytes = 4 * max_name_chars + 1024;
    if (raw.size() > max_raw_name_bytes || too_long_for_icu(raw))
        return make_error(errc::invalid_field, "name must be at most 255 characters");
    auto trimmed = trim_blank_clusters(raw);
    if (!trimmed) return make_error(errc::internal, "Unicode segmentation (ICU) is unavailable");
    auto name = *trimmed;
    if (name.empty()) return make_error(errc::invalid_field, "name must not be empty");
    if (utf8_length(name) > max_name_chars)
        return make_error(errc::invalid_field, "name must be at most 255 characters");
    const char* broken = nullptr;
    bool visible = false;
    each_code_point(name, [&](UChar32 c) {
        if (is_control(c))
            broken = "name must not contain control characters";
        else if (is_line_or_paragraph_separator(c))
            broken = "name must not contain line or paragraph separators";
        else if (is_noncharacter(c))
            broken = "name must not contain noncharacters";
        else if (is_bidi_embedding_override_or_isolate(c))
            broken = "name must not contain bidirectional embedding, override or isolate controls";
        visible = visible || is_visible(c);
        return broken == nullptr;
    });
    if (broken) return make_error(errc::invalid_field, broken);
    if (!visible) return make_error(errc::invalid_field, "name must contain a visible character");
    return std::string(name);
}

result<std::string> validate_body(std::string_view raw, std::size_t max_bytes) {
    if (!is_valid_utf8(raw)) return make_error(errc::invalid_field, "body must be valid UTF-8");
    if (raw.empty()) return make_error(errc::invalid_field, "body must not be empty");
    if (raw.size() > max_bytes || too_long_for_icu(raw))
        return make_error(errc::invalid_field,
                          "body must be at most " + std::to_string(max_bytes) + " bytes");
    const char* broken = nullptr;
    bool visible = false;
    each_code_point(raw, [&](UChar32 c) {
        if (is_control(c) && c != '\t' && c != '\n' && c != '\r')
            broken = "body must not contain control characters other than tab, line feed and carriage return";
        else if (is_noncharacter(c))
            broken = "body must not contain noncharacters";
        visible = visible || is_visible(c);
        return broken == nullptr;
    });
    if (broken) return make_error(errc::invalid_field, broken);
    if (!visible) return make_error(errc::invalid_field, "body must contain a visible character");
    return std::string(raw);
}

bool is_all_visible(std::string_view s) {
    if (s.size() > static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max())) return false;
    return each_code_point(s, [](UChar32 c) { return is_visible(c) && !is_noncharacter(c); });
}

bool is_plausible_token(std::string_view token) {
    if (token.empty() || token.size() > 64) return false;
    for (char c : token) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                  c == '_';
        if (!ok) return false;
    }
    return true;
}

result<std::uint64_t> parse_number(std::string_view segment, std::string_view what) {
    constexpr std::uint64_t max = 1ULL << 53;  // exact in a JSON double, so every client reads it back intact
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(segment.data(), segment.data() + segment.size(), v);
    if (segment.empty() || ec != std::errc{} || p != segment.data() + segment.size() || segment[0] == '0' ||
        v > max)
        return make_error(errc::bad_request, std::string(what) + " must be a positive integer");
    return v;
}

result<int> parse_limit(std::optional<std::string_view> raw, int default_limit, int max_limit) {
    if (!raw) return default_limit;
    int v = 0;
    auto [p, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), v);
    if (raw->empty() || ec != std::errc{} || p != raw->data() + raw->size() || v < 1 || v > max_limit)
        return make_error(errc::invalid_field,
                          "limit must be an integer between 1 and " + std::to_string(max_limit));
    return v;
}

result<std::uint64_t> parse_after(std::optional<std::string_view> raw) {
    if (!raw) return std::uint64_t{0};
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(raw->data(), raw->data() + raw->size(), v);
    if (raw->empty() || ec != std::errc{} || p != raw->data() + raw->size())
        return make_error(errc::invalid_field, "after must be a non-negative integer");
    return v;
}

namespace {
std::optional<std::uint64_t> message_cursor(std::string_view raw) {
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
    if (raw.empty() || ec != std::errc{} || p != raw.data() + raw.size() || v > (1ULL << 53) + 1)
        return std::nullopt;
    return v;
}
}  // namespace

result<history_window> parse_history(std::optional<std::string_view> after,
                                     std::optional<std::string_view> before,
                                     std::optional<std::string_view> around,
                                     std::optional<std::string_view> wait, int limit) {
    if ((after ? 1 : 0) + (before ? 1 : 0) + (around ? 1 : 0) > 1)
        return make_error(errc::invalid_field, "use one of after, before and around");
    history_window w;
    if (wait) {
        int s = -1;
        auto [p, ec] = std::from_chars(wait->data(), wait->data() + wait->size(), s);
        if (wait->empty() || ec != std::errc{} || p != wait->data() + wait->size() || s < 0 || s > max_wait_s)
            return make_error(errc::invalid_field, "wait must be an integer between 0 and 60 seconds");
        if (before || around) return make_error(errc::invalid_field, "wait goes with after only");
        w.wait_s = s;
    }
    if (before) {
        auto v =
            *before == "latest" ? std::optional<std::uint64_t>((1ULL << 53) + 1) : message_cursor(*before);
        if (!v || *v == 0)
            return make_error(errc::invalid_field, "before must be a positive integer or latest");
        w.before = *v;
        w.before_limit = limit;
        return w;
    }
    if (around) {
        auto v = message_cursor(*around);
        if (!v || *v == 0 || *v > (1ULL << 53))
            return make_error(errc::invalid_field, "around must be a message number");
        w.before = *v + 1;  // includes the message itself
        w.before_limit = (limit + 1) / 2;
        w.after = *v;
        w.after_limit = limit / 2;
        return w;
    }
    auto a = parse_after(after);
    if (!a) return a.error();
    w.after = *a;
    w.after_limit = limit;
    return w;
}

result<std::string> validate_idempotency_key(std::string_view raw) {
    if (raw.empty() || raw.size() > max_idempotency_key_chars)
        return make_error(errc::bad_request, "Idempotency-Key must be 1..255 characters");
    for (unsigned char c : raw)
        if (c < 0x21 || c > 0x7E)
            return make_error(errc::bad_request, "Idempotency-Key must be visible ASCII characters");
    return std::string(raw);
}

}  // namespace chat::domain
