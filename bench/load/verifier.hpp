#pragma once
// After the load: checks in MariaDB and Elasticsearch themselves (never through the API, which answers
// from Redis for creations not stored yet) that every acknowledged creation was stored once, numbered
// without unexplained holes, made searchable and counted; and measures, for a sample, how long an
// acknowledged message takes to be stored and to be searchable.
#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/config.hpp"
#include "histogram.hpp"
#include "recorder.hpp"
#include "store/numbering.hpp"

namespace chat::load {

struct violation {
    std::string check;  // drain, stored, numbering, search, delete, counts, webhooks
    std::string text;
};

struct gap_report {
    std::vector<std::uint64_t> missing;  // numbers in 1..max(stored) that are not stored
    bool allowed = true;                 // as many failed creations as holes (or more)
};

// A hole in a numbering is explained only by a creation that failed for its client after taking a
// number (e.g. its event never reached the broker); never more holes than such failures.
gap_report find_gaps(const std::vector<std::uint64_t>& stored_sorted, std::uint64_t failed_creations);

// --- deletions ---------------------------------------------------------------------------------
// What the run knows of a message's deletion: none sent; acknowledged (204); or sent without a 204
// (a 503 after the retries, a lost answer): it may or may not have happened.
enum class deletion { none, acknowledged, unknown };

// The fingerprint (store::fingerprint, as every body hash here) of the empty body: what an erased
// message holds, in MariaDB and in its search document.
inline const std::uint64_t erased_body_hash = store::fingerprint("");

// One acknowledged message as the verifier found it in MariaDB and (when looked at) Elasticsearch.
struct message_facts {
    std::uint64_t acknowledged_hash = 0;  // of the body its creation was acknowledged with
    bool row = false;                     // its row in MariaDB exists
    std::uint64_t row_hash = 0;           // of the row's body
    bool row_deleted = false;             // deleted_at IS NOT NULL
    std::uint64_t versions = 0;           // its rows in message_versions (edit history)
    enum class doc { unchecked, absent, found };
    doc search = doc::unchecked;  // its document as searches see it (absent: none, or no body string)
    std::uint64_t doc_hash = 0;   // of the document's body, when found
};

enum class message_fate {
    kept,    // stored with its acknowledged body, not deleted (and searchable, when looked at)
    erased,  // a tombstone: body '', deleted_at set, no edit history (and no body in search)
    broken,  // neither: a violation says why
};

struct message_judgement {
    message_fate fate = message_fate::broken;
    // Empty when the facts agree with what the run knows; otherwise the violation's check ("stored":
    // the acknowledged message is lost or altered; "delete": a deletion did not do what it should or
    // did half of it; "search") and what follows "message <token>/<chat>/<number>" in its text.
    std::string check;
    std::string problem;
};

// The rule of check 4 (and of check 1 for messages never deleted): a message never deleted must be
// kept; an acknowledged deletion's message erased, in MariaDB and in search; an unanswered deletion's
// either, but the same in both stores. An erased message counts as lost ("stored") only when the run
// never deleted it; a deletion that went wrong is a "delete" violation, not a loss.
message_judgement judge_message(deletion d, const message_facts& f);

// --- webhooks (--webhook, check 7) ------------------------------------------------------------
// The status of a row of webhook_deliveries.
enum class delivery_status { pending, delivered, failed };
std::optional<delivery_status> delivery_status_from(std::string_view text);

// What webhook_deliveries holds for one acknowledged message at its application's endpoint: the status
// of each of its message.created rows (exactly one when all is well).
struct webhook_message {
    deletion d = deletion::none;
    std::vector<delivery_status> rows;
};

// Every count is of acknowledged messages (not rows): acknowledged = recorded + missing +
// deleted_unrecorded, and recorded = delivered + failed + pending.
struct webhook_tally {
    std::uint64_t acknowledged = 0;  // acknowledged creations of the applications with an endpoint
    std::uint64_t recorded = 0;      // with a message.created row
    std::uint64_t delivered = 0;     // every row delivered
    std::uint64_t failed = 0;        // a row given up on (a 4xx, or the retry window passed)
    std::uint64_t pending = 0;       // a row still pending, none failed
    std::uint64_t missing = 0;       // no row though the run never deleted it
    // No row, but the run deleted it (a creation deleted before the worker stored it records a
    // message.deleted only): not a violation.
    std::uint64_t deleted_unrecorded = 0;
    std::uint64_t duplicated = 0;  // more than one row

    // The first few missing and duplicated messages, by name ("<token>/<chat>/<number>").
    static constexpr std::size_t max_examples = 10;
    std::vector<std::string> missing_examples;
    std::vector<std::string> duplicated_examples;

    void add(const webhook_message& m, std::string_view name);
    // Nothing left to wait for: every message recorded (or excused by its deletion) and none pending.
    bool settled() const { return missing == 0 && pending == 0; }
    // The violations of check 7 (check "webhooks"): missing, duplicated, failed and still pending
    // messages, one violation per kind with its count and examples; none when the counts are clean.
    std::vector<violation> problems() const;
};

// Polls MariaDB by primary key and Elasticsearch by document id every ~20 ms, from its own thread and
// connections, for the acknowledged messages offered to it.
class lag_sampler {
  public:
    explicit lag_sampler(core::config cfg) : cfg_(std::move(cfg)) {}
    ~lag_sampler();
    lag_sampler(const lag_sampler&) = delete;
    lag_sampler& operator=(const lag_sampler&) = delete;

    void start();
    // Thread-safe; the lag counts from this call (right after the acknowledgement).
    void offer(const std::string& token, std::uint64_t chat, std::uint64_t number);
    // Stops once every sample was seen in both stores, or at the deadline.
    void finish(std::chrono::steady_clock::time_point deadline);

    const histogram& stored_us() const { return stored_; }
    const histogram& searchable_us() const { return searchable_; }
    std::size_t sampled() const { return sampled_; }
    std::size_t unresolved() const { return unresolved_; }
    const std::string& last_error() const { return last_error_; }

  private:
    struct sample {
        std::string token;
        std::uint64_t app_id = 0;
        std::uint64_t chat = 0;
        std::uint64_t number = 0;
        std::chrono::steady_clock::time_point acked;
        bool stored = false;
        bool searchable = false;
    };
    void loop();

    core::config cfg_;
    std::mutex mutex_;
    std::vector<sample> incoming_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::int64_t> deadline_ns_{0};
    std::thread thread_;
    histogram stored_;
    histogram searchable_;
    std::size_t sampled_ = 0;
    std::size_t unresolved_ = 0;
    std::string last_error_;
};

struct verify_settings {
    std::chrono::milliseconds drain_timeout{120000};
    std::chrono::milliseconds count_timeout{150000};
    int es_sample = 200;
    bool quiet = false;
};

class verifier {
  public:
    static constexpr std::size_t shown_violations = 50;

    verifier(core::config cfg, verify_settings s) : cfg_(std::move(cfg)), s_(s) {}
    // Checks 1-5 on the record, and 7 when it names webhook endpoints; the lag (6) comes from the
    // sampler when there is one. True when clean.
    bool run(const run_record& r, lag_sampler* lag);
    void print(std::FILE* out) const;
    boost::json::object to_json() const;
    std::size_t violation_count() const { return violations_.size(); }

  private:
    void fail(const std::string& check, std::string text) { violations_.push_back({check, std::move(text)}); }

    core::config cfg_;
    verify_settings s_;
    std::vector<violation> violations_;
    std::vector<std::string> allowed_gaps_;
    boost::json::object figures_;  // the numbers of each check, for the report
    const lag_sampler* lag_ = nullptr;
    histogram webhook_lag_us_;  // event -> delivered_at of the delivered message.created rows
};

}  // namespace chat::load
