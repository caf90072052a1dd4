// The read rules over a fake port: stored, acknowledged, being created, absent, deleted; and the second
// look at MariaDB that closes the race with the worker.
#include "api/read_rules.hpp"

#include <gtest/gtest.h>

#include "domain/creation.hpp"

using namespace chat;

namespace {

struct fake_port final : api::read_port {
    std::optional<store::chat_row> chat;
    std::optional<store::chat_meta> meta;
    bool handed_out = false;
    std::vector<std::optional<store::message_row>> stored;  // answers in turn (the last repeats)
    std::optional<std::string> pending;
    bool down = false;
    int stored_reads = 0;

    core::result<std::optional<store::chat_row>> stored_chat(std::uint64_t) override {
        if (down) return core::make_error(core::errc::unavailable, "down");
        return chat;
    }
    core::result<std::optional<store::chat_meta>> registered_chat(std::uint64_t) override { return meta; }
    core::result<bool> chat_handed_out(std::uint64_t) override { return handed_out; }
    core::result<std::optional<store::message_row>> stored_message(std::uint64_t, std::uint64_t) override {
        auto i = std::min<std::size_t>(stored_reads++, stored.size() - 1);
        return stored.empty() ? std::optional<store::message_row>{} : stored[i];
    }
    core::result<std::optional<std::string>> pending_entry(std::uint64_t, std::uint64_t) override {
        return pending;
    }
    store::deletion_marks marks;
    core::result<store::deletion_marks> deletions(std::uint64_t, std::optional<std::uint64_t>) override {
        return marks;
    }
};

}  // namespace

TEST(read_rules, a_chat_is_stored_registered_being_created_or_absent) {
    fake_port p;
    EXPECT_EQ(api::read_chat(p, 4).error().code, core::errc::not_found);
    p.handed_out = true;
    EXPECT_EQ(api::read_chat(p, 4).error().code, core::errc::unavailable);
    p.meta = store::chat_meta{1, 0, 77, std::nullopt};
    EXPECT_EQ(api::read_chat(p, 4)->created_at_ms, 77);
    p.chat = store::chat_row{4, 12, 1, 2};
    EXPECT_EQ(api::read_chat(p, 4)->messages_count, 12u);
    p.down = true;
    EXPECT_EQ(api::read_chat(p, 4).error().code, core::errc::unavailable);
    EXPECT_EQ(api::chat_absence(p, 4)->code, core::errc::unavailable);
}

TEST(read_rules, an_acknowledged_message_is_read_from_its_pending_entry_with_its_sender) {
    fake_port p;
    p.pending = domain::encode(domain::acknowledged{"hi", 5, std::string("ann")});
    auto m = api::read_message(p, 1, 3, 10);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->body, "hi");
    EXPECT_EQ(m->sender, std::optional<std::string>("ann"));
}

TEST(read_rules, a_message_stored_between_the_two_reads_is_found) {
    fake_port p;
    p.stored = {std::nullopt, store::message_row{1, 3, "stored", 1, 1}};
    auto m = api::read_message(p, 1, 3, 10);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->body, "stored");
    EXPECT_EQ(p.stored_reads, 2);
}

TEST(read_rules, a_fresh_placeholder_is_retry_and_an_old_one_a_gap) {
    const std::int64_t now = 10 * domain::handed_out_ttl_ms;
    fake_port p;
    p.pending = domain::encode(domain::placeholder{now - 1});
    EXPECT_EQ(api::read_message(p, 1, 3, now).error().code, core::errc::unavailable);
    p.pending = domain::encode(domain::placeholder{now - domain::handed_out_ttl_ms});
    EXPECT_EQ(api::read_message(p, 1, 3, now).error().code, core::errc::not_found);
    p.pending.reset();
    EXPECT_EQ(api::read_message(p, 1, 3, now).error().code, core::errc::not_found);
}

TEST(read_rules, a_deletion_acknowledged_or_stored_answers_gone_and_a_deleted_chat_absent) {
    fake_port p;
    p.stored = {store::message_row{1, 3, "stored", 1, 1}};
    EXPECT_TRUE(api::read_message(p, 1, 3, 10));
    // Acknowledged, not stored yet: Redis's mark decides before MariaDB's row.
    p.marks.messages[3] = 9;
    EXPECT_EQ(api::read_message(p, 1, 3, 10).error().code, core::errc::gone);
    // Stored as a tombstone.
    p.marks.messages.clear();
    store::message_row tomb{1, 3, "", 1, 9};
    tomb.deleted_at_ms = 9;
    p.stored = {tomb};
    EXPECT_EQ(api::read_message(p, 1, 3, 10).error().code, core::errc::gone);
    // A deletion of a message still being created also wins.
    p.stored = {std::nullopt};
    p.pending = domain::encode(domain::acknowledged{"hi", 5, std::nullopt});
    p.marks.messages[3] = 9;
    EXPECT_EQ(api::read_message(p, 1, 3, 10).error().code, core::errc::gone);
    // The chat deleted: neither the message nor the chat exist any more.
    p.marks.chat_deleted = true;
    EXPECT_EQ(api::read_message(p, 1, 3, 10).error().code, core::errc::not_found);
    store::chat_row deleted_chat{1, 2, 1, 2};
    deleted_chat.deleted_at_ms = 5;
    p.chat = deleted_chat;
    EXPECT_EQ(api::read_chat(p, 1).error().code, core::errc::not_found);
    // Stored, its deletion acknowledged but not stored yet: Redis's mark decides.
    p.chat = store::chat_row{1, 2, 1, 2};
    EXPECT_TRUE(api::read_chat(p, 1));
    store::chat_meta meta{1, 2, 1, std::nullopt};
    meta.deleted_at_ms = 5;
    p.meta = meta;
    EXPECT_EQ(api::read_chat(p, 1).error().code, core::errc::not_found);
}

TEST(read_rules, a_list_shows_a_tombstone_in_each_deleted_place) {
    std::vector<store::message_row> rows{{1, 1, "a", 1, 1}, {1, 2, "b", 1, 1}, {1, 3, "c", 1, 1}};
    rows[2].deleted_at_ms = 7;
    rows[2].body = "left over";
    store::deletion_marks marks;
    marks.messages[1] = 8;
    api::as_listed(rows, marks);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[0].deleted_at_ms, std::optional<std::int64_t>(8));
    EXPECT_EQ(rows[0].body, "");
    EXPECT_FALSE(rows[1].deleted());
    EXPECT_EQ(rows[1].body, "b");
    EXPECT_EQ(rows[2].deleted_at_ms, std::optional<std::int64_t>(7));
    EXPECT_EQ(rows[2].body, "");
}
