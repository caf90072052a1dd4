#include "domain/event.hpp"

#include <boost/json.hpp>

#include "domain/access.hpp"
#include "domain/validation.hpp"

namespace chat::domain {

namespace json = boost::json;
using core::errc;
using core::make_error;

namespace {

// The request id is optional on the wire: events queued by older servers have none.
void put_request_id(json::object& o, const std::string& id) {
    if (!id.empty()) o["request_id"] = id;
}
// A user (creator, sender) is on the wire only when there is one: events without are what older
// servers wrote, and mean "none".
void put_user(json::object& o, std::string_view name, const std::optional<std::string>& user) {
    if (user) o[name] = *user;
}

struct encoder {
    json::object operator()(const chat_created& e) const {
        json::object o{
            {"type", "chat.created"}, {"app_id", e.app_id},           {"token", e.token},
            {"number", e.number},     {"creation_id", e.creation_id}, {"created_at", e.created_at_ms}};
        put_request_id(o, e.request_id);
        put_user(o, "creator", e.creator);
        return o;
    }
    json::object operator()(const message_created& e) const {
        json::object o{{"type", "message.created"},    {"app_id", e.app_id},           {"token", e.token},
                       {"chat_number", e.chat_number}, {"number", e.number},           {"body", e.body},
                       {"creation_id", e.creation_id}, {"created_at", e.created_at_ms}};
        put_request_id(o, e.request_id);
        put_user(o, "sender", e.sender);
        return o;
    }
    json::object operator()(const message_deleted& e) const {
        json::object o{{"type", "message.deleted"},    {"app_id", e.app_id}, {"token", e.token},
                       {"chat_number", e.chat_number}, {"number", e.number}, {"deleted_at", e.deleted_at_ms}};
        if (e.created_at_ms > 0) o["created_at"] = e.created_at_ms;
        put_request_id(o, e.request_id);
        return o;
    }
    json::object operator()(const chat_deleted& e) const {
        json::object o{{"type", "chat.deleted"},
                       {"app_id", e.app_id},
                       {"token", e.token},
                       {"number", e.number},
                       {"deleted_at", e.deleted_at_ms}};
        put_request_id(o, e.request_id);
        return o;
    }
    json::object operator()(const user_erased& e) const {
        json::object o{{"type", "user.erased"},
                       {"app_id", e.app_id},
                       {"token", e.token},
                       {"user", e.user},
                       {"requested_at", e.requested_at_ms}};
        put_request_id(o, e.request_id);
        return o;
    }
    json::object operator()(const read_marked& e) const {
        json::object o{{"type", "read.updated"}, {"app_id", e.app_id},
                       {"token", e.token},       {"chat_number", e.chat_number},
                       {"user", e.user},         {"number", e.number},
                       {"at", e.at_ms}};
        put_request_id(o, e.request_id);
        return o;
    }
    json::object operator()(const message_edited& e) const {
        json::object o{{"type", "message.edited"},
                       {"app_id", e.app_id},
                       {"chat_number", e.chat_number},
                       {"number", e.number}};
        put_request_id(o, e.request_id);
        return o;
    }
};

// Field readers that fail softly: a malformed event is a poison message, not a crash.
struct fields {
    const json::object& o;
    bool ok = true;

    std::uint64_t u64(std::string_view k) {
        auto* v = o.if_contains(k);
        if (v && v->is_uint64()) return v->as_uint64();
        if (v && v->is_int64() && v->as_int64() >= 0) return static_cast<std::uint64_t>(v->as_int64());
        ok = false;
        return 0;
    }
    std::int64_t i64(std::string_view k) {
        auto* v = o.if_contains(k);
        if (v && v->is_int64()) return v->as_int64();
        if (v && v->is_uint64()) return static_cast<std::int64_t>(v->as_uint64());
        ok = false;
        return 0;
    }
    // An optional short string; anything else is ignored rather than poisoning the event.
    std::string optional_str(std::string_view k) {
        auto* v = o.if_contains(k);
        if (v && v->is_string() && v->as_string().size() <= 128) return std::string(v->as_string());
        return {};
    }
    // An optional time (0 when absent or not a number).
    std::int64_t optional_i64(std::string_view k) {
        auto* v = o.if_contains(k);
        if (v && v->is_int64() && v->as_int64() > 0) return v->as_int64();
        return 0;
    }
    // An optional user id: absent is none; present, it must be a string (checked further by check()).
    std::optional<std::string> optional_user(std::string_view k) {
        auto* v = o.if_contains(k);
        if (v == nullptr || v->is_null()) return std::nullopt;
        if (v->is_string()) return std::string(v->as_string());
        ok = false;
        return std::nullopt;
    }
    std::string str(std::string_view k) {
        auto* v = o.if_contains(k);
        if (v && v->is_string()) return std::string(v->as_string());
        ok = false;
        return {};
    }
};

bool is_creation_id(const std::string& s) {
    return s.size() == 32 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

// What the worker relies on before any of it reaches SQL text or a Redis key.
std::string check(const event& e) {
    if (const auto* c = std::get_if<chat_created>(&e)) {
        if (c->app_id == 0 || c->number == 0) return "ids must be positive";
        if (!is_plausible_token(c->token)) return "malformed token";
        if (!is_creation_id(c->creation_id)) return "malformed creation id";
        if (c->creator && !validate_user_id(*c->creator)) return "malformed creator";
    } else if (const auto* m = std::get_if<message_created>(&e)) {
        if (m->app_id == 0 || m->chat_number == 0 || m->number == 0) return "ids must be positive";
        if (!is_plausible_token(m->token)) return "malformed token";
        if (!is_creation_id(m->creation_id)) return "malformed creation id";
        if (!is_valid_utf8(m->body) || m->body.empty() || m->body.size() > 65535) return "invalid body";
        if (m->sender && !validate_user_id(*m->sender)) return "malformed sender";
    } else if (const auto* ed = std::get_if<message_edited>(&e)) {
        if (ed->app_id == 0 || ed->chat_number == 0 || ed->number == 0) return "ids must be positive";
    } else if (const auto* d = std::get_if<message_deleted>(&e)) {
        if (d->app_id == 0 || d->chat_number == 0 || d->number == 0) return "ids must be positive";
        if (!is_plausible_token(d->token)) return "malformed token";
    } else if (const auto* cd = std::get_if<chat_deleted>(&e)) {
        if (cd->app_id == 0 || cd->number == 0) return "ids must be positive";
        if (!is_plausible_token(cd->token)) return "malformed token";
    } else if (const auto* u = std::get_if<user_erased>(&e)) {
        if (u->app_id == 0) return "ids must be positive";
        if (!is_plausible_token(u->token)) return "malformed token";
        if (!validate_user_id(u->user)) return "malformed user";
    } else if (const auto* r = std::get_if<read_marked>(&e)) {
        if (r->app_id == 0 || r->chat_number == 0) return "ids must be positive";
        if (!is_plausible_token(r->token)) return "malformed token";
        if (!validate_user_id(r->user)) return "malformed user";
    }
    return {};
}

}  // namespace

const std::string& request_id(const event& e) {
    return std::visit([](const auto& x) -> const std::string& { return x.request_id; }, e);
}

std::string encode(const event& e) {
    return json::serialize(std::visit(encoder{}, e));
}

core::result<event> decode(std::string_view text) {
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return make_error(errc::bad_request, "event is not a JSON object");
    const auto& o = v.as_object();
    fields f{o};
    std::string type = f.str("type");
    if (!f.ok) return make_error(errc::bad_request, "event has no type");
    event out;
    if (type == "chat.created") {
        out = chat_created{f.u64("app_id"),           f.str("token"),      f.u64("number"),
                           f.str("creation_id"),      f.i64("created_at"), f.optional_str("request_id"),
                           f.optional_user("creator")};
    } else if (type == "message.created") {
        out = message_created{f.u64("app_id"),
                              f.str("token"),
                              f.u64("chat_number"),
                              f.u64("number"),
                              f.str("body"),
                              f.str("creation_id"),
                              f.i64("created_at"),
                              f.optional_str("request_id"),
                              f.optional_user("sender")};
    } else if (type == "message.deleted") {
        out = message_deleted{f.u64("app_id"),
                              f.str("token"),
                              f.u64("chat_number"),
                              f.u64("number"),
                              f.i64("deleted_at"),
                              f.optional_str("request_id"),
                              f.optional_i64("created_at")};
    } else if (type == "chat.deleted") {
        out = chat_deleted{f.u64("app_id"), f.str("token"), f.u64("number"), f.i64("deleted_at"),
                           f.optional_str("request_id")};
    } else if (type == "user.erased") {
        out = user_erased{f.u64("app_id"), f.str("token"), f.str("user"), f.i64("requested_at"),
                          f.optional_str("request_id")};
    } else if (type == "read.updated") {
        out = read_marked{f.u64("app_id"), f.str("token"), f.u64("chat_number"),        f.str("user"),
                          f.u64("number"), f.i64("at"),    f.optional_str("request_id")};
    } else if (type == "message.edited") {
        out = message_edited{f.u64("app_id"), f.u64("chat_number"), f.u64("number"),
                             f.optional_str("request_id")};
    } else {
        return make_error(errc::bad_request, "unknown event type '" + type + "'");
    }
    if (!f.ok)
        return make_error(errc::bad_request, "event '" + type + "' misses a field or has a wrong type");
    if (auto bad = check(out); !bad.empty())
        return make_error(errc::bad_request, "event '" + type + "': " + bad);
    return out;
}

}  // namespace chat::domain

namespace chat::domain {

namespace {

constexpr std::string_view envelope_prefix = "chat.envelope/";

// A decimal number without sign or leading zero, at `pos`, ended by '\n'; advances past the '\n'.
// Refuses more than 19 digits, so it never overflows.
bool read_count(std::string_view s, std::size_t& pos, std::uint64_t& out) {
    std::size_t start = pos;
    std::uint64_t v = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (pos - start >= 19) return false;
        v = v * 10 + static_cast<std::uint64_t>(s[pos] - '0');
        ++pos;
    }
    std::size_t digits = pos - start;
    if (digits == 0 || (digits > 1 && s[start] == '0')) return false;
    if (pos >= s.size() || s[pos] != '\n') return false;
    ++pos;
    out = v;
    return true;
}

}  // namespace

bool is_envelope(std::string_view body) {
    return body.starts_with(envelope_prefix);
}

std::string encode_envelope(const std::vector<std::string_view>& event_jsons) {
    std::size_t size = envelope_magic.size() + 24;
    for (auto j : event_jsons) size += j.size() + 22;
    std::string out;
    out.reserve(size);
    out += envelope_magic;
    out += std::to_string(event_jsons.size());
    out += '\n';
    for (auto j : event_jsons) {
        out += std::to_string(j.size());
        out += '\n';
        out += j;
        out += '\n';
    }
    return out;
}

core::result<std::vector<delivery_item>> decode_delivery(std::string_view body) {
    std::vector<delivery_item> items;
    if (!is_envelope(body)) {
        // The old format: the message is one event.
        items.push_back({std::string(body), decode(body)});
        return items;
    }
    if (!body.starts_with(envelope_magic))
        return make_error(errc::bad_request, "unsupported envelope version");
    std::size_t pos = envelope_magic.size();
    std::uint64_t count = 0;
    if (!read_count(body, pos, count)) return make_error(errc::bad_request, "envelope header is malformed");
    if (count > max_decoded_envelope_events)
        return make_error(errc::bad_request, "envelope claims " + std::to_string(count) +
                                                 " events, more than " +
                                                 std::to_string(max_decoded_envelope_events));
    // Each item takes at least 3 bytes ("0\n\n"): a count the body cannot hold is refused before
    // anything is reserved for it.
    if (count > (body.size() - pos) / 3)
        return make_error(errc::bad_request, "envelope is shorter than its count says");
    items.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t k = 0; k < count; ++k) {
        std::uint64_t len = 0;
        if (!read_count(body, pos, len))
            return make_error(errc::bad_request,
                              "envelope item " + std::to_string(k + 1) + " has a malformed length");
        if (len >= body.size() - pos || body[pos + len] != '\n')
            return make_error(errc::bad_request,
                              "envelope item " + std::to_string(k + 1) + " runs past its length");
        auto json = body.substr(pos, static_cast<std::size_t>(len));
        pos += static_cast<std::size_t>(len) + 1;
        items.push_back({std::string(json), decode(json)});
    }
    if (pos != body.size()) return make_error(errc::bad_request, "envelope has bytes after its last item");
    return items;
}

}  // namespace chat::domain
