#pragma once
// What a run saw: latency and outcome per operation, errors by kind, every acknowledged creation and
// the creations that failed (the verifier's input), and the report built from them. Each I/O thread
// fills its own recorder without locks; they are merged after the run.
#include <array>
#include <boost/json/object.hpp>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "histogram.hpp"
#include "options.hpp"

namespace chat::load {

enum class ack_kind { app, chat, message };

struct ack_record {
    ack_kind kind = ack_kind::message;
    std::string token;
    std::uint64_t chat = 0;    // chats and messages
    std::uint64_t number = 0;  // messages
    std::uint64_t hash = 0;    // messages: FNV-1a 64 of the body
    std::int64_t ack_ms = 0;   // wall clock, epoch milliseconds
};

// A deletion of a message the run created (--delete-percent). Acknowledged: answered 204. Otherwise every
// attempt failed (a 503, a lost answer…): the deletion may or may not have happened.
struct delete_record {
    std::string token;
    std::uint64_t chat = 0;
    std::uint64_t number = 0;
    bool acknowledged = false;
    std::int64_t at_ms = 0;  // wall clock of the 204, or of the last attempt
};

// The verifier's input: written by --record, read back by --verify-only.
struct run_record {
    std::vector<ack_record> acks;
    std::vector<delete_record> deletes;
    // Logical creations that finally failed (after retries): each may have consumed a number.
    std::map<std::pair<std::string, std::uint64_t>, std::uint64_t> failed_messages;  // (token, chat)
    std::map<std::string, std::uint64_t> failed_chats;                               // token
    // --webhook: the endpoint registered for each application (token -> public id, "wh_…").
    std::map<std::string, std::string> webhooks;
};

// Deletions answered 204, and the others (first, second).
std::pair<std::uint64_t, std::uint64_t> deletion_counts(const run_record& r);

// Throws std::runtime_error naming the file and line.
void write_record(const std::string& path, const run_record& r);
run_record read_record(const std::string& path);

struct op_stats {
    histogram latency_us;
    std::uint64_t count = 0;
    std::uint64_t ok = 0;
    std::uint64_t failed = 0;
    std::uint64_t retries = 0;  // attempts beyond the first
};

struct error_count {
    std::uint64_t attempts = 0;  // attempts that ended with this kind
    std::uint64_t final = 0;     // logical operations that ended with it (after retries)
};

struct failure_sample {
    std::string op;
    std::string kind;
    std::string detail;
    std::string target;
    std::string request_id;
};

class recorder {
  public:
    static constexpr std::size_t max_samples = 20;

    // A finished logical operation; only operations of the measured window enter the statistics.
    void op_done(op_kind op, bool measured, bool ok, int attempts, std::uint64_t latency_us);
    void attempt_error(op_kind op, const std::string& kind);
    void final_error(op_kind op, const std::string& kind);
    // bad_failure and wrong_number: counted, and the first ones kept with their details.
    void bad(op_kind op, const std::string& kind, std::string detail, std::string target,
             std::string request_id);
    void ack(ack_record r) { record_.acks.push_back(std::move(r)); }
    void failed_message(const std::string& token, std::uint64_t chat) {
        ++record_.failed_messages[{token, chat}];
    }
    void failed_chat(const std::string& token) { ++record_.failed_chats[token]; }
    void deletion(delete_record d) { record_.deletes.push_back(std::move(d)); }
    void webhook(const std::string& token, std::string id) { record_.webhooks[token] = std::move(id); }
    void merge(recorder&& o);

    const std::array<op_stats, op_count>& ops() const { return ops_; }
    const std::map<std::pair<std::string, op_kind>, error_count>& errors() const { return errors_; }
    const std::vector<failure_sample>& samples() const { return samples_; }
    std::uint64_t bad_failures() const { return bad_failures_; }
    std::uint64_t wrong_numbers() const { return wrong_numbers_; }
    const run_record& record() const { return record_; }

  private:
    std::array<op_stats, op_count> ops_;
    std::map<std::pair<std::string, op_kind>, error_count> errors_;
    std::vector<failure_sample> samples_;
    std::uint64_t bad_failures_ = 0;
    std::uint64_t wrong_numbers_ = 0;
    run_record record_;
};

struct run_summary {
    double window_s = 0;         // the measured window
    std::uint64_t not_sent = 0;  // open loop: scheduled requests still queued when the run gave up
    std::uint64_t max_backlog = 0;
    bool open_loop = false;
};

// The aligned tables on `out`, and the same as JSON.
void print_report(std::FILE* out, const recorder& r, const run_summary& s);
boost::json::object report_json(const recorder& r, const run_summary& s, const options& o);
// Latency percentiles of a histogram of microseconds, in milliseconds.
boost::json::object latency_json(const histogram& h);

}  // namespace chat::load
