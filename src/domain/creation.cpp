#include "domain/creation.hpp"

#include <boost/json.hpp>
#include <charconv>

namespace chat::domain {

namespace json = boost::json;

std::string encode(const placeholder& p) {
    return "@" + std::to_string(p.handed_out_at_ms);
}

std::string encode(const acknowledged& a) {
    json::object o{{"body", a.body}, {"created_at", a.created_at_ms}};
    if (a.sender) o["sender"] = *a.sender;
    return json::serialize(o);
}

std::optional<pending_entry> parse_pending(std::string_view text) {
    if (!text.empty() && text.front() == '@') {
        text.remove_prefix(1);
        std::int64_t at = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), at);
        if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
        return placeholder{at};
    }
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto& o = v.as_object();
    const auto* body = o.if_contains("body");
    const auto* at = o.if_contains("created_at");
    if (!body || !body->is_string() || !at || !at->is_int64()) return std::nullopt;
    acknowledged a{std::string(body->as_string()), at->as_int64()};
    if (const auto* sender = o.if_contains("sender"); sender && sender->is_string())
        a.sender = std::string(sender->as_string());
    return a;
}

pending_read read_pending(const std::optional<std::string>& entry, std::int64_t now_ms) {
    if (!entry) return {};
    auto parsed = parse_pending(*entry);
    if (!parsed) return {pending_state::being_created, std::nullopt};
    if (auto* a = std::get_if<acknowledged>(&*parsed)) return {pending_state::acknowledged, std::move(*a)};
    if (still_being_created(std::get<placeholder>(*parsed).handed_out_at_ms, now_ms))
        return {pending_state::being_created, std::nullopt};
    return {};
}

}  // namespace chat::domain
