#include "domain/validation.hpp"

#include <charconv>

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
bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

bool has_control_chars(std::string_view s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7F) return true;
    return false;
}
}  // namespace

result<std::string> normalize_app_name(std::string_view raw) {
    if (!is_valid_utf8(raw)) return make_error(errc::invalid_field, "name must be valid UTF-8");
    auto name = trim(raw);
    if (name.empty()) return make_error(errc::invalid_field, "name must not be empty");
    if (utf8_length(name) > max_name_chars)
        return make_error(errc::invalid_field, "name must be at most 255 characters");
    if (has_control_chars(name))
        return make_error(errc::invalid_field, "name must not contain control characters");
    return std::string(name);
}

result<std::string> validate_body(std::string_view raw, std::size_t max_bytes) {
    if (!is_valid_utf8(raw)) return make_error(errc::invalid_field, "body must be valid UTF-8");
    if (trim(raw).empty()) return make_error(errc::invalid_field, "body must not be empty");
    if (raw.size() > max_bytes)
        return make_error(errc::invalid_field,
                          "body must be at most " + std::to_string(max_bytes) + " bytes");
    return std::string(raw);
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

result<std::string> validate_idempotency_key(std::string_view raw) {
    if (raw.empty() || raw.size() > max_idempotency_key_chars)
        return make_error(errc::bad_request, "Idempotency-Key must be 1..255 characters");
    for (unsigned char c : raw)
        if (c < 0x21 || c > 0x7E)
            return make_error(errc::bad_request, "Idempotency-Key must be visible ASCII characters");
    return std::string(raw);
}

}  // namespace chat::domain
