#include "domain/validation.hpp"

#include <gtest/gtest.h>
#include <unicode/uchar.h>

using namespace chat::domain;
using chat::core::errc;

TEST(validation, utf8) {
    EXPECT_TRUE(is_valid_utf8("héllo wörld ✓ 😀"));
    EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
    EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
    EXPECT_FALSE(is_valid_utf8("abc\xE2\x82"));       // truncated
    EXPECT_EQ(utf8_length("héllo"), 5u);
}

TEST(validation, app_name_is_trimmed_and_bounded) {
    EXPECT_EQ(*normalize_app_name("  instaBug \n"), "instaBug");
    EXPECT_EQ(normalize_app_name("   ").error().code, errc::invalid_field);
    EXPECT_EQ(normalize_app_name("").error().code, errc::invalid_field);
    EXPECT_TRUE(normalize_app_name(std::string(255, 'a')).has_value());
    EXPECT_FALSE(normalize_app_name(std::string(256, 'a')).has_value());
    // 255 characters of two bytes each: counted in characters, not bytes.
    std::string accents;
    for (int i = 0; i < 255; ++i) accents += "é";
    EXPECT_TRUE(normalize_app_name(accents).has_value());
    EXPECT_FALSE(normalize_app_name("a\x01b").has_value());
    EXPECT_FALSE(normalize_app_name("\xff").has_value());
}

TEST(validation, body) {
    EXPECT_EQ(*validate_body(" wassup!!!! ", 100), " wassup!!!! ");
    EXPECT_EQ(validate_body(" \t\n", 100).error().code, errc::invalid_field);
    EXPECT_FALSE(validate_body(std::string(101, 'x'), 100).has_value());
    EXPECT_TRUE(validate_body(std::string(100, 'x'), 100).has_value());
    EXPECT_FALSE(validate_body("\xC3", 100).has_value());
}

// Names and bodies are classified by Unicode properties, not by ASCII (README "Input rules").
namespace {
const char* const nbsp = "\u00A0";
const char* const ideographic_space = "\u3000";
const char* const em_space = "\u2003";
const char* const zwsp = "\u200B";
const char* const bom = "\uFEFF";
const char* const word_joiner = "\u2060";
const char* const hangul_filler = "\u3164";
const char* const nel = "\u0085";                                         // C1, and White_Space
const char* const csi = "\u009B";                                         // C1
const char* const family = "\U0001F469\u200D\U0001F469\u200D\U0001F467";  // 👩‍👩‍👧
}  // namespace

TEST(validation, app_name_only_unicode_blanks_is_rejected) {
    for (std::string blank : {nbsp, ideographic_space, em_space, zwsp, bom, word_joiner, hangul_filler,
                              "\u2000\u200A\u202F\u205F\u1680", "\u200C\u200D\u2061\u2062", "\u00AD",
                              "\uFE0F", "\U000E0020\U000E007F"}) {
        auto r = normalize_app_name(blank);
        ASSERT_FALSE(r.has_value()) << blank;
        EXPECT_EQ(r.error().code, errc::invalid_field) << blank;
    }
    std::string mixture = std::string(" ") + nbsp + zwsp + ideographic_space + bom + "\t" + em_space +
                          word_joiner + "\r\n" + nel;
    EXPECT_EQ(normalize_app_name(mixture).error().code, errc::invalid_field);
    // Invisible format characters that are not Default_Ignorable are not trimmed, but are not visible.
    EXPECT_EQ(normalize_app_name("\uFFF9\uFFFB").error().code, errc::invalid_field);
}

TEST(validation, app_name_is_trimmed_of_unicode_blanks) {
    EXPECT_EQ(*normalize_app_name(std::string(nbsp) + "instaBug" + nbsp), "instaBug");
    EXPECT_EQ(*normalize_app_name(std::string(ideographic_space) + zwsp + "insta Bug" + bom + em_space +
                                  word_joiner + nel),
              "insta Bug");
    EXPECT_EQ(*normalize_app_name(std::string(bom) + "x"), "x");
    // Inside, blanks stay: only the ends are trimmed.
    EXPECT_EQ(*normalize_app_name(std::string("a") + nbsp + "b"), std::string("a") + nbsp + "b");
    // Trimming is by grapheme cluster: what belongs to the last character stays.
    EXPECT_EQ(*normalize_app_name("I \u2764\uFE0F "), "I \u2764\uFE0F");  // ❤️ keeps its VS16
    const char* england = "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F";
    EXPECT_EQ(*normalize_app_name(std::string(england) + nbsp), england);
    // A blank cluster at the end goes, even with a variation selector attached to the space.
    EXPECT_EQ(*normalize_app_name("ab \uFE0F"), "ab");
    // 255 characters after trimming, however many blanks around them.
    std::string padded = std::string(10, ' ') + nbsp + std::string(255, 'a') + ideographic_space + zwsp;
    EXPECT_EQ(*normalize_app_name(padded), std::string(255, 'a'));
}

TEST(validation, app_name_rejects_c1_and_other_controls_inside) {
    EXPECT_EQ(normalize_app_name(std::string("a") + nel + "b").error().code, errc::invalid_field);
    EXPECT_EQ(normalize_app_name(std::string("a") + csi + "31mb").error().code, errc::invalid_field);
    EXPECT_EQ(normalize_app_name(std::string(csi) + "x").error().code,
              errc::invalid_field);  // C1 is not blank
    EXPECT_EQ(normalize_app_name(std::string("a\x7F"
                                             "b"))
                  .error()
                  .code,
              errc::invalid_field);
    EXPECT_EQ(normalize_app_name(std::string("a\0b", 3)).error().code, errc::invalid_field);
    EXPECT_EQ(normalize_app_name("a\tb").error().code, errc::invalid_field);
    EXPECT_EQ(normalize_app_name("a\u2028b").error().code, errc::invalid_field);  // Zl
    EXPECT_EQ(normalize_app_name("a\u2029b").error().code, errc::invalid_field);  // Zp
    EXPECT_EQ(normalize_app_name("a\uFDD0b").error().code, errc::invalid_field);  // noncharacters
    EXPECT_EQ(normalize_app_name("a\uFFFE").error().code, errc::invalid_field);
    EXPECT_EQ(normalize_app_name("a\U0010FFFF").error().code, errc::invalid_field);
    // Bidi embeddings, overrides and isolates would reorder what is shown after the name.
    for (auto bidi :
         {"\u202A", "\u202B", "\u202C", "\u202D", "\u202E", "\u2066", "\u2067", "\u2068", "\u2069"})
        EXPECT_EQ(normalize_app_name(std::string("evil") + bidi + "txt.exe").error().code,
                  errc::invalid_field)
            << bidi;
}

TEST(validation, app_name_accepts_every_script_and_emoji_sequences) {
    for (std::string ok :
         {"Café Crème", "Ærøskøbing", "Łódź", "聊天应用", "チャット", "채팅",
          "\u0645\u062D\u0627\u062F\u062B\u0629", "\u05E9\u05D9\u05D7\u05D4", "Привет", "नमस्ते",
          "e\u0301",                                                       // combining acute: a mark, visible
          "\U0001F44B\U0001F3FD", "\u2764\uFE0F", "\U0001F1EA\U0001F1EC",  // 👋🏽 ❤️ 🇪🇬
          "a\u00ADb",                                                      // soft hyphen inside
          "\u0645\u200C\u0646", "abc \u200E(1)",                           // ZWNJ, LRM inside
          "\uE000",                                                        // private use
          "\U0003FFFD"}) {                                                 // unassigned (plane 3)
        auto r = normalize_app_name(ok);
        ASSERT_TRUE(r.has_value()) << ok << ": " << r.error().message;
        EXPECT_EQ(*r, ok);
    }
    EXPECT_EQ(*normalize_app_name(family), family);
    EXPECT_EQ(*normalize_app_name(std::string(nbsp) + "team " + family + " " + zwsp),
              std::string("team ") + family);
    EXPECT_EQ(utf8_length(family), 5u);  // counted in code points: 👩‍👩‍👧 is 5 of the 255
}

TEST(validation, body_only_unicode_blanks_is_rejected) {
    for (std::string blank : {nbsp, ideographic_space, em_space, zwsp, bom, word_joiner, hangul_filler,
                              "\u200D\u200D", "\t\n\r", "\uFE0F\uFE0F"}) {
        auto r = validate_body(blank, 100);
        ASSERT_FALSE(r.has_value()) << blank;
        EXPECT_EQ(r.error().code, errc::invalid_field) << blank;
    }
    std::string mixture = std::string(zwsp) + nbsp + "\n" + bom + ideographic_space + word_joiner + em_space;
    EXPECT_EQ(validate_body(mixture, 100).error().code, errc::invalid_field);
    EXPECT_EQ(validate_body("", 100).error().code, errc::invalid_field);
}

TEST(validation, body_is_kept_as_sent) {
    std::string text = std::string("\tline one\r\nline two\n") + nbsp + "  ";
    EXPECT_EQ(*validate_body(text, 100), text);
    std::string with_blanks = std::string(zwsp) + "hi" + bom + ideographic_space;
    EXPECT_EQ(*validate_body(with_blanks, 100), with_blanks);
    EXPECT_EQ(*validate_body(family, 100), family);
    for (std::string ok :
         {"مرحبا بالعالم", "你好，世界", "Ça va ? Très bien.", "a\u2028b", "\u2067שלום\u2069 ok"})
        EXPECT_EQ(*validate_body(ok, 100), ok) << ok;
}

TEST(validation, body_rejects_controls_other_than_tab_lf_cr) {
    EXPECT_EQ(validate_body(std::string("a\0b", 3), 100).error().code, errc::invalid_field);
    for (std::string bad :
         {"a\x01", "a\x1B[31m", "a\x7F", "a\f", "a\v", "a\u0085b", "a\u009B31m", "a\u0080"}) {
        auto r = validate_body(bad, 100);
        ASSERT_FALSE(r.has_value()) << bad;
        EXPECT_EQ(r.error().code, errc::invalid_field) << bad;
    }
    EXPECT_EQ(validate_body("a\uFDEF", 100).error().code, errc::invalid_field);  // noncharacter
    EXPECT_EQ(validate_body("a\U0001FFFE", 100).error().code, errc::invalid_field);
    // The byte limit counts bytes, not characters.
    std::string accents;
    for (int i = 0; i < 50; ++i) accents += "é";
    EXPECT_TRUE(validate_body(accents, 100).has_value());
    EXPECT_FALSE(validate_body(accents + "é", 100).has_value());
}

// validation.cpp answers ASCII without asking ICU; both must agree.
TEST(validation, ascii_classification_matches_icu) {
    for (UChar32 c = 0; c < 0x80; ++c) {
        bool icu_visible = !u_isUWhiteSpace(c) &&
                           !u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) &&
                           u_charType(c) != U_CONTROL_CHAR && u_charType(c) != U_FORMAT_CHAR;
        std::string one(1, static_cast<char>(c));
        EXPECT_EQ(validate_body(one, 10).has_value(), icu_visible) << c;
        bool icu_control = u_charType(c) == U_CONTROL_CHAR;
        bool allowed_in_body = !icu_control || c == '\t' || c == '\n' || c == '\r';
        EXPECT_EQ(validate_body("x" + one, 10).has_value(), allowed_in_body) << c;
        EXPECT_EQ(normalize_app_name("x" + one + "y").has_value(), !icu_control) << c;
        if (u_isUWhiteSpace(c)) {
            EXPECT_EQ(*normalize_app_name(one + "x" + one), "x") << c;
        }
    }
}

TEST(validation, tokens) {
    EXPECT_TRUE(is_plausible_token("abcdefg"));
    EXPECT_TRUE(is_plausible_token("Ab-_09xyzAb-_09xyzAb-_"));
    EXPECT_FALSE(is_plausible_token(""));
    EXPECT_FALSE(is_plausible_token("a{b}"));
    EXPECT_FALSE(is_plausible_token("a b"));
    EXPECT_FALSE(is_plausible_token(std::string(65, 'a')));
}

TEST(validation, numbers) {
    EXPECT_EQ(*parse_number("1", "chat"), 1u);
    EXPECT_EQ(*parse_number("9007199254740992", "chat"), 9007199254740992u);
    for (auto bad : {"0", "01", "-1", "1.5", "abc", "", "9007199254740993", "99999999999999999999999", " 1"})
        EXPECT_EQ(parse_number(bad, "chat").error().code, errc::bad_request) << bad;
}

TEST(validation, limit_and_after) {
    EXPECT_EQ(*parse_limit(std::nullopt, 20, 100), 20);
    EXPECT_EQ(*parse_limit("100", 20, 100), 100);
    for (auto bad : {"0", "101", "-1", "x", ""}) EXPECT_FALSE(parse_limit(bad, 20, 100).has_value()) << bad;
    EXPECT_EQ(*parse_after(std::nullopt), 0u);
    EXPECT_EQ(*parse_after("42"), 42u);
    EXPECT_FALSE(parse_after("-3").has_value());
}

TEST(validation, idempotency_key) {
    EXPECT_EQ(*validate_idempotency_key("retry-123"), "retry-123");
    EXPECT_FALSE(validate_idempotency_key("").has_value());
    EXPECT_FALSE(validate_idempotency_key("has space").has_value());
    EXPECT_FALSE(validate_idempotency_key(std::string(256, 'k')).has_value());
}
