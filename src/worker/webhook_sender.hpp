#pragma once
// Sends the webhook outbox (store/webhook_outbox.hpp) to the customers' servers. Runs on its own
// thread of chat_worker with its own MariaDB connection and one libcurl multi handle: up to
// CHAT_WEBHOOK_CONCURRENCY attempts in flight, at most CHAT_WEBHOOK_ENDPOINT_CONCURRENCY to one
// endpoint, and one per (endpoint, chat) so a chat's events arrive in order. A slow or dead endpoint
// holds only its own slots: the others go on. Any number of workers send side by side: a claimed
// delivery is leased (timeout + 5 s), so one killed mid-attempt is retried by another after the lease.
//
// Each attempt: the URL is checked again, and every address curl is about to connect to (after its
// own, asynchronous, resolution) is checked in its open-socket callback (domain::forbidden_address,
// unless CHAT_WEBHOOK_ALLOW_PRIVATE): a name that resolves to a private address, now or after a DNS
// change, gets no connection. No redirect is followed and no proxy used. Signed per the Standard
// Webhooks specification.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/config.hpp"
#include "domain/webhook.hpp"
#include "store/mysql.hpp"
#include "store/webhook_outbox.hpp"

namespace chat::worker {

class webhook_sender {
  public:
    webhook_sender(const core::config& cfg, std::atomic<bool>& stop);
    ~webhook_sender();
    webhook_sender(const webhook_sender&) = delete;
    webhook_sender& operator=(const webhook_sender&) = delete;
    // Loops until stop; attempts in flight then are abandoned (their lease lets another retry them).
    void run();

  private:
    struct transfer;
    // Starts what is due. full: it filled every free slot (more may be due at once).
    enum class claimed { some, full, failed };
    claimed claim();
    void start(store::due_delivery d);
    void finish(transfer& t, int curl_code, long status);
    void settle();
    void purge();
    void settle_refused(const store::due_delivery& d, const std::string& why);
    store::attempt_record judge(const store::due_delivery& d, std::int64_t started_ms, std::int64_t now_ms,
                                int status, std::optional<std::string> error);

    const core::config& cfg_;
    std::atomic<bool>& stop_;
    domain::webhook_policy policy_;
    store::mysql_connection db_;
    void* multi_ = nullptr;                                 // CURLM*
    std::map<void*, std::unique_ptr<transfer>> in_flight_;  // by CURL*
    std::map<std::uint64_t, int> per_endpoint_;             // attempts in flight by endpoint
    std::vector<store::attempt_record> settled_;            // not yet written
    std::vector<std::pair<std::uint64_t, std::string>> to_disable_;
    std::mt19937_64 rng_{std::random_device{}()};
};

}  // namespace chat::worker
