#include "worker/webhook_events.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>

#include "core/time.hpp"
#include "domain/webhook.hpp"

namespace chat::worker {

namespace json = boost::json;

namespace {

store::webhook_event make(std::uint64_t app_id, std::string kind, std::uint64_t chat, std::int64_t at_ms,
                          json::object data, std::string key) {
    auto body = domain::webhook_body(kind, at_ms, std::move(data));
    return {app_id, std::move(kind), chat, std::move(body), at_ms, std::move(key)};
}

json::value user_or_null(const std::optional<std::string>& u) {
    return u ? json::value(*u) : json::value(nullptr);
}

}  // namespace

store::webhook_event chat_created_event(const domain::chat_created& c) {
    return make(c.app_id, "chat.created", c.number, c.created_at_ms,
                {{"chat_number", c.number},
                 {"created_at", core::iso8601(c.created_at_ms)},
                 {"creator", user_or_null(c.creator)}},
                fmt::format("chat.created:{}:{}", c.app_id, c.number));
}

store::webhook_event message_created_event(const domain::message_created& m) {
    return make(m.app_id, "message.created", m.chat_number, m.created_at_ms,
                {{"chat_number", m.chat_number},
                 {"number", m.number},
                 {"body", m.body},
                 {"sender", user_or_null(m.sender)},
                 {"created_at", core::iso8601(m.created_at_ms)}},
                fmt::format("message.created:{}:{}:{}", m.app_id, m.chat_number, m.number));
}

store::webhook_event message_updated_event(const store::message_key& k, const store::message_state& row) {
    const auto& [app, chat, number] = k;
    return make(app, "message.updated", chat, row.updated_at_ms,
                {{"chat_number", chat},
                 {"number", number},
                 {"body", row.body},
                 {"sender", user_or_null(row.sender)},
                 {"created_at", core::iso8601(row.created_at_ms)},
                 {"edited_at", core::iso8601(row.updated_at_ms)}},
                fmt::format("message.updated:{}:{}:{}:{}", app, chat, number, row.updated_at_ms));
}

store::webhook_event message_deleted_event(const domain::message_deleted& d) {
    return make(d.app_id, "message.deleted", d.chat_number, d.deleted_at_ms,
                {{"chat_number", d.chat_number},
                 {"number", d.number},
                 {"deleted_at", core::iso8601(d.deleted_at_ms)}},
                fmt::format("message.deleted:{}:{}:{}", d.app_id, d.chat_number, d.number));
}

store::webhook_event chat_deleted_event(const domain::chat_deleted& d) {
    return make(d.app_id, "chat.deleted", d.number, d.deleted_at_ms,
                {{"chat_number", d.number}, {"deleted_at", core::iso8601(d.deleted_at_ms)}},
                fmt::format("chat.deleted:{}:{}", d.app_id, d.number));
}

store::webhook_event read_updated_event(const domain::read_marked& r) {
    return make(r.app_id, "read.updated", r.chat_number, r.at_ms,
                {{"chat_number", r.chat_number}, {"user", r.user}, {"last_read", r.number}},
                fmt::format("read.updated:{}:{}:{}:{}", r.app_id, r.chat_number, r.user, r.number));
}

}  // namespace chat::worker
