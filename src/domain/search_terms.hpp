#pragma once
// What a word and a fragment are, on both sides of the search index: pure functions over UTF-8 text,
// used by the indexer (the terms of a message) and by the query (the terms a fragment looks up), so
// the two sides can never disagree. See docs/architecture.md, "Search".
//
// A *word* is a maximal run of letters, marks and digits (Unicode general categories L, M, N), or a
// maximal run of emoji (Extended_Pictographic, Emoji_Modifier, Regional_Indicator). A default-ignorable
// code point (ZWJ, ZWNJ, soft hyphen, variation selectors) continues the run it is in. Everything else
// (spaces, punctuation, symbols) separates words. Scripts written without spaces (Chinese, Japanese,
// Thai) make one word of each run between punctuation, so a fragment is any part of that run: `你好`
// finds `我说你好世界`.
//
// *Folding* makes matching case-, width- and accent-insensitive: NFKC_Casefold (Unicode case folding,
// compatibility forms such as full-width letters and ligatures, default ignorables removed), then the
// combining marks of the Inherited script are removed (the Latin, Greek and Cyrillic diacritics,
// U+0300..U+036F, and the Arabic harakat and hamza marks), then NFC. So `cafe` finds `café`, `CAFÉ`
// finds `café`, `Привет` finds `привет`, `أهلا` finds `اهلا`, `👍` finds `👍🏽`
// (skin tones and variation selectors are dropped). The Japanese voicing marks (U+3099, U+309A) are kept:
// `が` is not `か`. The Arabic tatweel (U+0640, a stretching stroke) is removed.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace chat::domain {

// Fragments of up to this many code points are one term lookup (every such substring of a word is
// indexed); longer ones are a prefix lookup among the word's suffixes.
inline constexpr std::size_t max_gram_chars = 6;
// Suffixes, whole words and fragments are clipped to this many code points: in a longer word a
// fragment is found when its first max_term_chars code points occur in the word.
inline constexpr std::size_t max_term_chars = 32;

struct word_span {
    std::size_t begin = 0;  // byte offsets in the original text
    std::size_t end = 0;
    std::string folded;  // never empty
};

// The words of a text, in order, with their folded form; words that fold to nothing are left out.
// Invalid UTF-8 bytes separate words.
std::vector<word_span> split_words(std::string_view text);
// The folded form of one word (see above); idempotent: fold(fold(w)) == fold(w).
std::string fold(std::string_view word);
// The first n code points of s.
std::string clip_code_points(std::string_view s, std::size_t n);

// The terms a message is indexed under in mapping version 3, each list sorted and without
// duplicates: a fragment is found when it is a prefix of one of the suffixes. The store keys the
// suffixes by chat, so that prefix lookup walks only the chat's own terms (its cost does not depend
// on the vocabulary of other chats), and it costs a word as many terms as it has code points
// (version 2's grams cost up to six times that).
struct suffix_terms {
    std::vector<std::string> words;     // folded whole words, clipped to max_term_chars
    std::vector<std::string> suffixes;  // every suffix of a word (the word itself too), clipped likewise
};
suffix_terms compute_suffix_terms(std::string_view body);

// The terms of mapping version 2 (kept until `chat_ctl reindex` moves an index to version 3), each
// list sorted and without duplicates.
struct index_terms {
    std::vector<std::string> words;     // folded whole words, clipped to max_term_chars
    std::vector<std::string> grams;     // every substring of 1..max_gram_chars code points of a word
    std::vector<std::string> suffixes;  // suffixes longer than max_gram_chars, clipped to max_term_chars
};
index_terms compute_index_terms(std::string_view body);

// How one folded query fragment is looked up in mapping version 2 (version 3: always a prefix of a
// suffix).
enum class fragment_lookup {
    gram,          // term query on the grams
    suffix_prefix  // prefix query on the suffixes
};
fragment_lookup lookup_for(std::string_view fragment);

// The snippet of a search hit: the body (or, when longer than `window` code points, `window` code
// points from a little before the first match) HTML-escaped, with each word whose folded form
// contains a fragment wrapped in <em>…</em>.
std::string highlight(std::string_view body, const std::vector<std::string>& fragments,
                      std::size_t window = 150);
// & < > " ' / as HTML entities.
std::string html_escape(std::string_view s);

}  // namespace chat::domain
