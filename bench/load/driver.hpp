#pragma once
// Runs the load: a few I/O threads, each with its own io_context, recorder and random generator, and
// its share of the connections. Closed loop: each connection sends its next request when the previous
// one is answered. Open loop: requests are scheduled on a fixed timeline and wait in a queue for a free
// connection; their latency counts from the scheduled time.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "http_client.hpp"
#include "options.hpp"
#include "recorder.hpp"
#include "workload.hpp"

namespace chat::load {

// Told about acknowledged messages chosen for the lag measurement (called on I/O threads).
using ack_listener = std::function<void(const std::string& token, std::uint64_t chat, std::uint64_t number,
                                        std::uint64_t hash)>;

class driver {
  public:
    driver(const options& o, std::vector<resolved_target> targets, ack_listener on_sampled_ack);
    ~driver();
    driver(const driver&) = delete;
    driver& operator=(const driver&) = delete;

    // Creates the applications, their chats and first messages. False when not one chat could be created.
    bool setup();
    // The warmup and the measured window.
    void run();
    // Every thread's recorder, merged (setup included).
    recorder results();
    run_summary summary() const;
    // --webhook: why the first registration that failed did (empty when none did). A setup error.
    std::string webhook_error() const;

  private:
    struct lane;
    struct slot;
    struct creation;
    struct replay_plan;
    struct pending_delete;

    void run_lanes(const char* phase);
    // One operation, from its start (closed loop) or scheduled time (open loop).
    asio::awaitable<void> execute(lane& l, slot& s, op_kind op, std::chrono::steady_clock::time_point start,
                                  bool measured, std::size_t subject = npos);
    // The target of a retried request's attempt, after a pause once every target was tried.
    asio::awaitable<std::size_t> target_for(lane& l, const slot& s, int attempt);
    asio::awaitable<creation> create(lane& l, slot& s, op_kind op, const std::string& path,
                                     const std::string& body, const std::string& key,
                                     const std::string& credential = {});
    asio::awaitable<void> replay(lane& l, slot& s, const replay_plan& p, bool measured);
    // --delete-percent: deletes a message the run created, retried like a creation; records whether it
    // was acknowledged (204).
    asio::awaitable<void> delete_message(lane& l, slot& s, const pending_delete& d, bool measured);
    // The deletions still waiting when the timed run ended, sent at their time.
    void drain_deletes();
    asio::awaitable<bool> read(lane& l, slot& s, op_kind op, const std::string& path,
                               const std::function<std::string(const boost::json::value&)>& check,
                               const std::string& credential = {});
    // --user-tokens: restricts a new application with its secret and mints the user token its requests
    // carry; the Authorization value, or empty when either step failed.
    asio::awaitable<std::string> restrict(lane& l, slot& s, const std::string& token,
                                          const std::string& secret);
    // --webhook: registers the endpoint {"url": --webhook, "events": ["*"]} with the application's
    // secret; its id ("wh_…"), or empty when it could not (webhook_error() then says why).
    asio::awaitable<std::string> register_webhook(lane& l, slot& s, const std::string& token,
                                                  const std::string& secret);

    // Each fills `attempts`, and `then` when the acknowledged creation is to be replayed.
    asio::awaitable<bool> create_message(lane& l, slot& s, std::size_t chat, int& attempts,
                                         std::optional<replay_plan>& then);
    asio::awaitable<bool> create_chat(lane& l, slot& s, std::size_t app, int& attempts,
                                      std::optional<replay_plan>& then);
    asio::awaitable<bool> create_app(lane& l, slot& s, int& attempts);

    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    const options& o_;
    std::vector<resolved_target> targets_;
    ack_listener on_sampled_ack_;
    std::string run_id_;
    world world_;
    std::unique_ptr<bench::vocabulary> vocab_;
    op_mix mix_;
    std::vector<std::unique_ptr<lane>> lanes_;
    run_summary summary_;
    mutable std::mutex webhook_mutex_;
    std::string webhook_error_;
};

}  // namespace chat::load
