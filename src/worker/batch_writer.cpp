#include "worker/batch_writer.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <tuple>

#include "core/metrics.hpp"
#include "core/time.hpp"
#include "domain/lifecycle.hpp"
#include "worker/webhook_events.hpp"

namespace chat::worker {

namespace {

// The events of a batch by kind, in batch order (index = position in the batch).
struct sorted_events {
    std::vector<domain::chat_created> chats;
    std::vector<std::size_t> chat_at;
    std::vector<domain::message_created> messages;
    std::vector<std::size_t> message_at;
    std::vector<domain::message_deleted> message_deletions;
    std::vector<domain::chat_deleted> chat_deletions;
    std::vector<domain::user_erased> user_erasures;
    std::vector<domain::read_marked> markers;
    std::vector<std::size_t> edited_at;  // positions of message_edited events
};

sorted_events sort(const std::vector<domain::event>& events) {
    sorted_events s;
    for (std::size_t i = 0; i < events.size(); ++i) {
        const auto& ev = events[i];
        if (const auto* c = std::get_if<domain::chat_created>(&ev)) {
            s.chats.push_back(*c);
            s.chat_at.push_back(i);
        } else if (const auto* m = std::get_if<domain::message_created>(&ev)) {
            s.messages.push_back(*m);
            s.message_at.push_back(i);
        } else if (const auto* d = std::get_if<domain::message_deleted>(&ev)) {
            s.message_deletions.push_back(*d);
        } else if (const auto* cd = std::get_if<domain::chat_deleted>(&ev)) {
            s.chat_deletions.push_back(*cd);
        } else if (const auto* u = std::get_if<domain::user_erased>(&ev)) {
            s.user_erasures.push_back(*u);
        } else if (const auto* r = std::get_if<domain::read_marked>(&ev)) {
            s.markers.push_back(*r);
        } else if (std::get_if<domain::message_edited>(&ev)) {
            s.edited_at.push_back(i);
        }
    }
    return s;
}

store::message_doc doc_of(const store::message_key& k, const store::message_state& s) {
    const auto& [app, chat, number] = k;
    // A tombstone's document has no body and so no terms: nothing finds it, and its version (the row's
    // updated_at, moved forward by the deletion) keeps every older document from coming back.
    return store::message_doc{app,      chat,     number, s.body, s.created_at_ms, s.updated_at_ms,
                              s.sender, s.deleted};
}

}  // namespace

core::result<batch_outcome> batch_writer::write(const std::vector<domain::event>& events) {
    std::vector<store::message_doc> docs;
    auto outcome = write_sql(events, docs);
    if (!outcome) {
        sql_.abandon();
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
        sql_.abandon();
        return ok.error();
    }
    core::metrics::index_deferred(docs.size());
    outcome->deferred = docs.size();
    return outcome;
}

// Creations the batch stored into a deleted chat, or from a user erased after they were sent, become
// tombstones in the same transaction (the erasure job may have passed them while they were queued).
core::result<std::set<store::message_key>> batch_writer::erase_on_arrival(
    const std::vector<domain::message_created>& messages,
    const std::map<store::chat_key, store::chat_state>& chats, const std::set<store::user_key>& senders,
    batch_outcome& out) {
    std::set<store::message_key> of_erased;
    if (messages.empty()) return of_erased;
    auto erased = sql_.user_erasures({senders.begin(), senders.end()});
    if (!erased) return erased.error();
    std::vector<domain::message_deleted> late;
    std::map<store::user_key, std::vector<store::message_key>> of_erased_users;
    const auto now = core::now_ms();
    for (const auto& m : messages) {
        auto chat = chats.find({m.app_id, m.chat_number});
        std::optional<std::int64_t> sender_erased;
        if (m.sender)
            if (auto e = erased->find({m.app_id, *m.sender}); e != erased->end()) sender_erased = e->second;
        bool chat_deleted = chat != chats.end() && chat->second.deleted;
        if (!domain::erased_on_arrival(chat_deleted, sender_erased, m.created_at_ms)) continue;
        late.push_back({m.app_id, m.token, m.chat_number, m.number, now, m.request_id, m.created_at_ms});
        out.erased_on_arrival.push_back({m.token, m.chat_number, m.number});
        if (sender_erased && m.created_at_ms <= *sender_erased) {
            of_erased_users[{m.app_id, *m.sender}].emplace_back(m.app_id, m.chat_number, m.number);
            of_erased.insert({m.app_id, m.chat_number, m.number});
        }
    }
    if (auto ok = sql_.delete_messages(late); !ok) return ok.error();
    if (auto ok = sql_.erased_senders(of_erased_users); !ok) return ok.error();
    return of_erased;
}

core::result<batch_outcome> batch_writer::write_sql(const std::vector<domain::event>& events,
                                                    std::vector<store::message_doc>& docs) {
    batch_outcome out;
    auto s = sort(events);
    // Every row the batch touches, read back after its writes to judge each event.
    std::set<store::chat_key> chat_keys;
    std::set<store::message_key> message_keys;
    std::set<store::user_key> senders;
    for (const auto& c : s.chats) chat_keys.insert({c.app_id, c.number});
    for (const auto& m : s.messages) {
        message_keys.insert({m.app_id, m.chat_number, m.number});
        chat_keys.insert({m.app_id, m.chat_number});
        if (m.sender) senders.insert({m.app_id, *m.sender});
    }
    for (const auto& d : s.message_deletions) message_keys.insert({d.app_id, d.chat_number, d.number});
    for (auto i : s.edited_at) {
        const auto& e = std::get<domain::message_edited>(events[i]);
        message_keys.insert({e.app_id, e.chat_number, e.number});
    }

    if (auto ok = sql_.begin(); !ok) return ok.error();
    // Creations first, deletions after: within a batch as across batches, a deletion wins whatever the
    // order its creation and it arrived in.
    if (auto ok = sql_.insert_chats(s.chats); !ok) return ok.error();
    if (auto ok = sql_.insert_messages(s.messages); !ok) return ok.error();
    if (auto ok = sql_.delete_messages(s.message_deletions); !ok) return ok.error();
    if (auto ok = sql_.delete_chats(s.chat_deletions); !ok) return ok.error();
    if (auto ok = sql_.erase_users(s.user_erasures); !ok) return ok.error();
    // Which markers the batch moves: webhooks announce real moves only (a PUT of a lower or the same
    // number is queued too, see read_state).
    std::map<store::marker_key, domain::read_marked> marker_moves;
    for (const auto& r : s.markers) {
        auto& top = marker_moves[{r.app_id, r.chat_number, r.user}];
        if (r.number > top.number) top = r;
    }
    std::vector<store::marker_key> marker_keys;
    for (const auto& [k, r] : marker_moves) marker_keys.push_back(k);
    auto markers_before = sql_.read_markers(marker_keys);
    if (!markers_before) return markers_before.error();
    if (auto ok = sql_.save_markers(s.markers); !ok) return ok.error();
    auto stored_chats = sql_.read_chats({chat_keys.begin(), chat_keys.end()});
    if (!stored_chats) return stored_chats.error();
    auto of_erased_senders = erase_on_arrival(s.messages, *stored_chats, senders, out);
    if (!of_erased_senders) return of_erased_senders.error();
    auto stored_messages = sql_.read_messages({message_keys.begin(), message_keys.end()});
    if (!stored_messages) return stored_messages.error();

    std::set<store::chat_key> marks;
    std::vector<store::member_grant> members;
    // Webhook events of what the batch changed, in the order a chat lived them.
    std::vector<store::webhook_event> hooks;
    std::vector<const domain::message_created*> created;
    for (std::size_t k = 0; k < s.chats.size(); ++k) {
        const auto& c = s.chats[k];
        auto it = stored_chats->find({c.app_id, c.number});
        auto outcome = it == stored_chats->end() ? domain::creation_outcome::conflict
                                                 : domain::judge_creation(it->second.creation_id,
                                                                          it->second.deleted, c.creation_id);
        if (outcome == domain::creation_outcome::conflict) {
            out.rejected.push_back(
                {s.chat_at[k],
                 fmt::format("number conflict: chat {} of application {} is stored by another creation",
                             c.number, c.app_id)});
            continue;
        }
        if (outcome == domain::creation_outcome::deleted) continue;  // deleted before it was stored
        out.stored_chats.push_back(c);
        hooks.push_back(chat_created_event(c));
        if (c.creator) members.push_back({c.app_id, c.number, *c.creator, c.created_at_ms});
        marks.insert({c.app_id, 0});         // the application's chats_count
        marks.insert({c.app_id, c.number});  // its messages may have been stored before it
    }
    std::map<std::tuple<std::uint64_t, std::uint64_t, std::string>, domain::read_marked> senders_read;
    std::set<store::message_key> indexed;
    auto index = [&](const store::message_key& k) {
        auto it = stored_messages->find(k);
        if (it == stored_messages->end() || !indexed.insert(k).second) return;
        docs.push_back(doc_of(k, it->second));
    };
    for (std::size_t k = 0; k < s.messages.size(); ++k) {
        const auto& m = s.messages[k];
        store::message_key key{m.app_id, m.chat_number, m.number};
        auto it = stored_messages->find(key);
        auto outcome =
            it == stored_messages->end()
                ? domain::creation_outcome::conflict
                : domain::judge_creation(it->second.creation_id, it->second.deleted, m.creation_id);
        if (outcome == domain::creation_outcome::conflict) {
            out.rejected.push_back(
                {s.message_at[k],
                 fmt::format("number conflict: message {} of chat {} of application {} is stored "
                             "by another creation",
                             m.number, m.chat_number, m.app_id)});
            continue;
        }
        // Stored, or its tombstone is: either way its pending entry has served its purpose.
        out.stored_messages.push_back({m.token, m.chat_number, m.number});
        // Its sender has read it (the API moved the marker in Redis; this is MariaDB's copy), unless
        // the sender was erased since: an erased user keeps no marker.
        if (m.sender && !of_erased_senders->contains(key)) {
            auto& read = senders_read[{m.app_id, m.chat_number, *m.sender}];
            if (m.number > read.number)
                read = domain::read_marked{m.app_id,  m.token,  m.chat_number,
                                           *m.sender, m.number, m.created_at_ms};
        }
        if (outcome == domain::creation_outcome::stored && !it->second.deleted) created.push_back(&m);
        marks.insert({m.app_id, m.chat_number});
        index(key);
    }
    std::sort(created.begin(), created.end(), [](const auto* a, const auto* b) {
        return std::tie(a->app_id, a->chat_number, a->number) <
               std::tie(b->app_id, b->chat_number, b->number);
    });
    for (const auto* m : created) hooks.push_back(message_created_event(*m));
    for (const auto& d : s.message_deletions) {
        out.deleted_messages.push_back({d.token, d.chat_number, d.number});
        marks.insert({d.app_id, d.chat_number});
        index({d.app_id, d.chat_number, d.number});
    }
    for (auto i : s.edited_at) {
        const auto& e = std::get<domain::message_edited>(events[i]);
        store::message_key key{e.app_id, e.chat_number, e.number};
        if (!stored_messages->count(key)) {
            out.rejected.push_back({i, "edited message is not stored"});
            continue;
        }
        if (const auto& row = stored_messages->at(key); !row.deleted)
            hooks.push_back(message_updated_event(key, row));
        index(key);
    }
    for (const auto& d : s.message_deletions) hooks.push_back(message_deleted_event(d));
    for (const auto& [k, r] : marker_moves)
        if (auto was = markers_before->find(k); was == markers_before->end() || r.number > was->second)
            hooks.push_back(read_updated_event(r));
    for (const auto& d : s.chat_deletions) hooks.push_back(chat_deleted_event(d));
    for (const auto& d : s.chat_deletions) marks.insert({d.app_id, 0});
    std::vector<domain::read_marked> own;
    for (auto& [key, read] : senders_read) own.push_back(std::move(read));
    if (auto ok = sql_.save_markers(own); !ok) return ok.error();
    if (auto ok = sql_.add_members(members); !ok) return ok.error();
    if (auto ok = sql_.mark_counts({marks.begin(), marks.end()}); !ok) return ok.error();
    if (auto ok = sql_.record_webhooks(hooks); !ok) return ok.error();
    if (auto ok = sql_.commit(); !ok) return ok.error();
    return out;
}

}  // namespace chat::worker
