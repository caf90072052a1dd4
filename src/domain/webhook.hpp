#pragma once
// The rules of webhooks in one place, pure and unit-tested (tests/unit/domain/webhook_test.cpp): which
// events an endpoint gets, which URLs and addresses it may point at (no way into the private network:
// OWASP API7, server-side request forgery), how an attempt is judged and when the next one is made,
// and the Standard Webhooks signature (https://www.standardwebhooks.com).
#include <array>
#include <boost/asio/ip/address.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace chat::domain {

// The event kinds an endpoint may subscribe to ("*": all of them).
inline constexpr std::array<std::string_view, 9> webhook_event_kinds{
    "app.updated",     "chat.created", "chat.deleted",   "message.created", "message.updated",
    "message.deleted", "member.added", "member.removed", "read.updated"};
bool is_webhook_event_kind(std::string_view kind);
// A subscription list as given by a client: 1..9 known kinds, or exactly ["*"]. Duplicates are
// dropped; errc::invalid_field names the first unknown kind.
core::result<std::vector<std::string>> parse_webhook_events(const std::vector<std::string>& given);
// Stored form (comma-separated) and back.
std::string join_webhook_events(const std::vector<std::string>& events);
std::vector<std::string> split_webhook_events(std::string_view stored);
bool webhook_subscribes(const std::vector<std::string>& events, std::string_view kind);
// The body every delivery carries: {"type": kind, "timestamp": RFC 3339 of at_ms, "data": data}.
std::string webhook_body(std::string_view kind, std::int64_t at_ms, boost::json::object data);

// A webhook URL, checked: http(s) only, a host, no user info, no fragment, at most 2048 characters.
struct webhook_url {
    std::string scheme;  // "https" or "http"
    std::string host;    // a name, or an address literal without brackets
    std::uint16_t port = 0;
    std::string target;  // path and query, "/" when empty
};
struct webhook_policy {
    bool allow_http = false;     // CHAT_WEBHOOK_ALLOW_HTTP=1
    bool allow_private = false;  // CHAT_WEBHOOK_ALLOW_PRIVATE=1 (development and tests only)
};
// errc::invalid_field with a message a client can act on.
core::result<webhook_url> parse_webhook_url(std::string_view url, const webhook_policy& policy);
// Whether a webhook may never connect to this address: unspecified, loopback, private (RFC 1918),
// carrier-grade NAT, link-local (cloud metadata 169.254.169.254 among them), multicast, reserved,
// broadcast, IPv6 unique-local and link-local, and IPv4 addresses mapped, compatible or NAT64-embedded
// in IPv6 when the IPv4 one is forbidden.
bool forbidden_address(const boost::asio::ip::address& a);

// What an attempt's answer means. `status` 0: no answer (connection error, timeout, refused address).
enum class attempt_verdict {
    delivered,  // 2xx
    retry,      // no answer, 408, 429, 5xx
    give_up,    // any other status: the receiver refused it; not retried
};
attempt_verdict judge_attempt(int status);
// The wait before the next attempt after `failed` failed ones (1, 2, …): 5 s doubling up to 1 h, with
// `jitter` in [0, 1) taking off up to a fifth (so retries of many endpoints spread out).
std::int64_t retry_delay_ms(int failed, double jitter);
// Whether a delivery that failed again is abandoned: its event is older than the retry window.
bool retry_window_over(std::int64_t event_at_ms, std::int64_t now_ms, std::int64_t window_ms);

// The Standard Webhooks signature of one request: "v1," + base64(HMAC-SHA256(key, "id.timestamp.body"))
// where key is the base64 part of the signing secret ("whsec_…"). std::nullopt when the secret is not
// of that form.
std::optional<std::string> webhook_signature(std::string_view signing_secret, std::string_view message_id,
                                             std::int64_t timestamp_s, std::string_view body);
// A new signing secret: "whsec_" + base64 of 32 random bytes.
std::string make_webhook_secret();
// A new public id for an endpoint: "wh_" + 16 base64url characters.
std::string make_webhook_id();

}  // namespace chat::domain
