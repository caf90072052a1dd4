// The read rules over a fake port: stored, acknowledged, being created, absent; and the second look
// at MariaDB that closes the race with the worker.
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
