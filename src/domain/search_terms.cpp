#include "domain/search_terms.hpp"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/uscript.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include <algorithm>
#include <cstdint>

namespace chat::domain {

namespace {

enum class char_class { separator, letter, emoji, joiner };

char_class classify(UChar32 c) {
    if (u_hasBinaryProperty(c, UCHAR_EMOJI_MODIFIER) || u_hasBinaryProperty(c, UCHAR_REGIONAL_INDICATOR))
        return char_class::emoji;
    // Digits and letters first: the ASCII digits and # * are Emoji (keycaps) but not pictographs.
    switch (u_charType(c)) {
        case U_UPPERCASE_LETTER:
        case U_LOWERCASE_LETTER:
        case U_TITLECASE_LETTER:
        case U_MODIFIER_LETTER:
        case U_OTHER_LETTER:
        case U_NON_SPACING_MARK:
        case U_ENCLOSING_MARK:
        case U_COMBINING_SPACING_MARK:
        case U_DECIMAL_DIGIT_NUMBER:
        case U_LETTER_NUMBER:
        case U_OTHER_NUMBER:
            return char_class::letter;
        default:
            break;
    }
    if (u_hasBinaryProperty(c, UCHAR_EXTENDED_PICTOGRAPHIC)) return char_class::emoji;
    if (u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT)) return char_class::joiner;
    return char_class::separator;
}

bool is_mark(UChar32 c) {
    auto t = u_charType(c);
    return t == U_NON_SPACING_MARK || t == U_ENCLOSING_MARK || t == U_COMBINING_SPACING_MARK;
}

bool is_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Marks removed by folding: the generic combining diacritics and the Arabic vowel marks (Script =
// Inherited), but not the kana voicing marks, which make another letter.
bool dropped_mark(UChar32 c) {
    if (c == 0x3099 || c == 0x309A) return false;
    if (u_charType(c) != U_NON_SPACING_MARK) return false;
    UErrorCode ec = U_ZERO_ERROR;
    return uscript_getScript(c, &ec) == USCRIPT_INHERITED && U_SUCCESS(ec);
}

std::u16string to_utf16(std::string_view s) {
    std::u16string out(s.size() + 1, u'\0');
    int32_t len = 0;
    UErrorCode ec = U_ZERO_ERROR;
    u_strFromUTF8WithSub(reinterpret_cast<UChar*>(out.data()), static_cast<int32_t>(out.size()), &len,
                         s.data(), static_cast<int32_t>(s.size()), 0xFFFD, nullptr, &ec);
    if (U_FAILURE(ec)) return {};
    out.resize(static_cast<std::size_t>(len));
    return out;
}

std::string to_utf8(const std::u16string& s) {
    std::string out(s.size() * 3 + 1, '\0');
    int32_t len = 0;
    UErrorCode ec = U_ZERO_ERROR;
    u_strToUTF8WithSub(out.data(), static_cast<int32_t>(out.size()), &len,
                       reinterpret_cast<const UChar*>(s.data()), static_cast<int32_t>(s.size()), 0xFFFD,
                       nullptr, &ec);
    if (U_FAILURE(ec)) return {};
    out.resize(static_cast<std::size_t>(len));
    return out;
}

std::u16string normalize(const UNormalizer2* n, const std::u16string& s) {
    if (n == nullptr) return s;
    // NFKC can expand a code unit into up to 18; a retry with the exact size covers the rest.
    std::u16string out(s.size() * 4 + 16, u'\0');
    UErrorCode ec = U_ZERO_ERROR;
    auto src = reinterpret_cast<const UChar*>(s.data());
    auto len = unorm2_normalize(n, src, static_cast<int32_t>(s.size()), reinterpret_cast<UChar*>(out.data()),
                                static_cast<int32_t>(out.size()), &ec);
    if (ec == U_BUFFER_OVERFLOW_ERROR) {
        out.assign(static_cast<std::size_t>(len), u'\0');
        ec = U_ZERO_ERROR;
        len = unorm2_normalize(n, src, static_cast<int32_t>(s.size()), reinterpret_cast<UChar*>(out.data()),
                               static_cast<int32_t>(out.size()), &ec);
    }
    if (U_FAILURE(ec)) return s;
    out.resize(static_cast<std::size_t>(len));
    return out;
}

struct normalizers {
    const UNormalizer2* casefold = nullptr;
    const UNormalizer2* nfd = nullptr;
    const UNormalizer2* nfc = nullptr;
};

const normalizers& icu_normalizers() {
    static const normalizers n = [] {
        normalizers out;
        UErrorCode ec = U_ZERO_ERROR;
        out.casefold = unorm2_getNFKCCasefoldInstance(&ec);
        ec = U_ZERO_ERROR;
        out.nfd = unorm2_getNFDInstance(&ec);
        ec = U_ZERO_ERROR;
        out.nfc = unorm2_getNFCInstance(&ec);
        return out;
    }();
    return n;
}

std::u16string without_dropped_marks(const std::u16string& s) {
    std::u16string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        UChar32 c = 0;
        U16_NEXT(s.data(), i, s.size(), c);
        // Skin tones go the way of accents: 👍 finds 👍🏽.
        if (dropped_mark(c) || c == 0x0640 || u_hasBinaryProperty(c, UCHAR_EMOJI_MODIFIER)) continue;
        if (U_IS_BMP(c)) {
            out.push_back(static_cast<char16_t>(c));
        } else {
            out.push_back(static_cast<char16_t>(U16_LEAD(c)));
            out.push_back(static_cast<char16_t>(U16_TRAIL(c)));
        }
    }
    return out;
}

// Byte offsets where each code point of a valid UTF-8 string starts, plus its size.
std::vector<std::size_t> code_point_starts(std::string_view s) {
    std::vector<std::size_t> starts;
    starts.reserve(s.size() + 1);
    std::size_t i = 0;
    while (i < s.size()) {
        starts.push_back(i);
        UChar32 c = 0;
        U8_NEXT(s.data(), i, s.size(), c);
    }
    starts.push_back(s.size());
    return starts;
}

void sort_unique(std::vector<std::string>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

std::string fold(std::string_view word) {
    if (is_ascii(word)) {
        std::string out(word);
        for (auto& ch : out)
            if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
        return out;
    }
    const auto& n = icu_normalizers();
    auto folded = normalize(n.casefold, to_utf16(word));
    auto bare = without_dropped_marks(normalize(n.nfd, folded));
    return to_utf8(normalize(n.nfc, bare));
}

std::string clip_code_points(std::string_view s, std::size_t n) {
    std::size_t i = 0;
    for (std::size_t k = 0; k < n && i < s.size(); ++k) {
        UChar32 c = 0;
        U8_NEXT(s.data(), i, s.size(), c);
    }
    return std::string(s.substr(0, i));
}

std::vector<word_span> split_words(std::string_view text) {
    std::vector<word_span> out;
    std::size_t begin = 0;
    char_class run = char_class::separator;
    auto flush = [&](std::size_t end) {
        if (run != char_class::separator) {
            auto folded = fold(text.substr(begin, end - begin));
            if (!folded.empty()) out.push_back({begin, end, std::move(folded)});
        }
        run = char_class::separator;
    };
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t at = i;
        UChar32 c = 0;
        U8_NEXT(text.data(), i, text.size(), c);
        auto cls = c < 0 ? char_class::separator : classify(c);
        // A joiner continues the open run (or, outside one, is ignored); so does a mark after an
        // emoji (a combining mark or the keycap U+20E3).
        if (cls == char_class::joiner) continue;
        if (run == char_class::emoji && is_mark(c)) continue;
        if (cls != run) {
            flush(at);
            if (cls != char_class::separator) {
                begin = at;
                run = cls;
            }
        }
    }
    flush(text.size());
    return out;
}

suffix_terms compute_suffix_terms(std::string_view body) {
    suffix_terms t;
    for (const auto& w : split_words(body)) {
        auto starts = code_point_starts(w.folded);
        const std::size_t n = starts.size() - 1;
        const std::string& f = w.folded;
        t.words.push_back(clip_code_points(f, max_term_chars));
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t end = starts[std::min(n, i + max_term_chars)];
            t.suffixes.push_back(f.substr(starts[i], end - starts[i]));
        }
    }
    sort_unique(t.words);
    sort_unique(t.suffixes);
    return t;
}

// Version 2's terms follow from version 3's: a gram is a prefix (of up to max_gram_chars code points)
// of some suffix, and version 2 kept only the suffixes longer than max_gram_chars.
index_terms compute_index_terms(std::string_view body) {
    auto v3 = compute_suffix_terms(body);
    index_terms t;
    t.words = std::move(v3.words);
    for (auto& x : v3.suffixes) {
        auto starts = code_point_starts(x);
        const std::size_t n = starts.size() - 1;
        for (std::size_t k = 1; k <= max_gram_chars && k <= n; ++k) t.grams.push_back(x.substr(0, starts[k]));
        if (n > max_gram_chars) t.suffixes.push_back(std::move(x));
    }
    sort_unique(t.grams);
    return t;
}

fragment_lookup lookup_for(std::string_view fragment) {
    return code_point_starts(fragment).size() - 1 <= max_gram_chars ? fragment_lookup::gram
                                                                    : fragment_lookup::suffix_prefix;
}

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#x27;";
                break;
            case '/':
                out += "&#x2F;";
                break;
            default:
                out.push_back(c);
        }
    }
    return out;
}

std::string highlight(std::string_view body, const std::vector<std::string>& fragments, std::size_t window) {
    auto words = split_words(body);
    std::vector<const word_span*> marked;
    for (const auto& w : words)
        if (std::any_of(fragments.begin(), fragments.end(), [&](const std::string& f) {
                return !f.empty() && w.folded.find(f) != std::string::npos;
            }))
            marked.push_back(&w);
    auto starts = code_point_starts(body);
    const std::size_t n = starts.size() - 1;
    // The window: the whole body when it fits, otherwise from a few words before the first match.
    std::size_t first_cp = 0;
    if (n > window && !marked.empty()) {
        auto at = static_cast<std::size_t>(
            std::lower_bound(starts.begin(), starts.end(), marked.front()->begin) - starts.begin());
        std::size_t lead = window / 5;
        first_cp = at > lead ? at - lead : 0;
        if (first_cp + window > n) first_cp = n - window;
        // Start at a word's start rather than inside it.
        for (const auto& w : words)
            if (w.end > starts[first_cp] && w.begin < starts[first_cp]) {
                first_cp = static_cast<std::size_t>(std::lower_bound(starts.begin(), starts.end(), w.end) -
                                                    starts.begin());
                break;
            }
    }
    const std::size_t from = starts[first_cp];
    const std::size_t to = starts[std::min(n, first_cp + window)];
    std::string out;
    std::size_t pos = from;
    for (const auto* w : marked) {
        if (w->end <= from || w->begin >= to) continue;
        std::size_t b = std::max(w->begin, from), e = std::min(w->end, to);
        out += html_escape(body.substr(pos, b - pos));
        out += "<em>";
        out += html_escape(body.substr(b, e - b));
        out += "</em>";
        pos = e;
    }
    out += html_escape(body.substr(pos, to - pos));
    return out;
}

}  // namespace chat::domain
