// Webhook rules: subscriptions, the URL and address guard (no way into the private network), what an
// attempt's answer means and when the next one comes, and the Standard Webhooks signature.
#include "domain/webhook.hpp"

#include <gtest/gtest.h>

using namespace chat;
using domain::attempt_verdict;

namespace {

bool forbidden(const char* text) {
    return domain::forbidden_address(boost::asio::ip::make_address(text));
}

core::result<domain::webhook_url> url(std::string_view u, bool allow_http = false,
                                      bool allow_private = false) {
    return domain::parse_webhook_url(u, {allow_http, allow_private});
}

}  // namespace

TEST(webhook, events_are_known_kinds_or_a_lone_star) {
    EXPECT_EQ(*domain::parse_webhook_events({"*"}), std::vector<std::string>{"*"});
    EXPECT_EQ(*domain::parse_webhook_events({"message.created", "chat.deleted", "message.created"}),
              (std::vector<std::string>{"message.created", "chat.deleted"}));
    EXPECT_FALSE(domain::parse_webhook_events({}));
    EXPECT_FALSE(domain::parse_webhook_events({"message.exploded"}));
    EXPECT_FALSE(domain::parse_webhook_events({"*", "message.created"}));
    EXPECT_TRUE(domain::webhook_subscribes({"*"}, "read.updated"));
    EXPECT_TRUE(domain::webhook_subscribes({"chat.created", "read.updated"}, "read.updated"));
    EXPECT_FALSE(domain::webhook_subscribes({"chat.created"}, "read.updated"));
    auto stored = domain::join_webhook_events({"chat.created", "member.added"});
    EXPECT_EQ(stored, "chat.created,member.added");
    EXPECT_EQ(domain::split_webhook_events(stored),
              (std::vector<std::string>{"chat.created", "member.added"}));
    for (auto k : domain::webhook_event_kinds) EXPECT_TRUE(domain::is_webhook_event_kind(k)) << k;
}

TEST(webhook, urls_are_https_with_a_host_and_nothing_hidden) {
    auto ok = url("https://hooks.example.com/in?x=1");
    ASSERT_TRUE(ok);
    EXPECT_EQ((ok->scheme + "|" + ok->host + "|" + std::to_string(ok->port) + "|" + ok->target),
              "https|hooks.example.com|443|/in?x=1");
    auto port = url("https://Hooks.Example.com.:8443");
    ASSERT_TRUE(port);
    EXPECT_EQ(port->host, "hooks.example.com");
    EXPECT_EQ(port->port, 8443);
    EXPECT_EQ(port->target, "/");
    EXPECT_FALSE(url("http://hooks.example.com/"));  // plain http only when allowed
    EXPECT_TRUE(url("http://hooks.example.com/", true));
    for (auto bad :
         {"ftp://hooks.example.com/", "file:///etc/passwd", "gopher://x/", "hooks.example.com/x",
          "https://user:pw@hooks.example.com/", "https://hooks.example.com/#frag", "https:///x", ""})
        EXPECT_FALSE(url(bad)) << bad;
    EXPECT_FALSE(url("https://example.com/" + std::string(2100, 'a')));
    auto err = url("ftp://x/");
    EXPECT_EQ(err.error().code, core::errc::invalid_field);
}

TEST(webhook, urls_naming_private_addresses_are_refused_unless_allowed) {
    for (auto bad :
         {"https://127.0.0.1/", "https://10.0.0.1/", "https://169.254.169.254/latest/meta-data",
          "https://[::1]/", "https://[::ffff:10.1.2.3]/", "https://localhost/", "https://LOCALHOST./",
          "https://api.localhost/", "https://0.0.0.0/", "https://[fd00:ec2::254]/"})
        EXPECT_FALSE(url(bad)) << bad;
    EXPECT_TRUE(url("https://127.0.0.1:9000/", false, true));
    EXPECT_TRUE(url("https://93.184.215.14/"));
}

TEST(webhook, private_reserved_and_metadata_addresses_are_forbidden) {
    for (auto a : {"127.0.0.1",
                   "127.255.0.9",
                   "10.0.0.1",
                   "172.16.0.1",
                   "172.31.255.255",
                   "192.168.1.1",
                   "169.254.169.254",
                   "100.64.0.1",
                   "0.0.0.0",
                   "224.0.0.1",
                   "255.255.255.255",
                   "192.0.2.1",
                   "::1",
                   "::",
                   "fe80::1",
                   "fc00::1",
                   "fd00:ec2::254",
                   "ff02::1",
                   "::ffff:127.0.0.1",
                   "::ffff:169.254.169.254",
                   "64:ff9b::a00:1",
                   "2002:a00:1::",
                   "2001:db8::1",
                   "::10.0.0.1"})
        EXPECT_TRUE(forbidden(a)) << a;
    for (auto a : {"93.184.215.14", "8.8.8.8", "172.32.0.1", "100.128.0.1", "169.255.0.1", "2606:4700::1111",
                   "::ffff:8.8.8.8", "64:ff9b::808:808"})
        EXPECT_FALSE(forbidden(a)) << a;
}

TEST(webhook, answers_decide_between_delivered_retry_and_give_up) {
    EXPECT_EQ(domain::judge_attempt(200), attempt_verdict::delivered);
    EXPECT_EQ(domain::judge_attempt(204), attempt_verdict::delivered);
    for (int s : {0, 408, 429, 500, 502, 503, 504})
        EXPECT_EQ(domain::judge_attempt(s), attempt_verdict::retry) << s;
    for (int s : {301, 400, 401, 403, 404, 410, 413, 422})
        EXPECT_EQ(domain::judge_attempt(s), attempt_verdict::give_up) << s;
}

TEST(webhook, retries_back_off_exponentially_with_jitter_up_to_an_hour) {
    EXPECT_EQ(domain::retry_delay_ms(1, 0), 5000);
    EXPECT_EQ(domain::retry_delay_ms(2, 0), 10000);
    EXPECT_EQ(domain::retry_delay_ms(3, 0), 20000);
    EXPECT_EQ(domain::retry_delay_ms(30, 0), 3600000);
    EXPECT_EQ(domain::retry_delay_ms(1000, 0), 3600000);
    EXPECT_EQ(domain::retry_delay_ms(1, 0.999999), 4001);
    EXPECT_GE(domain::retry_delay_ms(2, 0.5), 8000);
    EXPECT_LT(domain::retry_delay_ms(2, 0.5), 10000);
    EXPECT_FALSE(domain::retry_window_over(1000, 1000 + 59'999, 60'000));
    EXPECT_TRUE(domain::retry_window_over(1000, 1000 + 60'000, 60'000));
}

TEST(webhook, the_signature_is_the_standard_webhooks_one) {
    // The specification's own example (standard-webhooks, spec and reference libraries' tests).
    auto sig =
        domain::webhook_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                  1614265330, R"({"test": 2432232314})");
    ASSERT_TRUE(sig);
    EXPECT_EQ(*sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    EXPECT_NE(
        *domain::webhook_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                   1614265331, R"({"test": 2432232314})"),
        *sig);
    EXPECT_FALSE(domain::webhook_signature("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", 1, "{}"));
    EXPECT_FALSE(domain::webhook_signature("whsec_", "m", 1, "{}"));
    EXPECT_FALSE(domain::webhook_signature("whsec_not*base64", "m", 1, "{}"));
    auto fresh = domain::make_webhook_secret();
    EXPECT_TRUE(fresh.starts_with("whsec_"));
    EXPECT_TRUE(domain::webhook_signature(fresh, "m", 1, "{}"));
    EXPECT_NE(fresh, domain::make_webhook_secret());
    EXPECT_TRUE(domain::make_webhook_id().starts_with("wh_"));
    EXPECT_EQ(domain::make_webhook_id().size(), 19u);
}
