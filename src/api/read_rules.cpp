#include "api/read_rules.hpp"

#include "domain/creation.hpp"

namespace chat::api {

using core::errc;
using core::make_error;

namespace {
core::error chat_not_found() {
    return make_error(errc::not_found, "chat not found");
}
core::error message_gone() {
    return make_error(errc::gone, "message was deleted");
}
}  // namespace

core::result<store::chat_row> read_chat(read_port& port, std::uint64_t chat) {
    auto row = port.stored_chat(chat);
    if (!row) return row.error();
    // Redis knows of a deletion as soon as it is acknowledged, MariaDB once the worker stored it. (With
    // Redis away, a stored chat is still read: MariaDB's answer stands.)
    auto meta = port.registered_chat(chat);
    const bool deleted_in_redis = meta && *meta && (*meta)->deleted_at_ms;
    if (*row) {
        if ((*row)->deleted_at_ms || deleted_in_redis) return chat_not_found();
        return **row;
    }
    if (!meta) return meta.error();
    if (deleted_in_redis) return chat_not_found();
    // Acknowledged but not stored yet: Redis knows it (read-your-writes).
    if (*meta) return store::chat_row{chat, 0, (*meta)->created_at_ms, (*meta)->created_at_ms};
    // Not even registered (Redis was away after the confirm): the handed-out mark knows the number but
    // not whether its creation was acknowledged, so the honest answer is "retry", not 200 or 404.
    auto handed_out = port.chat_handed_out(chat);
    if (!handed_out) return handed_out.error();
    if (*handed_out) return make_error(errc::unavailable, "chat is still being created; retry shortly");
    return chat_not_found();
}

std::optional<core::error> chat_absence(read_port& port, std::uint64_t chat) {
    auto found = read_chat(port, chat);
    if (found) return std::nullopt;
    return found.error();
}

core::result<store::message_row> read_message(read_port& port, std::uint64_t chat, std::uint64_t number,
                                              std::int64_t now_ms) {
    auto row = port.stored_message(chat, number);
    if (!row) return row.error();
    auto marks = port.deletions(chat, number);
    if (!marks) return marks.error();
    if (marks->chat_deleted) return chat_not_found();
    if (marks->messages.count(number) || (*row && (*row)->deleted())) return message_gone();
    if (*row) return **row;
    auto pending = port.pending_entry(chat, number);
    if (!pending) return pending.error();
    auto seen = domain::read_pending(*pending, now_ms);
    if (seen.message)
        return store::message_row{chat,
                                  number,
                                  std::move(seen.message->body),
                                  seen.message->created_at_ms,
                                  seen.message->created_at_ms,
                                  std::move(seen.message->sender)};
    // The worker commits a message, then clears its pending entry: if it did both between our two
    // reads, the row is committed now. (Found by chat_load at 9,600 reads/s.)
    row = port.stored_message(chat, number);
    if (!row) return row.error();
    if (*row) {
        if ((*row)->deleted()) return message_gone();
        return **row;
    }
    if (seen.state == domain::pending_state::being_created)
        return make_error(errc::unavailable, "message is still being stored; retry shortly");
    return make_error(errc::not_found, "message not found");
}

store::message_row tombstone_of(store::message_row row, std::int64_t deleted_at_ms) {
    row.body.clear();
    row.deleted_at_ms = row.deleted_at_ms.value_or(deleted_at_ms);
    return row;
}

void as_listed(std::vector<store::message_row>& rows, const store::deletion_marks& marks) {
    for (auto& r : rows) {
        if (auto it = marks.messages.find(r.number); it != marks.messages.end())
            r = tombstone_of(std::move(r), it->second);
        if (r.deleted()) r.body.clear();
    }
}

}  // namespace chat::api
