// The input rules of the API over arbitrary bytes: JSON bodies as the handlers parse them, names,
// message bodies, numbers, limits, cursors and idempotency keys. Nothing crashes, and what a rule
// accepts holds the rule's promise (valid UTF-8, bounded, canonical numbers).
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "domain/validation.hpp"

namespace d = chat::domain;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    boost::system::error_code ec;
    auto v = boost::json::parse(in, ec);
    if (!ec && v.is_object()) {
        for (auto name : {"name", "body", "content"}) {
            if (auto* f = v.as_object().if_contains(name); f && f->is_string()) {
                std::string_view s = f->as_string();
                if (auto n = d::normalize_app_name(s)) {
                    if (n->empty() || !d::is_valid_utf8(*n) || d::utf8_length(*n) > d::max_name_chars)
                        std::abort();
                }
                if (auto b = d::validate_body(s, 10000); b && (b->size() > 10000 || !d::is_valid_utf8(*b)))
                    std::abort();
            }
        }
    }
    if (auto n = d::normalize_app_name(in); n && !d::is_valid_utf8(*n)) std::abort();
    (void)d::validate_body(in, 10000);
    if (auto num = d::parse_number(in, "n"); num && (*num == 0 || std::to_string(*num) != in)) std::abort();
    (void)d::parse_limit(in, 20, 100);
    (void)d::parse_after(in);
    (void)d::is_plausible_token(in);
    if (auto k = d::validate_idempotency_key(in);
        k && (k->empty() || k->size() > d::max_idempotency_key_chars))
        std::abort();
    return 0;
}
