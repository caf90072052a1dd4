// The worker's decisions over an in-memory MariaDB (fake batch_statements with the same semantics as
// store/batch_store.cpp's statements): a deletion wins whatever the order it and its creation arrive
// in, redelivery changes nothing, an edit never brings a deleted body back, and every document sent
// to search is the row as it is after the batch.
#include "worker/batch_writer.hpp"

#include <gtest/gtest.h>

using namespace chat;
using store::chat_key;
using store::message_key;
using store::user_key;

namespace {

struct fake_db final : store::batch_statements {
    std::map<chat_key, store::chat_state> chats;
    std::map<message_key, store::message_state> messages;
    std::map<user_key, std::int64_t> erasures;
    std::set<message_key> history;  // messages with an edit history
    std::vector<chat_key> marked;
    bool fail_reads = false;

    core::result<void> begin() override { return {}; }
    core::result<void> commit() override { return {}; }
    void abandon() override {}
    core::result<void> insert_chats(const std::vector<domain::chat_created>& cs) override {
        for (const auto& c : cs)
            chats.try_emplace({c.app_id, c.number}, store::chat_state{c.creation_id, false});
        return {};
    }
    core::result<void> insert_messages(const std::vector<domain::message_created>& ms) override {
        for (const auto& m : ms)
            messages.try_emplace({m.app_id, m.chat_number, m.number},
                                 store::message_state{m.creation_id, m.body, m.created_at_ms, m.created_at_ms,
                                                      m.sender, false});
        return {};
    }
    core::result<void> delete_messages(const std::vector<domain::message_deleted>& ds) override {
        for (const auto& d : ds) {
            message_key k{d.app_id, d.chat_number, d.number};
            auto [it, fresh] = messages.try_emplace(
                k, store::message_state{"", "", d.deleted_at_ms, d.deleted_at_ms, std::nullopt, true});
            it->second.body.clear();
            it->second.deleted = true;
            if (!fresh) it->second.updated_at_ms = std::max(it->second.updated_at_ms + 1, d.deleted_at_ms);
            history.erase(k);
        }
        return {};
    }
    core::result<void> delete_chats(const std::vector<domain::chat_deleted>& ds) override {
        for (const auto& d : ds) chats[{d.app_id, d.number}].deleted = true;
        return {};
    }
    core::result<void> erase_users(const std::vector<domain::user_erased>& es) override {
        for (const auto& e : es) erasures[{e.app_id, e.user}] = e.requested_at_ms;
        return {};
    }
    std::map<user_key, std::uint64_t> markers;  // (app, user) -> number; one chat in these tests
    core::result<void> save_markers(const std::vector<domain::read_marked>& ms) override {
        for (const auto& m : ms) {
            auto& at = markers[{m.app_id, m.user}];
            at = std::max(at, m.number);  // GREATEST, as the statement does
        }
        return {};
    }
    core::result<std::map<store::marker_key, std::uint64_t>> read_markers(
        const std::vector<store::marker_key>& keys) override {
        std::map<store::marker_key, std::uint64_t> out;
        for (const auto& k : keys)
            if (auto it = markers.find({std::get<0>(k), std::get<2>(k)}); it != markers.end())
                out[k] = it->second;
        return out;
    }
    std::vector<store::webhook_event> webhooks;  // recorded, in order; a key recorded once
    core::result<void> record_webhooks(const std::vector<store::webhook_event>& events) override {
        for (const auto& e : events)
            if (std::none_of(webhooks.begin(), webhooks.end(), [&](const auto& w) { return w.key == e.key; }))
                webhooks.push_back(e);
        return {};
    }
    core::result<void> add_members(const std::vector<store::member_grant>&) override { return {}; }
    core::result<std::map<chat_key, store::chat_state>> read_chats(
        const std::vector<chat_key>& keys) override {
        std::map<chat_key, store::chat_state> out;
        for (const auto& k : keys)
            if (auto it = chats.find(k); it != chats.end()) out[k] = it->second;
        return out;
    }
    core::result<std::map<message_key, store::message_state>> read_messages(
        const std::vector<message_key>& keys) override {
        if (fail_reads) return core::make_error(core::errc::unavailable, "down");
        std::map<message_key, store::message_state> out;
        for (const auto& k : keys)
            if (auto it = messages.find(k); it != messages.end()) out[k] = it->second;
        return out;
    }
    core::result<std::map<user_key, std::int64_t>> user_erasures(const std::vector<user_key>& keys) override {
        std::map<user_key, std::int64_t> out;
        for (const auto& k : keys)
            if (auto it = erasures.find(k); it != erasures.end()) out[k] = it->second;
        return out;
    }
    std::map<user_key, std::size_t> erased_counts;
    core::result<void> erased_senders(const std::map<user_key, std::vector<message_key>>& erased) override {
        for (const auto& [who, keys] : erased) {
            erased_counts[who] += keys.size();
            for (const auto& k : keys) messages.at(k).sender.reset();
        }
        return {};
    }
    core::result<void> mark_counts(const std::vector<chat_key>& keys) override {
        marked.insert(marked.end(), keys.begin(), keys.end());
        return {};
    }
};

struct fake_index final : worker::document_sink {
    std::map<message_key, store::message_doc> docs;  // by message, the highest version kept
    core::result<void> bulk_index(const std::vector<store::message_doc>& batch) override {
        for (const auto& d : batch) {
            message_key k{d.app_id, d.chat_number, d.number};
            auto it = docs.find(k);
            if (it == docs.end() || it->second.updated_at_ms < d.updated_at_ms) docs[k] = d;
        }
        return {};
    }
    bool finds(const std::string& word) const {
        for (const auto& [k, d] : docs)
            if (!d.deleted && d.body.find(word) != std::string::npos) return true;
        return false;
    }
};

domain::message_created created(std::uint64_t n, std::string body, std::int64_t at = 1000,
                                std::optional<std::string> sender = std::nullopt) {
    return {1, "tok", 1, n, std::move(body), "c" + std::to_string(n), at, "", std::move(sender)};
}
domain::message_deleted deleted(std::uint64_t n, std::int64_t at = 2000) {
    return {1, "tok", 1, n, at, ""};
}

struct harness {
    fake_db db;
    fake_index index;
    store::mysql_connection unused{core::mysql_config{}};
    store::index_outbox outbox{unused};
    worker::index_health health;
    worker::batch_writer writer{db, index, outbox, health};

    worker::batch_outcome write(std::vector<domain::event> events) {
        auto out = writer.write(events);
        EXPECT_TRUE(out) << (out ? "" : out.error().message);
        return out ? *out : worker::batch_outcome{};
    }
    const store::message_state& row(std::uint64_t n) { return db.messages.at({1, 1, n}); }
};

}  // namespace

TEST(batch_writer, a_deletion_stored_before_its_creation_keeps_the_creation_out) {
    harness h;
    h.write({deleted(1)});
    EXPECT_TRUE(h.row(1).deleted);
    auto out = h.write({created(1, "secret words")});
    EXPECT_TRUE(out.rejected.empty());  // not a conflict: the tombstone absorbs it
    EXPECT_TRUE(h.row(1).deleted);
    EXPECT_EQ(h.row(1).body, "");
    EXPECT_FALSE(h.index.finds("secret"));
    ASSERT_EQ(out.stored_messages.size(), 1u);  // its pending entry can go all the same
}

TEST(batch_writer, creation_and_deletion_in_one_batch_leave_a_tombstone_in_either_order) {
    for (bool deletion_first : {false, true}) {
        harness h;
        std::vector<domain::event> batch{created(1, "secret words"), deleted(1)};
        if (deletion_first) std::swap(batch[0], batch[1]);
        auto out = h.write(batch);
        EXPECT_TRUE(h.row(1).deleted) << deletion_first;
        EXPECT_FALSE(h.index.finds("secret")) << deletion_first;
        EXPECT_EQ(out.deleted_messages.size(), 1u);
        // A redelivery of the whole batch, or of the creation alone, changes nothing.
        h.write(batch);
        h.write({created(1, "secret words")});
        EXPECT_TRUE(h.row(1).deleted);
        EXPECT_FALSE(h.index.finds("secret"));
    }
}

TEST(batch_writer, a_deletion_after_the_creation_replaces_its_document) {
    harness h;
    h.write({created(1, "secret words"), created(2, "kept words")});
    EXPECT_TRUE(h.index.finds("secret"));
    h.write({deleted(1)});
    EXPECT_FALSE(h.index.finds("secret"));
    EXPECT_TRUE(h.index.finds("kept"));
    // An edit event of the deleted message re-indexes the row as it is: still nothing to find.
    h.write({domain::message_edited{1, 1, 1, ""}});
    EXPECT_FALSE(h.index.finds("secret"));
}

TEST(batch_writer, a_creation_of_another_id_on_a_stored_number_is_a_conflict) {
    harness h;
    h.write({created(1, "first")});
    auto other = created(1, "second");
    other.creation_id = "other";
    auto out = h.write({other});
    ASSERT_EQ(out.rejected.size(), 1u);
    EXPECT_EQ(h.row(1).body, "first");
}

TEST(batch_writer, a_creation_still_queued_when_its_chat_was_deleted_is_erased_on_arrival) {
    harness h;
    h.write({domain::chat_deleted{1, "tok", 1, 500, ""}});
    auto out = h.write({created(3, "late words")});
    EXPECT_TRUE(h.row(3).deleted);
    EXPECT_FALSE(h.index.finds("late"));
    ASSERT_EQ(out.erased_on_arrival.size(), 1u);
    EXPECT_EQ(out.erased_on_arrival[0].number, 3u);
}

TEST(batch_writer, a_creation_sent_before_its_sender_was_erased_is_erased_on_arrival) {
    harness h;
    h.write({domain::user_erased{1, "tok", "ann", 1500, ""}});
    h.write({created(1, "before words", 1400, "ann"), created(2, "after words", 1600, "ann"),
             created(3, "bob words", 1400, "bob")});
    EXPECT_TRUE(h.row(1).deleted);
    EXPECT_EQ(h.row(1).sender, std::nullopt);  // the user's data: its id goes with the body
    EXPECT_EQ((h.db.erased_counts[{1, "ann"}]), 1u);
    EXPECT_FALSE(h.row(2).deleted);  // the id written again after its erasure
    EXPECT_FALSE(h.row(3).deleted);
    EXPECT_FALSE(h.index.finds("before"));
    EXPECT_TRUE(h.index.finds("after"));
}

TEST(batch_writer, a_sender_has_read_what_it_sent_unless_it_was_erased) {
    harness h;
    h.write({created(1, "a", 1000, "ann"), created(3, "b", 1000, "ann"), created(2, "c", 1000, "bob"),
             created(4, "d")});
    EXPECT_EQ((h.db.markers[{1, "ann"}]), 3u);  // the highest of its messages in the batch
    EXPECT_EQ((h.db.markers[{1, "bob"}]), 2u);
    h.write({created(5, "e", 1000, "ann")});
    EXPECT_EQ((h.db.markers[{1, "ann"}]), 5u);

    harness erased;
    erased.write({domain::user_erased{1, "tok", "cid", 1500, ""}});
    erased.write({created(1, "before", 1400, "cid")});
    EXPECT_FALSE(erased.db.markers.contains({1, "cid"}));  // its erasure took its markers
    erased.write({created(2, "after", 1600, "cid")});
    EXPECT_EQ((erased.db.markers[{1, "cid"}]), 2u);  // the id used again after its erasure
}

TEST(batch_writer, a_failed_read_fails_the_batch_for_a_retry) {
    harness h;
    h.db.fail_reads = true;
    EXPECT_FALSE(h.writer.write({created(1, "x")}));
}

namespace {
std::vector<std::string> kinds(const std::vector<store::webhook_event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events)
        out.push_back(e.kind +
                      (e.kind.starts_with("message") ? ":" + e.key.substr(e.key.rfind(':') + 1) : ""));
    return out;
}
}  // namespace

TEST(batch_writer, webhooks_get_what_the_batch_changed_in_the_order_a_chat_lived_it) {
    harness h;
    h.write({created(2, "two", 1000, "ann"), domain::chat_created{1, "tok", 1, "cc", 900, "", "ann"},
             created(1, "one", 1000, "ann"), deleted(2),
             domain::read_marked{1, "tok", 1, "bob", 1, 1100, ""}});
    h.write({domain::chat_deleted{1, "tok", 1, 1200, ""}});  // in its batch: the same one would erase them
    // The deleted message 2 is announced by its deletion only; messages in number order.
    EXPECT_EQ(kinds(h.db.webhooks),
              (std::vector<std::string>{"chat.created", "message.created:1", "message.deleted:2",
                                        "read.updated", "chat.deleted"}));
    const auto& m = h.db.webhooks[1];
    EXPECT_EQ(m.chat_number, 1u);
    EXPECT_NE(m.payload.find(R"("type":"message.created")"), std::string::npos) << m.payload;
    EXPECT_NE(m.payload.find(R"("body":"one")"), std::string::npos) << m.payload;
    EXPECT_NE(m.payload.find(R"("sender":"ann")"), std::string::npos) << m.payload;

    // Redelivered, the same events record nothing new.
    h.write({created(1, "one", 1000, "ann"), deleted(2)});
    EXPECT_EQ(h.db.webhooks.size(), 5u);
}

TEST(batch_writer, a_read_marker_is_announced_only_when_it_moves) {
    harness h;
    h.write({created(1, "a"), created(2, "b"), created(3, "c")});
    h.db.webhooks.clear();
    h.write({domain::read_marked{1, "tok", 1, "bob", 2, 1100, ""},
             domain::read_marked{1, "tok", 1, "bob", 3, 1101, ""}});
    ASSERT_EQ(h.db.webhooks.size(), 1u);  // the highest of the batch
    EXPECT_NE(h.db.webhooks[0].payload.find(R"("last_read":3)"), std::string::npos);
    h.write({domain::read_marked{1, "tok", 1, "bob", 1, 1200, ""},
             domain::read_marked{1, "tok", 1, "bob", 3, 1201, ""}});
    EXPECT_EQ(h.db.webhooks.size(), 1u);  // lower or the same: no move, no event
}
