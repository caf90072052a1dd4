#include "domain/live.hpp"

#include <boost/json.hpp>

namespace chat::domain {

namespace json = boost::json;
using core::errc;
using core::make_error;

std::string_view event_name(live_kind k) {
    switch (k) {
        case live_kind::created:
            return "message.created";
        case live_kind::updated:
            return "message.updated";
        case live_kind::deleted:
            return "message.deleted";
        case live_kind::read:
            return "read.updated";
        case live_kind::chat_deleted:
            break;
    }
    return "chat.deleted";
}

std::string encode(const live_event& e) {
    json::object o{{"event", event_name(e.kind)},  {"token", e.token}, {"chat", e.chat},
                   {"number", e.number},           {"body", e.body},   {"created_at", e.created_at_ms},
                   {"updated_at", e.updated_at_ms}};
    if (e.sender) o["sender"] = *e.sender;
    if (e.deleted_at_ms) o["deleted_at"] = *e.deleted_at_ms;
    if (e.version != 1) o["version"] = e.version;
    if (e.edited_at_ms) o["edited_at"] = *e.edited_at_ms;
    return json::serialize(o);
}

namespace {

std::optional<std::uint64_t> u64(const json::object& o, std::string_view k) {
    const auto* v = o.if_contains(k);
    if (v && v->is_uint64()) return v->get_uint64();
    if (v && v->is_int64() && v->get_int64() >= 0) return static_cast<std::uint64_t>(v->get_int64());
    return std::nullopt;
}

std::optional<std::int64_t> i64(const json::object& o, std::string_view k) {
    const auto* v = o.if_contains(k);
    if (v && v->is_int64()) return v->get_int64();
    if (v && v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX))
        return static_cast<std::int64_t>(v->get_uint64());
    return std::nullopt;
}

const json::string* str(const json::object& o, std::string_view k) {
    const auto* v = o.if_contains(k);
    return v ? v->if_string() : nullptr;
}

}  // namespace

core::result<live_event> decode_live(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    const auto* o = ec ? nullptr : v.if_object();
    if (!o) return make_error(errc::bad_request, "live event is not a JSON object");
    live_event e;
    const auto* kind = str(*o, "event");
    const auto* token = str(*o, "token");
    const auto* body = str(*o, "body");
    auto chat = u64(*o, "chat");
    auto number = u64(*o, "number");
    auto created = i64(*o, "created_at");
    auto updated = i64(*o, "updated_at");
    if (!kind || !token || !body || !chat || !number || !created || !updated || *chat == 0)
        return make_error(errc::bad_request, "live event lacks a field");
    bool known = false;
    for (auto k : {live_kind::created, live_kind::updated, live_kind::deleted, live_kind::read,
                   live_kind::chat_deleted})
        if (*kind == event_name(k)) {
            e.kind = k;
            known = true;
        }
    if (!known) return make_error(errc::bad_request, "unknown live event kind");
    // A message event names its message; a read marker may be 0, a chat's deletion names none.
    bool of_a_message =
        e.kind == live_kind::created || e.kind == live_kind::updated || e.kind == live_kind::deleted;
    if (of_a_message && *number == 0) return make_error(errc::bad_request, "live event lacks a field");
    e.token = std::string(*token);
    e.body = std::string(*body);
    e.chat = *chat;
    e.number = *number;
    e.created_at_ms = *created;
    e.updated_at_ms = *updated;
    if (const auto* sender = str(*o, "sender")) e.sender = std::string(*sender);
    if (auto deleted = i64(*o, "deleted_at")) e.deleted_at_ms = *deleted;
    if (auto version = u64(*o, "version"); version && *version > 0 && *version <= UINT32_MAX)
        e.version = static_cast<std::uint32_t>(*version);
    if (auto edited = i64(*o, "edited_at")) e.edited_at_ms = *edited;
    return e;
}

void sequencer::note_gap(clock::time_point now) {
    if (top_ > delivered_) {
        if (!gap_since_) gap_since_ = now;
    } else {
        gap_since_.reset();
    }
}

bool sequencer::offer(const live_event& e, clock::time_point now) {
    if (e.number <= delivered_ || held_.count(e.number)) return true;  // delivered or held already
    if (held_.size() >= max_held_) return false;
    held_.emplace(e.number, e);
    if (e.number > top_) top_ = e.number;
    note_gap(now);
    return true;
}

std::optional<live_event> sequencer::take(clock::time_point now) {
    auto it = held_.begin();
    if (it == held_.end() || it->first != delivered_ + 1) return std::nullopt;
    live_event e = std::move(it->second);
    held_.erase(it);
    delivered_ = e.number;
    gap_since_.reset();
    note_gap(now);
    return e;
}

void sequencer::expect_up_to(std::uint64_t number, clock::time_point now) {
    if (number > top_) top_ = number;
    note_gap(now);
}

std::optional<std::uint64_t> sequencer::gap(clock::time_point now, clock::duration grace) const {
    if (top_ <= delivered_ || !gap_since_) return std::nullopt;
    auto it = held_.begin();
    if (it != held_.end() && it->first == delivered_ + 1) return std::nullopt;  // not a gap: take() it
    if (now - *gap_since_ < grace) return std::nullopt;
    return delivered_ + 1;
}

void sequencer::skip(std::uint64_t number, clock::time_point now) {
    if (number != delivered_ + 1 || held_.count(number)) return;
    delivered_ = number;
    gap_since_.reset();
    note_gap(now);
}

}  // namespace chat::domain
