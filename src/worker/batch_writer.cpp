#include "worker/batch_writer.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <tuple>

#include "core/metrics.hpp"
#include "core/time.hpp"

namespace chat::worker {

using core::errc;
using core::make_error;
using core::sql_datetime;

namespace {

using chat_key = std::pair<std::uint64_t, std::uint64_t>;                     // app, number
using message_key = std::tuple<std::uint64_t, std::uint64_t, std::uint64_t>;  // app, chat, number

struct stored_message {
    std::string creation_id;
    std::string body;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
    std::optional<std::string> sender;
};

}  // namespace

core::result<batch_outcome> batch_writer::write(const std::vector<domain::event>& events) {
    std::vector<store::message_doc> docs;
    auto outcome = write_sql(events, docs);
    if (!outcome) {
        db_.disconnect();  // a failed transaction may leave the session in any state
        return outcome.error();
    }
    if (docs.empty()) return outcome;
    if (health_.should_try()) {
        auto indexed = es_.bulk_index(docs);
        if (indexed) {
            outcome->indexed = docs.size();
            return outcome;
        }
        health_.failed();
        spdlog::warn("search index not written, left to the catch-up: {}", indexed.error().message);
    }
    // Stored but not indexed: recorded before the delivery is acknowledged, so a crash in between
    // only means a redelivery that stores (nothing new) and indexes again.
    std::vector<store::outbox_key> keys;
    keys.reserve(docs.size());
    for (const auto& d : docs) keys.push_back({d.app_id, d.chat_number, d.number});
    if (auto ok = outbox_.record(keys, core::now_ms()); !ok) {
        db_.disconnect();
        return ok.error();
    }
    core::metrics::index_deferred(docs.size());
    outcome->deferred = docs.size();
    return outcome;
}

core::result<batch_outcome> batch_writer::write_sql(const std::vector<domain::event>& events,
                                                    std::vector<store::message_doc>& docs) {
    batch_outcome out;
    std::string chat_values, message_values, chat_keys, message_keys;
    // A user id quoted for SQL, or NULL.
    auto quoted_user = [&](const std::optional<std::string>& user) -> core::result<std::string> {
        if (!user) return std::string("NULL");
        return db_.quote(*user);
    };
    for (const auto& ev : events) {
        if (const auto* c = std::get_if<domain::chat_created>(&ev)) {
            auto at = sql_datetime(c->created_at_ms);
            auto creator = quoted_user(c->creator);
            if (!creator) return creator.error();
            chat_values += fmt::format("{}({}, {}, '{}', '{}', '{}', {})", chat_values.empty() ? "" : ",",
                                       c->app_id, c->number, c->creation_id, at, at, *creator);
            chat_keys += fmt::format("{}({}, {})", chat_keys.empty() ? "" : ",", c->app_id, c->number);
        } else if (const auto* m = std::get_if<domain::message_created>(&ev)) {
            auto body = db_.quote(m->body);
            if (!body) return body.error();
            auto sender = quoted_user(m->sender);
            if (!sender) return sender.error();
            auto at = sql_datetime(m->created_at_ms);
            message_values +=
                fmt::format("{}({}, {}, {}, {}, '{}', '{}', '{}', {})", message_values.empty() ? "" : ",",
                            m->app_id, m->chat_number, m->number, *body, m->creation_id, at, at, *sender);
            message_keys += fmt::format("{}({}, {}, {})", message_keys.empty() ? "" : ",", m->app_id,
                                        m->chat_number, m->number);
        } else if (const auto* e = std::get_if<domain::message_edited>(&ev)) {
            message_keys += fmt::format("{}({}, {}, {})", message_keys.empty() ? "" : ",", e->app_id,
                                        e->chat_number, e->number);
        }
    }
    store::transaction tx(db_);
    if (auto ok = tx.begin(); !ok) return ok.error();
    if (!chat_values.empty()) {
        auto r = db_.execute(
            "INSERT INTO chats (application_id, number, creation_id, created_at, updated_at, creator) "
            "VALUES " +
            chat_values + " ON DUPLICATE KEY UPDATE number = number");
        if (!r) return r.error();
    }
    if (!message_values.empty()) {
        auto r = db_.execute(
            "INSERT INTO messages (application_id, chat_number, number, body, creation_id, created_at, "
            "updated_at, sender) "
            "VALUES " +
            message_values + " ON DUPLICATE KEY UPDATE number = number");
        if (!r) return r.error();
    }
    std::map<chat_key, std::string> stored_chats;
    if (!chat_keys.empty()) {
        auto rows = db_.query(
            "SELECT application_id, number, creation_id FROM chats WHERE (application_id, number) IN (" +
            chat_keys + ")");
        if (!rows) return rows.error();
        for (const auto& r : *rows)
            stored_chats[{store::to_u64(r[0]), store::to_u64(r[1])}] = r[2].value_or("");
    }
    std::map<message_key, stored_message> stored_messages;
    if (!message_keys.empty()) {
        auto rows = db_.query(
            "SELECT application_id, chat_number, number, creation_id, body, created_at, updated_at, sender "
            "FROM messages "
            "WHERE (application_id, chat_number, number) IN (" +
            message_keys + ")");
        if (!rows) return rows.error();
        for (const auto& r : *rows)
            stored_messages[{store::to_u64(r[0]), store::to_u64(r[1]), store::to_u64(r[2])}] = stored_message{
                r[3].value_or(""), r[4].value_or(""), core::parse_sql_datetime(r[5].value_or("")),
                core::parse_sql_datetime(r[6].value_or("")), r[7]};
    }

    std::string marks, members;
    auto mark = [&](std::uint64_t app, std::uint64_t chat) {
        marks += fmt::format("{}({}, {})", marks.empty() ? "" : ",", app, chat);
    };
    std::map<message_key, bool> indexed;
    for (std::size_t i = 0; i < events.size(); ++i) {
        const auto& ev = events[i];
        if (const auto* c = std::get_if<domain::chat_created>(&ev)) {
            auto it = stored_chats.find({c->app_id, c->number});
            if (it == stored_chats.end() || it->second != c->creation_id) {
                out.rejected.push_back(
                    {i, fmt::format("number conflict: chat {} of application {} is stored by "
                                    "another creation",
                                    c->number, c->app_id)});
                continue;
            }
            out.stored_chats.push_back(*c);
            if (c->creator) {
                // The creator is the first member (an earlier removal's row stays as it is).
                auto user = db_.quote(*c->creator);
                if (!user) return user.error();
                auto at = sql_datetime(c->created_at_ms);
                members += fmt::format("{}({}, {}, {}, 1, '{}', '{}')", members.empty() ? "" : ",", c->app_id,
                                       c->number, *user, at, at);
            }
            mark(c->app_id, 0);          // the application's chats_count
            mark(c->app_id, c->number);  // its messages may have been stored before it
        } else if (const auto* m = std::get_if<domain::message_created>(&ev)) {
            message_key k{m->app_id, m->chat_number, m->number};
            auto it = stored_messages.find(k);
            if (it == stored_messages.end() || it->second.creation_id != m->creation_id) {
                out.rejected.push_back(
                    {i, fmt::format("number conflict: message {} of chat {} of application {} "
                                    "is stored by another creation",
                                    m->number, m->chat_number, m->app_id)});
                continue;
            }
            out.stored_messages.push_back({m->token, m->chat_number, m->number});
            mark(m->app_id, m->chat_number);
            if (!indexed[k]) {
                indexed[k] = true;
                const auto& s = it->second;
                docs.push_back({m->app_id, m->chat_number, m->number, s.body, s.created_at_ms,
                                s.updated_at_ms, s.sender});
            }
        } else if (const auto* e = std::get_if<domain::message_edited>(&ev)) {
            message_key k{e->app_id, e->chat_number, e->number};
            auto it = stored_messages.find(k);
            if (it == stored_messages.end()) {
                out.rejected.push_back({i, "edited message is not stored"});
                continue;
            }
            if (!indexed[k]) {
                indexed[k] = true;
                const auto& s = it->second;
                docs.push_back({e->app_id, e->chat_number, e->number, s.body, s.created_at_ms,
                                s.updated_at_ms, s.sender});
            }
        }
    }
    if (!members.empty()) {
        auto r = db_.execute(
            "INSERT INTO chat_members (application_id, chat_number, user_id, member, added_at, updated_at) "
            "VALUES " +
            members + " ON DUPLICATE KEY UPDATE member = member");
        if (!r) return r.error();
    }
    if (!marks.empty()) {
        auto r = db_.execute("INSERT INTO count_marks (application_id, chat_number) VALUES " + marks +
                             " ON DUPLICATE KEY UPDATE version = version + 1");
        if (!r) return r.error();
    }
    if (auto ok = tx.commit(); !ok) return ok.error();
    return out;
}

}  // namespace chat::worker
