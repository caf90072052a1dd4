#include "domain/search_terms.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "domain/search_query.hpp"

using namespace chat::domain;

namespace {

std::vector<std::string> folded_words(std::string_view text) {
    std::vector<std::string> out;
    for (const auto& w : split_words(text)) out.push_back(w.folded);
    return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::binary_search(v.begin(), v.end(), s);
}

bool some_starts_with(const std::vector<std::string>& v, const std::string& prefix) {
    return std::any_of(v.begin(), v.end(),
                       [&](const std::string& s) { return s.compare(0, prefix.size(), prefix) == 0; });
}

// What the index answers: every query fragment is found among the message's terms the way the
// Elasticsearch query looks it up. Version 3 (a prefix of a suffix) is the answer; version 2 (a gram
// term, or a prefix of a long suffix), which an index keeps until it is reindexed, must agree with it.
bool finds(std::string_view body, std::string_view query) {
    auto fragments = parse_search_query(query);
    if (!fragments) return false;
    auto v3 = compute_suffix_terms(body);
    auto v2 = compute_index_terms(body);
    bool found_v3 = std::all_of(fragments->begin(), fragments->end(),
                                [&](const std::string& f) { return some_starts_with(v3.suffixes, f); });
    bool found_v2 = std::all_of(fragments->begin(), fragments->end(), [&](const std::string& f) {
        return lookup_for(f) == fragment_lookup::gram ? contains(v2.grams, f)
                                                      : some_starts_with(v2.suffixes, f);
    });
    EXPECT_EQ(found_v3, found_v2) << "mapping versions disagree on " << query << " in " << body;
    return found_v3;
}

}  // namespace

TEST(search_terms, folds_case_width_and_accents_on_both_sides) {
    EXPECT_EQ(fold("CAFÉ"), "cafe");
    EXPECT_EQ(fold("Привет"), "привет");
    EXPECT_EQ(fold("ＡＢＣ"), "abc");      // full-width
    EXPECT_EQ(fold("ﬁne"), "fine");        // ligature
    EXPECT_EQ(fold("Straße"), "strasse");  // full case folding
    EXPECT_EQ(fold("ΣΊΣΥΦΟΣ"), "σισυφοσ");
    EXPECT_EQ(fold("İstanbul"), "istanbul");
    EXPECT_EQ(fold("e\xCC\x81t\xC3\xA9"), "ete");  // decomposed and precomposed é alike
    EXPECT_EQ(fold("HELLO"), "hello");
}

TEST(search_terms, folding_is_idempotent) {
    for (std::string_view w :
         {"CAFÉ", "Привет", "ǅungla", "İi", "ﬃ", "가나다", "がぎ", "مُحَمَّد", "👍🏽", "½"}) {
        auto once = fold(w);
        EXPECT_EQ(fold(once), once) << w;
    }
}

TEST(search_terms, accent_insensitive_both_ways) {
    EXPECT_TRUE(finds("un café noir", "cafe"));
    EXPECT_TRUE(finds("un cafe noir", "café"));
    EXPECT_TRUE(finds("un café noir", "CAFÉ"));
    EXPECT_TRUE(finds("Привет, мир", "ПРИВЕТ"));
    EXPECT_TRUE(finds("Привет, мир", "риве"));
    EXPECT_TRUE(finds("Ёлка", "елк"));  // ё folds to е: the diaeresis is a combining mark
    EXPECT_FALSE(finds("un café noir", "cafx"));
}

TEST(search_terms, chinese_and_japanese_runs_are_words_and_any_part_is_a_fragment) {
    EXPECT_EQ(folded_words("我说你好世界。你好！"), (std::vector<std::string>{"我说你好世界", "你好"}));
    EXPECT_TRUE(finds("我说你好世界", "你好"));
    EXPECT_TRUE(finds("我说你好世界", "你"));
    EXPECT_TRUE(finds("我说你好世界", "好世"));
    EXPECT_TRUE(finds("こんにちは世界", "こんにちは"));
    EXPECT_TRUE(finds("こんにちは世界", "ちは世"));
    EXPECT_TRUE(finds("カタカナとひらがな", "カナ"));
    EXPECT_FALSE(finds("我说你好世界", "你坏"));
    // The voicing mark makes another kana: が is not か.
    EXPECT_FALSE(finds("がっこう", "かっこう"));
    EXPECT_TRUE(finds("ｶﾞｯｺｳ", "ガッコウ"));  // half-width katakana folds to full-width
}

TEST(search_terms, arabic_without_harakat_and_hamza_forms) {
    EXPECT_TRUE(finds("مُحَمَّد رسول", "محمد"));
    EXPECT_TRUE(finds("محمد", "مُحَمَّد"));
    EXPECT_TRUE(finds("أهلا وسهلا", "اهلا"));
    EXPECT_TRUE(finds("مـــرحبا", "مرحبا"));  // tatweel
    EXPECT_TRUE(finds("مرحبا", "حب"));
    EXPECT_EQ(folded_words("مرحبا، كيف حالك؟"), (std::vector<std::string>{"مرحبا", "كيف", "حالك"}));
}

TEST(search_terms, emoji_are_words_of_their_own) {
    EXPECT_EQ(folded_words("great👍🏽job"), (std::vector<std::string>{"great", "👍", "job"}));
    EXPECT_TRUE(finds("great 👍🏽 job", "👍"));
    EXPECT_TRUE(finds("love ❤️", "❤"));
    EXPECT_TRUE(finds("family 👩‍👩‍👧 photo", "👧"));
    EXPECT_TRUE(finds("🇪🇬 team", "🇪🇬"));
    EXPECT_FALSE(finds("great 👍 job", "👎"));
}

TEST(search_terms, punctuation_and_symbols_separate_words) {
    EXPECT_EQ(
        folded_words("Hello, WORLD-wide! e-mail: a.b@c.d 3.14"),
        (std::vector<std::string>{"hello", "world", "wide", "e", "mail", "a", "b", "c", "d", "3", "14"}));
    EXPECT_EQ(folded_words("soft\xC2\xADhyphen zero\xE2\x80\x8Bwidth"),
              (std::vector<std::string>{"softhyphen", "zerowidth"}));  // joiners continue a word
    EXPECT_TRUE(split_words("  !!! ... ").empty());
    EXPECT_TRUE(split_words("\xCC\x81").empty());  // a lone accent folds to nothing
    EXPECT_EQ(folded_words("ab\xff"
                           "cd"),
              (std::vector<std::string>{"ab", "cd"}));
}

TEST(search_terms, spans_point_into_the_original_text) {
    std::string text = "Grüße, CAFÉ!";
    auto w = split_words(text);
    ASSERT_EQ(w.size(), 2u);
    EXPECT_EQ(text.substr(w[0].begin, w[0].end - w[0].begin), "Grüße");
    EXPECT_EQ(w[0].folded, "grusse");
    EXPECT_EQ(text.substr(w[1].begin, w[1].end - w[1].begin), "CAFÉ");
}

TEST(search_terms, index_terms_are_grams_suffixes_and_words) {
    auto t = compute_index_terms("Wassup wassup!!!! hi");
    EXPECT_EQ(t.words, (std::vector<std::string>{"hi", "wassup"}));
    for (std::string g : {"w", "wa", "ssu", "sup", "wassup", "assup", "h", "hi", "i"})
        EXPECT_TRUE(contains(t.grams, g)) << g;
    EXPECT_FALSE(contains(t.grams, "pw"));  // never across words
    EXPECT_TRUE(t.suffixes.empty());        // no word is longer than max_gram_chars
    auto long_word = compute_index_terms("internationalization");
    EXPECT_TRUE(contains(long_word.suffixes, "internationalization"));
    EXPECT_TRUE(contains(long_word.suffixes, "ization"));
    EXPECT_FALSE(contains(long_word.suffixes, "zation"));  // 6 code points: a gram
    EXPECT_TRUE(contains(long_word.grams, "zation"));
    EXPECT_TRUE(finds("internationalization", "NATIONAL"));
    EXPECT_TRUE(finds("internationalization", "ationaliz"));
    EXPECT_FALSE(finds("internationalization", "nationalise"));
}

TEST(search_terms, suffix_terms_are_every_suffix_of_each_word) {
    auto t = compute_suffix_terms("Wassup wassup!!!! hi");
    EXPECT_EQ(t.words, (std::vector<std::string>{"hi", "wassup"}));
    EXPECT_EQ(t.suffixes, (std::vector<std::string>{"assup", "hi", "i", "p", "ssup", "sup", "up", "wassup"}));
    auto cjk = compute_suffix_terms("我说你好");
    EXPECT_EQ(cjk.suffixes,
              (std::vector<std::string>{"你好", "好", "我说你好", "说你好"}));  // code points, not bytes
    EXPECT_TRUE(compute_suffix_terms("!!! ...").suffixes.empty());
}

TEST(search_terms, every_fragment_of_a_word_is_found) {
    std::string word = "Übermäßigkeiten";
    auto starts = std::vector<std::size_t>{};
    auto folded = fold(word);
    for (std::size_t i = 0; i < folded.size(); ++i)
        for (std::size_t j = i + 1; j <= folded.size(); ++j)
            EXPECT_TRUE(finds("x " + word + " y", folded.substr(i, j - i))) << folded.substr(i, j - i);
}

TEST(search_terms, words_longer_than_the_bound) {
    std::string word(100, 'a');
    word += "needle";
    word += std::string(100, 'b');
    auto t = compute_index_terms(word);
    for (const auto& s : t.suffixes) EXPECT_LE(s.size(), max_term_chars);
    EXPECT_LE(t.suffixes.size(), word.size() - max_gram_chars);  // at most one per code point
    auto v3 = compute_suffix_terms(word);
    for (const auto& s : v3.suffixes) EXPECT_LE(s.size(), max_term_chars);
    EXPECT_LE(v3.suffixes.size(), word.size());
    EXPECT_EQ(t.words, (std::vector<std::string>{std::string(max_term_chars, 'a')}));
    // Anywhere in the word, a fragment of up to max_term_chars code points is found.
    EXPECT_TRUE(finds(word, "aaaneedlebbb"));
    EXPECT_TRUE(finds(word, std::string(20, 'a') + "needle"));
    // A longer fragment is clipped to its first max_term_chars code points.
    auto q = parse_search_query(std::string(40, 'b'));
    ASSERT_TRUE(q);
    EXPECT_EQ((*q)[0], std::string(max_term_chars, 'b'));
    EXPECT_TRUE(finds(word, std::string(40, 'b')));
    // Code points, not bytes.
    EXPECT_EQ(clip_code_points("日本語のテキスト", 3), "日本語");
}

TEST(search_terms, highlight_marks_whole_words_and_escapes) {
    EXPECT_EQ(highlight("wassup!!!!", {"ssu"}), "<em>wassup</em>!!!!");
    EXPECT_EQ(highlight("<script>alert('x')</script> & greetings", {"greet"}),
              "&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2F;script&gt; &amp; <em>greetings</em>");
    EXPECT_EQ(highlight("Un CAFÉ, un café", {"cafe"}), "Un <em>CAFÉ</em>, un <em>café</em>");
    // A run of Chinese is one word: it is marked whole, as a Latin word is.
    EXPECT_EQ(highlight("我说你好世界。", {"你好"}), "<em>我说你好世界</em>。");
    EXPECT_EQ(highlight("nothing here", {"zzz"}), "nothing here");
}

TEST(search_terms, highlight_of_a_long_body_is_a_window_around_the_first_match) {
    std::string body;
    for (int i = 0; i < 100; ++i) body += "filler" + std::to_string(i) + " ";
    body += "target end";
    auto h = highlight(body, {"target"});
    EXPECT_NE(h.find("<em>target</em>"), std::string::npos);
    EXPECT_LE(h.size(), 150u + 9u);
    EXPECT_EQ(h.find("filler0 "), std::string::npos);
    auto none = highlight(body, {"zzz"});
    EXPECT_EQ(none, body.substr(0, 150));
    // Never cuts a code point.
    std::string cjk;
    for (int i = 0; i < 200; ++i) cjk += "字";
    EXPECT_EQ(highlight(cjk, {"zzz"}).size(), 150u * 3);
}
