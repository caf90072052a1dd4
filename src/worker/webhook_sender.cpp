#include "worker/webhook_sender.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstring>
#include <thread>

#include "core/time.hpp"

namespace chat::worker {

namespace {

constexpr std::size_t max_response_bytes = 4096;  // what an answer's body may cost us: read, dropped

std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

size_t drop_body(char*, size_t size, size_t n, void* userdata) {
    auto* seen = static_cast<std::size_t*>(userdata);
    *seen += size * n;
    // Reading past the limit ends the transfer (an error): the status line is all we need.
    return *seen > max_response_bytes * 256 ? 0 : size * n;
}

// curl asks here for every socket it would connect: the address it resolved (or was given) is checked
// at that moment, so a name that resolves to a private address, now or after a DNS change, is refused
// before any byte is sent to it.
struct socket_guard {
    bool allow_private = false;
    bool refused = false;
};

curl_socket_t open_checked_socket(void* clientp, curlsocktype, curl_sockaddr* address) {
    auto* guard = static_cast<socket_guard*>(clientp);
    if (!guard->allow_private) {
        boost::asio::ip::address a;
        if (address->family == AF_INET) {
            const auto* in = reinterpret_cast<const sockaddr_in*>(&address->addr);
            a = boost::asio::ip::address_v4(ntohl(in->sin_addr.s_addr));
        } else if (address->family == AF_INET6) {
            const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&address->addr);
            boost::asio::ip::address_v6::bytes_type bytes;
            std::memcpy(bytes.data(), in6->sin6_addr.s6_addr, bytes.size());
            a = boost::asio::ip::address_v6(bytes);
        } else {
            guard->refused = true;
            return CURL_SOCKET_BAD;
        }
        if (domain::forbidden_address(a)) {
            guard->refused = true;
            return CURL_SOCKET_BAD;
        }
    }
    return ::socket(address->family, address->socktype, address->protocol);
}

}  // namespace

struct webhook_sender::transfer {
    store::due_delivery d;
    CURL* easy = nullptr;
    curl_slist* headers = nullptr;
    socket_guard guard;
    std::size_t response_bytes = 0;
    std::int64_t started_ms = 0;  // wall clock, for the record
    std::int64_t started_steady_ms = 0;
    char error[CURL_ERROR_SIZE] = {};
    ~transfer() {
        if (headers) curl_slist_free_all(headers);
        if (easy) curl_easy_cleanup(easy);
    }
};

webhook_sender::webhook_sender(const core::config& cfg, std::atomic<bool>& stop)
    : cfg_(cfg), stop_(stop), policy_{cfg.webhook_allow_http, cfg.webhook_allow_private}, db_(cfg.mysql) {
    multi_ = curl_multi_init();
    if (multi_ == nullptr) throw std::runtime_error("curl_multi_init failed");
}

webhook_sender::~webhook_sender() {
    for (auto& [easy, t] : in_flight_) curl_multi_remove_handle(static_cast<CURLM*>(multi_), t->easy);
    in_flight_.clear();
    curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void webhook_sender::run() {
    auto* multi = static_cast<CURLM*>(multi_);
    std::int64_t next_claim = 0, next_purge = 0;
    while (!stop_) {
        const auto now = steady_ms();
        if (now >= next_purge) {
            purge();
            next_purge = now + 600'000;
        }
        if (now >= next_claim && static_cast<int>(in_flight_.size()) < cfg_.webhook_concurrency) {
            // A full claim: there may be more due at once; otherwise look again after the poll interval.
            // MariaDB away: look again in a few seconds (one warning each time, not one per poll).
            switch (claim()) {
                case claimed::full:
                    next_claim = now;
                    break;
                case claimed::some:
                    next_claim = now + cfg_.webhook_poll_ms;
                    break;
                case claimed::failed:
                    next_claim = now + 5000;
                    break;
            }
        }
        int running = 0;
        curl_multi_perform(multi, &running);
        int left = 0;
        bool finished_any = false;
        while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
            if (m->msg != CURLMSG_DONE) continue;
            auto it = in_flight_.find(m->easy_handle);
            if (it == in_flight_.end()) continue;
            long status = 0;
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            finish(*it->second, m->data.result, status);
            curl_multi_remove_handle(multi, m->easy_handle);
            if (--per_endpoint_[it->second->d.webhook_id] <= 0) per_endpoint_.erase(it->second->d.webhook_id);
            in_flight_.erase(it);
            finished_any = true;
        }
        settle();
        // A finished attempt frees its chat's next event (and a slot): claim again at once rather than
        // after the poll interval, so a chat's events follow each other at the receiver's pace.
        if (finished_any && next_claim > now) next_claim = now;
        const int wait = static_cast<int>(std::clamp<std::int64_t>(next_claim - steady_ms(), 1, 100));
        curl_multi_poll(multi, nullptr, 0, wait, nullptr);
    }
    settle();
}

webhook_sender::claimed webhook_sender::claim() {
    std::vector<std::uint64_t> busy;
    for (const auto& [id, n] : per_endpoint_)
        if (n >= cfg_.webhook_endpoint_concurrency) busy.push_back(id);
    const int room = cfg_.webhook_concurrency - static_cast<int>(in_flight_.size());
    const std::int64_t lease_ms = cfg_.webhook_timeout_ms + 5000;
    auto due = store::claim_due_deliveries(db_, room, cfg_.webhook_endpoint_concurrency, lease_ms, busy);
    if (!due) {
        spdlog::warn("webhooks: cannot claim deliveries: {}", due.error().message);
        return claimed::failed;
    }
    const bool full = static_cast<int>(due->size()) >= room;
    for (auto& d : *due) start(std::move(d));
    return full ? claimed::full : claimed::some;
}

void webhook_sender::start(store::due_delivery d) {
    auto url = domain::parse_webhook_url(d.url, policy_);
    if (!url) return settle_refused(d, "the url is no longer accepted: " + url.error().message);
    const auto ts = core::now_ms() / 1000;
    auto signature = domain::webhook_signature(d.signing_secret, d.message_id, ts, d.payload);
    if (!signature) return settle_refused(d, "the endpoint's signing secret is unusable");
    if (d.previous_secret)
        if (auto old = domain::webhook_signature(*d.previous_secret, d.message_id, ts, d.payload))
            *signature += " " + *old;

    auto t = std::make_unique<transfer>();
    t->easy = curl_easy_init();
    if (t->easy == nullptr) return settle_refused(d, "out of resources");
    CURL* e = t->easy;
    t->guard.allow_private = policy_.allow_private;
    t->headers = curl_slist_append(t->headers, "Content-Type: application/json");
    t->headers = curl_slist_append(t->headers, ("webhook-id: " + d.message_id).c_str());
    t->headers = curl_slist_append(t->headers, ("webhook-timestamp: " + std::to_string(ts)).c_str());
    t->headers = curl_slist_append(t->headers, ("webhook-signature: " + *signature).c_str());
    t->headers = curl_slist_append(t->headers, "User-Agent: chat-webhooks/1");
    t->headers = curl_slist_append(t->headers, "Expect:");
    curl_easy_setopt(e, CURLOPT_URL, d.url.c_str());
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_checked_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, &t->guard);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg_.webhook_timeout_ms));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(cfg_.webhook_timeout_ms));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(d.payload.size()));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, drop_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t->response_bytes);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    t->d = std::move(d);  // the body curl sends lives in the transfer
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->d.payload.data());
    t->started_ms = core::now_ms();
    t->started_steady_ms = steady_ms();
    if (curl_multi_add_handle(static_cast<CURLM*>(multi_), e) != CURLM_OK)
        return settle_refused(t->d, "out of resources");
    ++per_endpoint_[t->d.webhook_id];
    in_flight_.emplace(e, std::move(t));
}

store::attempt_record webhook_sender::judge(const store::due_delivery& d, std::int64_t started_ms,
                                            std::int64_t now_ms, int status,
                                            std::optional<std::string> error) {
    store::attempt_record r;
    r.seq = d.seq;
    r.app_id = d.app_id;
    r.webhook_id = d.webhook_id;
    r.attempt = d.attempts + 1;
    r.at_ms = started_ms;
    r.duration_ms = now_ms - started_ms;
    if (status > 0) r.status_code = status;
    r.error = std::move(error);
    switch (domain::judge_attempt(status)) {
        case domain::attempt_verdict::delivered:
            r.next = store::attempt_record::then::delivered;
            break;
        case domain::attempt_verdict::give_up:
            r.next = store::attempt_record::then::failed;
            break;
        case domain::attempt_verdict::retry: {
            r.next = store::attempt_record::then::retry;
            std::uniform_real_distribution<double> jitter(0.0, 1.0);
            r.next_attempt_at_ms = now_ms + domain::retry_delay_ms(r.attempt, jitter(rng_));
            const std::int64_t window_ms = std::int64_t{cfg_.webhook_retry_window_s} * 1000;
            // Failing for the whole window: the endpoint stops; the delivery waits for it.
            if (domain::retry_window_over(d.event_at_ms, now_ms, window_ms))
                to_disable_.emplace_back(
                    d.webhook_id,
                    fmt::format("deliveries failed for {} s (the retry window); the last attempt: {}",
                                cfg_.webhook_retry_window_s,
                                status > 0 ? fmt::format("HTTP {}", status) : r.error.value_or("no answer")));
            break;
        }
    }
    return r;
}

void webhook_sender::finish(transfer& t, int curl_code, long status) {
    std::optional<std::string> error;
    int code = static_cast<int>(status);
    if (curl_code != CURLE_OK) {
        // A transfer error is "no answer" even if a status line came (e.g. a body too large or cut).
        code = 0;
        error =
            t.error[0] != '\0' ? std::string(t.error) : curl_easy_strerror(static_cast<CURLcode>(curl_code));
        if (curl_code == CURLE_OPERATION_TIMEDOUT) error = "timed out";
        if (t.guard.refused) error = "the url resolves to a private or reserved address";
    }
    settled_.push_back(
        judge(t.d, t.started_ms, t.started_ms + (steady_ms() - t.started_steady_ms), code, error));
}

void webhook_sender::settle_refused(const store::due_delivery& d, const std::string& why) {
    const auto now = core::now_ms();
    settled_.push_back(judge(d, now, now, 0, why));
}

void webhook_sender::purge() {
    // Any worker may purge (deleting settled rows twice is harmless): a bounded batch per pass.
    const auto before = core::now_ms() - std::int64_t{cfg_.webhook_keep_days} * 86'400'000;
    if (auto gone = store::purge_webhook_deliveries(db_, before, 10000); !gone)
        spdlog::warn("webhooks: cannot purge settled deliveries: {}", gone.error().message);
}

void webhook_sender::settle() {
    if (!settled_.empty()) {
        auto ok = store::settle_attempts(db_, settled_);
        // Unsettled attempts are retried when their lease ends: at least once, never lost.
        if (!ok) spdlog::warn("webhooks: cannot record {} attempts: {}", settled_.size(), ok.error().message);
        settled_.clear();
    }
    for (const auto& [id, reason] : to_disable_) {
        if (auto ok = store::disable_webhook(db_, id, reason, core::now_ms()); !ok)
            spdlog::warn("webhooks: cannot disable an endpoint: {}", ok.error().message);
        else
            spdlog::warn("webhooks: endpoint {} disabled: {}", id, reason);
    }
    to_disable_.clear();
}

}  // namespace chat::worker
