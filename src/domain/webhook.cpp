#include "domain/webhook.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <cmath>

#include "core/crypto.hpp"
#include "core/time.hpp"

namespace chat::domain {

namespace {

core::error invalid(std::string message) {
    return core::make_error(core::errc::invalid_field, std::move(message));
}

bool forbidden_v4(const boost::asio::ip::address_v4& a) {
    const std::uint32_t v = a.to_uint();
    const auto in = [v](std::uint32_t net, int prefix_bits) {
        const std::uint32_t mask = ~std::uint32_t{0} << (32 - prefix_bits);
        return (v & mask) == net;
    };
    return in(0x00000000, 8)      // 0/8: "this network"
           || in(0x0a000000, 8)   // 10/8
           || in(0x64400000, 10)  // 100.64/10: carrier-grade NAT
           || in(0x7f000000, 8)   // 127/8: loopback
           || in(0xa9fe0000, 16)  // 169.254/16: link-local, cloud metadata
           || in(0xac100000, 12)  // 172.16/12
           || in(0xc0000000, 24)  // 192.0.0/24: IETF protocol assignments
           || in(0xc0000200, 24)  // 192.0.2/24: documentation
           || in(0xc0a80000, 16)  // 192.168/16
           || in(0xc6120000, 15)  // 198.18/15: benchmarking
           || in(0xc6336400, 24)  // 198.51.100/24: documentation
           || in(0xcb007100, 24)  // 203.0.113/24: documentation
           || in(0xe0000000, 4)   // 224/4: multicast
           || in(0xf0000000, 4);  // 240/4: reserved, and the broadcast address
}

}  // namespace

bool is_webhook_event_kind(std::string_view kind) {
    return std::find(webhook_event_kinds.begin(), webhook_event_kinds.end(), kind) !=
           webhook_event_kinds.end();
}

core::result<std::vector<std::string>> parse_webhook_events(const std::vector<std::string>& given) {
    if (given.empty()) return invalid("events must list at least one event kind, or \"*\"");
    if (given.size() == 1 && given[0] == "*") return std::vector<std::string>{"*"};
    std::vector<std::string> out;
    for (const auto& k : given) {
        if (k == "*") return invalid("\"*\" stands alone in events");
        if (!is_webhook_event_kind(k)) {
            auto shown = k.size() > 40 ? k.substr(0, 40) + "…" : k;
            return invalid("unknown event kind in events: " + shown);
        }
        if (std::find(out.begin(), out.end(), k) == out.end()) out.push_back(k);
    }
    return out;
}

std::string join_webhook_events(const std::vector<std::string>& events) {
    std::string out;
    for (const auto& e : events) {
        if (!out.empty()) out += ',';
        out += e;
    }
    return out;
}

std::vector<std::string> split_webhook_events(std::string_view stored) {
    std::vector<std::string> out;
    while (!stored.empty()) {
        auto comma = stored.find(',');
        auto part = stored.substr(0, comma);
        if (!part.empty()) out.emplace_back(part);
        if (comma == std::string_view::npos) break;
        stored.remove_prefix(comma + 1);
    }
    return out;
}

bool webhook_subscribes(const std::vector<std::string>& events, std::string_view kind) {
    return std::any_of(events.begin(), events.end(), [&](const auto& e) { return e == "*" || e == kind; });
}

std::string webhook_body(std::string_view kind, std::int64_t at_ms, boost::json::object data) {
    return boost::json::serialize(
        boost::json::object{{"type", kind}, {"timestamp", core::iso8601(at_ms)}, {"data", std::move(data)}});
}

core::result<webhook_url> parse_webhook_url(std::string_view url, const webhook_policy& policy) {
    if (url.size() > 2048) return invalid("url is longer than 2048 characters");
    auto u = boost::urls::parse_absolute_uri(url);
    if (!u) return invalid("url is not an absolute URL");
    webhook_url out;
    if (u->scheme_id() == boost::urls::scheme::https) {
        out.scheme = "https";
        out.port = 443;
    } else if (u->scheme_id() == boost::urls::scheme::http) {
        if (!policy.allow_http) return invalid("url must be https");
        out.scheme = "http";
        out.port = 80;
    } else {
        return invalid("url must be https");
    }
    if (u->has_userinfo()) return invalid("url must not carry user information");
    if (u->has_fragment()) return invalid("url must not have a fragment");
    switch (u->host_type()) {
        case boost::urls::host_type::name:
            out.host = u->encoded_host().decode();
            if (out.host.empty()) return invalid("url has no host");
            break;
        case boost::urls::host_type::ipv4:
            out.host = u->host_ipv4_address().to_string();
            break;
        case boost::urls::host_type::ipv6:
            out.host = u->host_ipv6_address().to_string();
            break;
        default:
            return invalid("url has no usable host");
    }
    // Lower case, no trailing dot: "LOCALHOST." is localhost.
    std::transform(out.host.begin(), out.host.end(), out.host.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!out.host.empty() && out.host.back() == '.') out.host.pop_back();
    if (out.host.empty()) return invalid("url has no host");
    if (u->has_port()) {
        auto p = u->port_number();
        if (p == 0) return invalid("url has an invalid port");
        out.port = p;
    }
    out.target = std::string(u->encoded_path());
    if (out.target.empty()) out.target = "/";
    if (u->has_query()) out.target += "?" + std::string(u->encoded_query());
    if (!policy.allow_private) {
        boost::system::error_code ec;
        auto literal = boost::asio::ip::make_address(out.host, ec);
        if (!ec && forbidden_address(literal)) return invalid("url points at a private or reserved address");
        if (out.host == "localhost" || out.host.ends_with(".localhost"))
            return invalid("url points at a private or reserved address");
    }
    return out;
}

bool forbidden_address(const boost::asio::ip::address& a) {
    if (a.is_v4()) return forbidden_v4(a.to_v4());
    const auto v6 = a.to_v6();
    if (v6.is_v4_mapped())
        return forbidden_v4(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6));
    const auto b = v6.to_bytes();
    const auto zero_prefix = [&](int n) {
        return std::all_of(b.begin(), b.begin() + n, [](auto x) { return x == 0; });
    };
    if (v6.is_unspecified() || v6.is_loopback()) return true;
    // ::/96 (::, ::1, IPv4-compatible addresses): never a public target. 64:ff9b::/96 (NAT64): the
    // embedded IPv4 address decides.
    if (zero_prefix(12)) return true;
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
        std::all_of(b.begin() + 4, b.begin() + 12, [](auto x) { return x == 0; }))
        return forbidden_v4(boost::asio::ip::address_v4({b[12], b[13], b[14], b[15]}));
    if ((b[0] & 0xfe) == 0xfc) return true;                  // fc00::/7: unique local (fd00:ec2::254 too)
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return true;  // fe80::/10: link-local
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return true;  // fec0::/10: site-local (deprecated)
    if (b[0] == 0xff) return true;                           // ff00::/8: multicast
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
        return true;  // 2001:db8::/32: documentation
    // 2002::/16 (6to4) embeds an IPv4 address in bytes 2..5.
    if (b[0] == 0x20 && b[1] == 0x02)
        return forbidden_v4(boost::asio::ip::address_v4({b[2], b[3], b[4], b[5]}));
    return false;
}

attempt_verdict judge_attempt(int status) {
    if (status >= 200 && status < 300) return attempt_verdict::delivered;
    if (status == 0 || status == 408 || status == 429 || status >= 500) return attempt_verdict::retry;
    return attempt_verdict::give_up;
}

std::int64_t retry_delay_ms(int failed, double jitter) {
    constexpr std::int64_t first_ms = 5000, cap_ms = 3600 * 1000;
    std::int64_t d = first_ms;
    for (int i = 1; i < failed && d < cap_ms; ++i) d *= 2;
    d = std::min(d, cap_ms);
    jitter = std::clamp(jitter, 0.0, 1.0);
    return d - static_cast<std::int64_t>(std::floor(static_cast<double>(d) * 0.2 * jitter));
}

bool retry_window_over(std::int64_t event_at_ms, std::int64_t now_ms, std::int64_t window_ms) {
    return now_ms - event_at_ms >= window_ms;
}

std::optional<std::string> webhook_signature(std::string_view signing_secret, std::string_view message_id,
                                             std::int64_t timestamp_s, std::string_view body) {
    constexpr std::string_view prefix = "whsec_";
    if (!signing_secret.starts_with(prefix)) return std::nullopt;
    auto key = core::base64_decode(signing_secret.substr(prefix.size()));
    if (!key || key->empty()) return std::nullopt;
    std::string signed_content;
    signed_content.reserve(message_id.size() + body.size() + 24);
    signed_content.append(message_id)
        .append(".")
        .append(std::to_string(timestamp_s))
        .append(".")
        .append(body);
    return "v1," + core::base64_encode(core::hmac_sha256(*key, signed_content));
}

std::string make_webhook_secret() {
    return "whsec_" + core::base64_encode(core::random_bytes(32));
}

std::string make_webhook_id() {
    return "wh_" + core::base64url_encode(core::random_bytes(12));
}

}  // namespace chat::domain
