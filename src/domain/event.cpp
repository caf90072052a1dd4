#include "domain/event.hpp"

#include <boost/json.hpp>

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

struct encoder {
    json::object operator()(const chat_created& e) const {
        json::object o{
            {"type", "chat.created"}, {"app_id", e.app_id},           {"token", e.token},
            {"number", e.number},     {"creation_id", e.creation_id}, {"created_at", e.created_at_ms}};
        put_request_id(o, e.request_id);
        return o;
    }
    json::object operator()(const message_created& e) const {
        json::object o{{"type", "message.created"},    {"app_id", e.app_id},           {"token", e.token},
                       {"chat_number", e.chat_number}, {"number", e.number},           {"body", e.body},
                       {"creation_id", e.creation_id}, {"created_at", e.created_at_ms}};
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
    } else if (const auto* m = std::get_if<message_created>(&e)) {
        if (m->app_id == 0 || m->chat_number == 0 || m->number == 0) return "ids must be positive";
        if (!is_plausible_token(m->token)) return "malformed token";
        if (!is_creation_id(m->creation_id)) return "malformed creation id";
        if (!is_valid_utf8(m->body) || m->body.empty() || m->body.size() > 65535) return "invalid body";
    } else if (const auto* ed = std::get_if<message_edited>(&e)) {
        if (ed->app_id == 0 || ed->chat_number == 0 || ed->number == 0) return "ids must be positive";
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
        out = chat_created{f.u64("app_id"),      f.str("token"),      f.u64("number"),
                           f.str("creation_id"), f.i64("created_at"), f.optional_str("request_id")};
    } else if (type == "message.created") {
        out = message_created{
            f.u64("app_id"), f.str("token"),       f.u64("chat_number"), f.u64("number"),
            f.str("body"),   f.str("creation_id"), f.i64("created_at"),  f.optional_str("request_id")};
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
