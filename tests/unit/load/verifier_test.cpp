#include "verifier.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "http_client.hpp"
#include "recorder.hpp"
#include "store/numbering.hpp"

using namespace chat::load;

TEST(load_gaps, contiguous_numbers_have_no_gap) {
    auto g = find_gaps({1, 2, 3, 4}, 0);
    EXPECT_TRUE(g.missing.empty());
    EXPECT_TRUE(g.allowed);
    EXPECT_TRUE(find_gaps({}, 0).missing.empty());
}

TEST(load_gaps, a_hole_is_allowed_only_with_as_many_failed_creations) {
    auto g = find_gaps({1, 2, 4, 7}, 3);
    EXPECT_EQ(g.missing, (std::vector<std::uint64_t>{3, 5, 6}));
    EXPECT_TRUE(g.allowed);
    EXPECT_FALSE(find_gaps({1, 2, 4, 7}, 2).allowed);
    EXPECT_FALSE(find_gaps({2}, 0).allowed);  // number 1 missing
    EXPECT_TRUE(find_gaps({2}, 1).allowed);
}

TEST(load_judge, outcomes_and_error_kinds) {
    attempt_result ok{attempt_result::outcome::answered, 201, R"({"number": 3})", false, {}};
    EXPECT_EQ(judge(ok, 201).what, verdict::kind::ok);

    attempt_result unavailable{attempt_result::outcome::answered,
                               503,
                               R"({"error": {"code": "unavailable", "message": "redis"}})",
                               false,
                               {}};
    auto v = judge(unavailable, 201);
    EXPECT_EQ(v.what, verdict::kind::retryable);
    EXPECT_EQ(v.error, "503 unavailable");
    EXPECT_FALSE(v.bad);

    attempt_result limited{attempt_result::outcome::answered,
                           429,
                           R"({"error": {"code": "rate_limited", "message": "slow down"}})",
                           false,
                           {}};
    v = judge(limited, 201);
    EXPECT_EQ(v.what, verdict::kind::failed);
    EXPECT_EQ(v.error, "429 rate_limited");
    EXPECT_FALSE(v.bad);

    attempt_result html_502{attempt_result::outcome::answered, 502, "<html>bad gateway</html>", false, {}};
    v = judge(html_502, 201);
    EXPECT_EQ(v.error, "bad_failure");
    EXPECT_TRUE(v.bad);

    attempt_result not_found{attempt_result::outcome::answered,
                             404,
                             R"({"error": {"code": "not_found", "message": "chat not found"}})",
                             false,
                             {}};
    EXPECT_TRUE(judge(not_found, 200).bad);

    attempt_result garbage{attempt_result::outcome::answered, 200, "{not json", false, {}};
    EXPECT_TRUE(judge(garbage, 200).bad);

    for (auto [o, kind] : {std::pair{attempt_result::outcome::closed, "closed"},
                           std::pair{attempt_result::outcome::timeout, "timeout"},
                           std::pair{attempt_result::outcome::connect_failed, "connect_failed"}}) {
        attempt_result r{o, 0, "", false, "x"};
        auto t = judge(r, 201);
        EXPECT_EQ(t.what, verdict::kind::retryable);
        EXPECT_EQ(t.error, kind);
        EXPECT_FALSE(t.bad);
    }
    attempt_result malformed{attempt_result::outcome::malformed, 0, "", false, "bad version"};
    EXPECT_TRUE(judge(malformed, 201).bad);
}

TEST(load_record, round_trips_through_the_file) {
    run_record r;
    r.acks.push_back({ack_kind::app, "tokA", 0, 0, 0, 100});
    r.acks.push_back({ack_kind::chat, "tokA", 3, 0, 0, 101});
    r.acks.push_back({ack_kind::message, "tokA", 3, 9, 0xfedcba9876543210ULL, 102});
    r.failed_messages[{"tokA", 3}] = 2;
    r.failed_chats["tokA"] = 1;
    auto path = testing::TempDir() + "record.tsv";
    write_record(path, r);
    auto back = read_record(path);
    ASSERT_EQ(back.acks.size(), 3u);
    EXPECT_EQ(back.acks[2].kind, ack_kind::message);
    EXPECT_EQ(back.acks[2].hash, 0xfedcba9876543210ULL);
    EXPECT_EQ(back.acks[2].number, 9u);
    EXPECT_EQ(back.acks[1].chat, 3u);
    EXPECT_EQ((back.failed_messages[{"tokA", 3}]), 2u);
    EXPECT_EQ(back.failed_chats["tokA"], 1u);
    std::ofstream(path, std::ios::app) << "message\ttokA\tnot-a-number\n";
    EXPECT_THROW(read_record(path), std::runtime_error);
    std::remove(path.c_str());
}

TEST(load_recorder, counts_only_the_measured_window_and_merges) {
    recorder a, b;
    a.op_done(op_kind::create_message, true, true, 1, 1000);
    a.op_done(op_kind::create_message, false, true, 1, 999999);  // warmup or setup
    b.op_done(op_kind::create_message, true, false, 3, 2000);
    b.attempt_error(op_kind::create_message, "closed");
    b.final_error(op_kind::create_message, "closed");
    b.bad(op_kind::replay, "wrong_number", "x", "t", "r");
    b.failed_message("tok", 1);
    a.merge(std::move(b));
    const auto& s = a.ops()[index_of(op_kind::create_message)];
    EXPECT_EQ(s.count, 2u);
    EXPECT_EQ(s.ok, 1u);
    EXPECT_EQ(s.failed, 1u);
    EXPECT_EQ(s.retries, 2u);
    EXPECT_EQ(s.latency_us.max(), 2000u);
    EXPECT_EQ(a.wrong_numbers(), 1u);
    EXPECT_EQ(a.bad_failures(), 0u);
    EXPECT_EQ((a.errors().at({"closed", op_kind::create_message}).final), 1u);
    EXPECT_EQ((a.record().failed_messages.at({"tok", 1})), 1u);
}

// --- deletions (--delete-percent): the verifier's judgement of one message from what it found -------

namespace {

const std::uint64_t acked_body = chat::store::fingerprint("the acknowledged body");
const std::uint64_t other_body = chat::store::fingerprint("another body");

// A message stored with its acknowledged body, not deleted, its document searchable with that body.
message_facts kept() {
    message_facts f;
    f.acknowledged_hash = acked_body;
    f.row = true;
    f.row_hash = acked_body;
    f.search = message_facts::doc::found;
    f.doc_hash = acked_body;
    return f;
}

// A tombstone in MariaDB (body '', deleted_at set, no history) and a document without body.
message_facts erased() {
    auto f = kept();
    f.row_hash = erased_body_hash;
    f.row_deleted = true;
    f.doc_hash = erased_body_hash;
    return f;
}

}  // namespace

TEST(load_deletions, a_row_read_with_an_empty_body_is_erased_and_a_blank_one_is_not) {
    // As the verifier reads them: the fingerprint of the column's text.
    auto f = erased();
    f.row_hash = chat::store::fingerprint(std::string());
    f.doc_hash = chat::store::fingerprint(std::string_view(""));
    EXPECT_EQ(judge_message(deletion::acknowledged, f).fate, message_fate::erased);
    f.row_hash = chat::store::fingerprint(" ");
    EXPECT_EQ(judge_message(deletion::acknowledged, f).check, "stored");
}

TEST(load_deletions, a_message_never_deleted_must_be_kept_everywhere) {
    auto j = judge_message(deletion::none, kept());
    EXPECT_EQ(j.fate, message_fate::kept);
    EXPECT_EQ(j.check, "");

    // Erased though the run never deleted it: a lost message.
    j = judge_message(deletion::none, erased());
    EXPECT_EQ(j.fate, message_fate::broken);
    EXPECT_EQ(j.check, "stored");
    EXPECT_NE(j.problem.find("never deleted"), std::string::npos) << j.problem;

    auto f = kept();
    f.row = false;
    j = judge_message(deletion::none, f);
    EXPECT_EQ(j.check, "stored");
    EXPECT_EQ(j.problem, " acknowledged but not stored");

    f = kept();
    f.row_hash = other_body;
    j = judge_message(deletion::none, f);
    EXPECT_EQ(j.check, "stored");
    EXPECT_NE(j.problem.find("the stored body differs"), std::string::npos) << j.problem;

    // Its body erased in MariaDB without deleted_at: lost as well.
    f = kept();
    f.row_hash = erased_body_hash;
    EXPECT_EQ(judge_message(deletion::none, f).check, "stored");

    // Kept in MariaDB, but search lost it or holds a tombstone.
    f = kept();
    f.search = message_facts::doc::absent;
    j = judge_message(deletion::none, f);
    EXPECT_EQ(j.check, "search");
    EXPECT_EQ(j.problem, " acknowledged but not in Elasticsearch");
    f = kept();
    f.doc_hash = erased_body_hash;
    EXPECT_EQ(judge_message(deletion::none, f).check, "search");
    f = kept();
    f.doc_hash = other_body;
    EXPECT_EQ(judge_message(deletion::none, f).check, "search");

    // Search not looked at: judged on MariaDB alone.
    f = kept();
    f.search = message_facts::doc::unchecked;
    f.doc_hash = 0;
    j = judge_message(deletion::none, f);
    EXPECT_EQ(j.fate, message_fate::kept);
    EXPECT_EQ(j.check, "");
}

TEST(load_deletions, an_acknowledged_deletion_must_erase_in_mariadb_and_search) {
    auto j = judge_message(deletion::acknowledged, erased());
    EXPECT_EQ(j.fate, message_fate::erased);
    EXPECT_EQ(j.check, "");

    // No document at all also finds nothing (the per-chat count of check 3 wants the tombstone's).
    auto f = erased();
    f.search = message_facts::doc::absent;
    EXPECT_EQ(judge_message(deletion::acknowledged, f).check, "");

    // Still kept: the deletion did nothing. Never reported as a lost message.
    j = judge_message(deletion::acknowledged, kept());
    EXPECT_EQ(j.fate, message_fate::broken);
    EXPECT_EQ(j.check, "delete");
    EXPECT_NE(j.problem.find("204"), std::string::npos) << j.problem;

    // Erased in MariaDB but still found by its body.
    f = erased();
    f.doc_hash = acked_body;
    j = judge_message(deletion::acknowledged, f);
    EXPECT_EQ(j.check, "delete");
    EXPECT_NE(j.problem.find("still searchable"), std::string::npos) << j.problem;

    // Half a tombstone, or history left behind.
    f = erased();
    f.row_hash = acked_body;  // deleted_at set, body kept
    EXPECT_EQ(judge_message(deletion::acknowledged, f).check, "delete");
    f = erased();
    f.row_deleted = false;  // body erased, deleted_at not set
    EXPECT_EQ(judge_message(deletion::acknowledged, f).check, "delete");
    f = erased();
    f.versions = 2;
    j = judge_message(deletion::acknowledged, f);
    EXPECT_EQ(j.check, "delete");
    EXPECT_NE(j.problem.find("2 versions"), std::string::npos) << j.problem;

    // The row itself must stay (a tombstone keeps the number taken): a deletion problem, not a loss.
    f = erased();
    f.row = false;
    j = judge_message(deletion::acknowledged, f);
    EXPECT_EQ(j.check, "delete");

    // A body that is neither the acknowledged one nor erased is a storage fault whatever happened.
    f = erased();
    f.row_hash = other_body;
    EXPECT_EQ(judge_message(deletion::acknowledged, f).check, "stored");
}

TEST(load_deletions, an_unanswered_deletion_may_have_happened_but_consistently) {
    auto j = judge_message(deletion::unknown, kept());
    EXPECT_EQ(j.fate, message_fate::kept);
    EXPECT_EQ(j.check, "");
    j = judge_message(deletion::unknown, erased());
    EXPECT_EQ(j.fate, message_fate::erased);
    EXPECT_EQ(j.check, "");

    // Erased in one store, kept in the other.
    auto f = erased();
    f.doc_hash = acked_body;
    j = judge_message(deletion::unknown, f);
    EXPECT_EQ(j.fate, message_fate::broken);
    EXPECT_EQ(j.check, "delete");
    f = kept();
    f.doc_hash = erased_body_hash;
    j = judge_message(deletion::unknown, f);
    EXPECT_EQ(j.fate, message_fate::broken);
    EXPECT_EQ(j.check, "delete");

    // Half applied in MariaDB.
    f = erased();
    f.row_deleted = false;
    EXPECT_EQ(judge_message(deletion::unknown, f).check, "delete");
    f = erased();
    f.versions = 1;
    EXPECT_EQ(judge_message(deletion::unknown, f).check, "delete");

    // Kept in MariaDB but never indexed: a search fault, as for any kept message.
    f = kept();
    f.search = message_facts::doc::absent;
    EXPECT_EQ(judge_message(deletion::unknown, f).check, "search");
    // Gone from MariaDB: lost whatever the deletion did.
    f = kept();
    f.row = false;
    EXPECT_EQ(judge_message(deletion::unknown, f).check, "stored");
}

TEST(load_judge, a_deletion_is_acknowledged_by_204_without_a_body) {
    attempt_result done{attempt_result::outcome::answered, 204, "", false, {}};
    EXPECT_EQ(judge_no_content(done).what, verdict::kind::ok);
    EXPECT_EQ(judge_no_content(done).error, "");

    attempt_result with_body{attempt_result::outcome::answered, 204, "{}", false, {}};
    EXPECT_TRUE(judge_no_content(with_body).bad);

    attempt_result unavailable{attempt_result::outcome::answered,
                               503,
                               R"({"error": {"code": "unavailable", "message": "rabbitmq"}})",
                               false,
                               {}};
    auto v = judge_no_content(unavailable);
    EXPECT_EQ(v.what, verdict::kind::retryable);
    EXPECT_EQ(v.error, "503 unavailable");

    attempt_result closed{attempt_result::outcome::closed, 0, "", false, "eof"};
    EXPECT_EQ(judge_no_content(closed).what, verdict::kind::retryable);

    // A deletion of an acknowledged message is never 410 (idempotent: 204 again) nor 404, nor 200.
    attempt_result gone{attempt_result::outcome::answered,
                        410,
                        R"({"error": {"code": "gone", "message": "deleted"}})",
                        false,
                        {}};
    EXPECT_TRUE(judge_no_content(gone).bad);
    attempt_result ok_200{attempt_result::outcome::answered, 200, "{}", false, {}};
    EXPECT_TRUE(judge_no_content(ok_200).bad);
}

TEST(load_record, deletions_round_trip_and_merge) {
    run_record r;
    r.acks.push_back({ack_kind::message, "tokA", 3, 9, 0x1234, 102});
    r.deletes.push_back({"tokA", 3, 9, true, 200});
    r.deletes.push_back({"tokA", 3, 10, false, 201});
    auto path = testing::TempDir() + "record-deletes.tsv";
    write_record(path, r);
    auto back = read_record(path);
    ASSERT_EQ(back.deletes.size(), 2u);
    EXPECT_EQ(back.deletes[0].token, "tokA");
    EXPECT_EQ(back.deletes[0].chat, 3u);
    EXPECT_EQ(back.deletes[0].number, 9u);
    EXPECT_TRUE(back.deletes[0].acknowledged);
    EXPECT_EQ(back.deletes[0].at_ms, 200);
    EXPECT_EQ(back.deletes[1].number, 10u);
    EXPECT_FALSE(back.deletes[1].acknowledged);
    EXPECT_EQ(deletion_counts(back), (std::pair<std::uint64_t, std::uint64_t>{1, 1}));
    std::ofstream(path, std::ios::app) << "deleted\ttokA\t3\n";
    EXPECT_THROW(read_record(path), std::runtime_error);
    std::remove(path.c_str());

    recorder a, b;
    a.deletion({"t", 1, 1, true, 1});
    b.deletion({"t", 1, 2, false, 2});
    a.merge(std::move(b));
    ASSERT_EQ(a.record().deletes.size(), 2u);
    EXPECT_EQ(deletion_counts(a.record()), (std::pair<std::uint64_t, std::uint64_t>{1, 1}));
}

TEST(load_record, webhooks_round_trip_and_merge) {
    run_record r;
    r.acks.push_back({ack_kind::app, "tokA", 0, 0, 0, 100});
    r.webhooks["tokA"] = "wh_abc";
    r.webhooks["tokB"] = "wh_def";
    auto path = testing::TempDir() + "record-webhooks.tsv";
    write_record(path, r);
    auto back = read_record(path);
    EXPECT_EQ(back.webhooks, r.webhooks);
    std::ofstream(path, std::ios::app) << "webhook\ttokC\n";
    EXPECT_THROW(read_record(path), std::runtime_error);
    std::remove(path.c_str());

    recorder a, b;
    a.webhook("t1", "wh_1");
    b.webhook("t2", "wh_2");
    a.merge(std::move(b));
    EXPECT_EQ(a.record().webhooks.size(), 2u);
    EXPECT_EQ(a.record().webhooks.at("t2"), "wh_2");
}

TEST(load_webhooks, statuses_are_read_from_their_names) {
    EXPECT_EQ(delivery_status_from("pending"), delivery_status::pending);
    EXPECT_EQ(delivery_status_from("delivered"), delivery_status::delivered);
    EXPECT_EQ(delivery_status_from("failed"), delivery_status::failed);
    EXPECT_FALSE(delivery_status_from("Delivered"));
    EXPECT_FALSE(delivery_status_from(""));
}

TEST(load_webhooks, every_acknowledged_creation_delivered_once_is_clean) {
    using enum delivery_status;
    webhook_tally t;
    t.add({deletion::none, {delivered}}, "a/1/1");
    t.add({deletion::none, {delivered}}, "a/1/2");
    // Deleted after it was stored: its message.created was recorded and delivered all the same.
    t.add({deletion::acknowledged, {delivered}}, "a/1/3");
    EXPECT_EQ(t.acknowledged, 3u);
    EXPECT_EQ(t.recorded, 3u);
    EXPECT_EQ(t.delivered, 3u);
    EXPECT_EQ(t.failed + t.pending + t.missing + t.duplicated + t.deleted_unrecorded, 0u);
    EXPECT_TRUE(t.settled());
    EXPECT_TRUE(t.problems().empty());
}

TEST(load_webhooks, a_message_deleted_before_it_was_stored_may_have_no_creation_event) {
    webhook_tally t;
    t.add({deletion::acknowledged, {}}, "a/1/1");
    t.add({deletion::unknown, {}}, "a/1/2");  // an unanswered deletion may have happened, early too
    EXPECT_EQ(t.deleted_unrecorded, 2u);
    EXPECT_EQ(t.missing, 0u);
    EXPECT_EQ(t.recorded, 0u);
    EXPECT_TRUE(t.settled());
    EXPECT_TRUE(t.problems().empty());
}

TEST(load_webhooks, missing_and_duplicated_are_violations_with_examples) {
    using enum delivery_status;
    webhook_tally t;
    t.add({deletion::none, {}}, "a/1/1");
    t.add({deletion::none, {delivered, delivered}}, "a/1/2");
    t.add({deletion::none, {delivered}}, "a/1/3");
    EXPECT_EQ(t.acknowledged, 3u);
    EXPECT_EQ(t.missing, 1u);
    EXPECT_EQ(t.recorded, 2u);
    EXPECT_EQ(t.duplicated, 1u);
    EXPECT_EQ(t.delivered, 2u);  // per message, not per row
    EXPECT_FALSE(t.settled());   // a missing row may still come (the drain did not finish)
    auto p = t.problems();
    ASSERT_EQ(p.size(), 2u);
    EXPECT_EQ(p[0].check, "webhooks");
    EXPECT_NE(p[0].text.find("1 acknowledged message creations have no message.created"), std::string::npos);
    EXPECT_NE(p[0].text.find("a/1/1"), std::string::npos);
    EXPECT_NE(p[1].text.find("more than one"), std::string::npos);
    EXPECT_NE(p[1].text.find("a/1/2 (2 rows)"), std::string::npos);
}

TEST(load_webhooks, a_message_is_as_far_as_its_worst_row_and_pending_is_not_settled) {
    using enum delivery_status;
    webhook_tally t;
    t.add({deletion::none, {pending}}, "a/1/1");
    t.add({deletion::none, {delivered, failed}}, "a/1/2");
    t.add({deletion::none, {pending, delivered}}, "a/1/3");
    EXPECT_EQ(t.pending, 2u);
    EXPECT_EQ(t.failed, 1u);
    EXPECT_EQ(t.delivered, 0u);
    EXPECT_EQ(t.recorded, t.delivered + t.failed + t.pending);
    EXPECT_FALSE(t.settled());
    auto p = t.problems();
    ASSERT_EQ(p.size(), 3u);  // duplicated (2), failed, pending
    EXPECT_NE(p[1].text.find("failed"), std::string::npos);
    EXPECT_NE(p[2].text.find("still pending"), std::string::npos);
}

TEST(load_webhooks, examples_are_capped) {
    webhook_tally t;
    for (int i = 0; i < 25; ++i) t.add({deletion::none, {}}, "a/1/" + std::to_string(i));
    EXPECT_EQ(t.missing, 25u);
    EXPECT_EQ(t.missing_examples.size(), webhook_tally::max_examples);
    auto p = t.problems();
    ASSERT_EQ(p.size(), 1u);
    EXPECT_NE(p[0].text.find("25 acknowledged"), std::string::npos);
    EXPECT_NE(p[0].text.find("…)"), std::string::npos);
}
