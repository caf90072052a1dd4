#include "domain/ws_protocol.hpp"

#include <boost/json.hpp>
#include <stdexcept>

#include "domain/validation.hpp"

namespace chat::domain {

namespace json = boost::json;
using core::errc;
using core::make_error;

namespace {

constexpr std::uint64_t max_number = 1ULL << 53;  // as in paths: exact in a JSON double

// A JSON integer in 0..2^53 (a float such as 1.0 is not one).
std::optional<std::uint64_t> integer(const json::value& v) {
    if (v.is_uint64() && v.get_uint64() <= max_number) return v.get_uint64();
    if (v.is_int64() && v.get_int64() >= 0 && static_cast<std::uint64_t>(v.get_int64()) <= max_number)
        return static_cast<std::uint64_t>(v.get_int64());
    return std::nullopt;
}

ws_refusal refusal(errc code, std::string message, std::string_view command,
                   std::optional<std::uint64_t> chat = std::nullopt) {
    return ws_refusal{make_error(code, std::move(message)), std::string(command), chat, std::nullopt};
}

ws_result<std::uint64_t> chat_of(const json::object& args, std::string_view command) {
    const auto* v = args.if_contains("chat");
    if (!v) return refusal(errc::invalid_field, "chat is required", command);
    auto n = integer(*v);
    if (!n || *n == 0) return refusal(errc::invalid_field, "chat must be a positive integer", command);
    return *n;
}

ws_result<ws_command> subscribe_of(const json::object& args) {
    auto chat = chat_of(args, "subscribe");
    if (!chat) return chat.error();
    ws_subscribe s{*chat, std::nullopt};
    if (const auto* v = args.if_contains("after"); v && !v->is_null()) {
        s.after = integer(*v);
        if (!s.after)
            return refusal(errc::invalid_field, "after must be a non-negative integer", "subscribe", *chat);
    }
    return ws_command{s};
}

ws_result<ws_command> unsubscribe_of(const json::object& args) {
    auto chat = chat_of(args, "unsubscribe");
    if (!chat) return chat.error();
    return ws_command{ws_unsubscribe{*chat}};
}

ws_result<ws_command> send_of(const json::object& args, std::size_t max_body_bytes) {
    auto chat = chat_of(args, "send");
    if (!chat) return chat.error();
    // The key first: once it is known, every later refusal can name it.
    const auto* key = args.if_contains("key");
    if (!key || !key->is_string())
        return refusal(errc::invalid_field, "key is required (a string: the message's idempotency key)",
                       "send", *chat);
    auto k = validate_idempotency_key(key->get_string());
    if (!k) return ws_refusal{k.error(), "send", *chat, std::nullopt};
    ws_refusal with_key{{}, "send", *chat, *k};
    const auto* body = args.if_contains("body");
    if (!body) body = args.if_contains("content");  // the HTTP API's other name for it
    if (!body || !body->is_string()) {
        with_key.error = make_error(errc::invalid_field, "body is required (a string)");
        return with_key;
    }
    auto text = validate_body(body->get_string(), max_body_bytes);
    if (!text) {
        with_key.error = text.error();
        return with_key;
    }
    return ws_command{ws_send{*chat, std::move(*text), std::move(*k)}};
}

}  // namespace

ws_result<ws_command> parse_ws_frame(std::string_view text, std::size_t max_body_bytes) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec) return refusal(errc::bad_request, "frame is not valid JSON", "");
    const auto* o = v.if_object();
    if (!o || o->size() != 1)
        return refusal(errc::bad_request,
                       "a frame is an object with one member: subscribe, unsubscribe or send", "");
    const auto& [name, value] = *o->begin();
    std::string_view command = name;
    if (command != "subscribe" && command != "unsubscribe" && command != "send")
        return refusal(errc::bad_request, "unknown command: use subscribe, unsubscribe or send", "");
    const auto* args = value.if_object();
    if (!args) return refusal(errc::bad_request, std::string(command) + " takes an object", command);
    if (command == "subscribe") return subscribe_of(*args);
    if (command == "unsubscribe") return unsubscribe_of(*args);
    return send_of(*args, max_body_bytes);
}

ws_refusal ws_refused(errc code, std::string message, std::string command,
                      std::optional<std::uint64_t> chat) {
    return ws_refusal{make_error(code, std::move(message)), std::move(command), chat, std::nullopt};
}

std::string ws_error_frame(const ws_refusal& r) {
    json::object o{{"error", {{"code", core::code_name(r.error.code)}, {"message", r.error.message}}}};
    if (!r.command.empty()) o["command"] = r.command;
    if (r.chat) o["chat"] = *r.chat;
    if (r.key) o["key"] = *r.key;
    if (r.error.code == errc::rate_limited) o["retry_after"] = std::max(1, r.error.retry_after_s);
    return json::serialize(o);
}

std::string ws_subscribed_frame(std::uint64_t chat, std::optional<std::uint64_t> after) {
    json::object inner{{"chat", chat}};
    inner["after"] = after ? json::value(*after) : json::value(nullptr);
    return json::serialize(json::object{{"subscribed", std::move(inner)}});
}

std::string ws_unsubscribed_frame(std::uint64_t chat) {
    return json::serialize(json::object{{"unsubscribed", {{"chat", chat}}}});
}

std::string ws_sent_frame(std::uint64_t chat, std::uint64_t number, std::string_view key, bool replayed) {
    return json::serialize(
        json::object{{"sent", {{"chat", chat}, {"number", number}, {"key", key}, {"replayed", replayed}}}});
}

void throw_exception_from_error(const ws_refusal& r, const boost::source_location&) {
    throw std::runtime_error(std::string(core::code_name(r.error.code)) + ": " + r.error.message);
}

}  // namespace chat::domain
