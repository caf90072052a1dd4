#include "options.hpp"

#include <gtest/gtest.h>

using namespace chat::load;
using namespace std::chrono_literals;

namespace {
options parse(std::vector<std::string> args) {
    return parse_options(args);
}
}  // namespace

TEST(load_options, defaults) {
    auto o = parse({});
    ASSERT_EQ(o.targets.size(), 1u);
    EXPECT_EQ(o.targets[0].host, "127.0.0.1");
    EXPECT_EQ(o.targets[0].port, "8080");
    EXPECT_EQ(o.connections, 64);
    EXPECT_EQ(o.rate, 0);
    EXPECT_EQ(o.duration, 30s);
    EXPECT_EQ(o.retries, 3);
    EXPECT_EQ(o.mix[index_of(op_kind::create_message)], 70);
    EXPECT_EQ(o.mix[index_of(op_kind::replay)], 0);
    EXPECT_FALSE(o.verify);
    EXPECT_FALSE(o.count_timeout.has_value());
    EXPECT_EQ(o.delete_percent, 0);      // existing runs and benchmarks delete nothing
    EXPECT_TRUE(o.webhook_url.empty());  // and register no webhook
    EXPECT_EQ(o.mix[index_of(op_kind::delete_message)], 0);
}

TEST(load_options, deletions_are_a_percentage_never_a_mix_weight) {
    EXPECT_EQ(parse_options({"--delete-percent", "100"}).delete_percent, 100);
    EXPECT_THROW(parse_options({"--delete-percent", "101"}), usage_error);
    EXPECT_THROW(parse_options({"--delete-percent", "-1"}), usage_error);
    EXPECT_THROW(parse_options({"--delete-percent", "some"}), usage_error);
    EXPECT_THROW(parse_options({"--delete-delay", "soon"}), usage_error);
    EXPECT_THROW(parse_options({"--static", "/x", "--delete-percent", "5"}), usage_error);
    EXPECT_THROW(parse_mix("delete_message=1"), usage_error);
    EXPECT_EQ(op_name(op_kind::delete_message), "delete_message");
    EXPECT_EQ(op_from_name("delete_message"), op_kind::delete_message);
    EXPECT_EQ(op_name(op_kind::replay), "replay");
}

TEST(load_options, durations_take_units_and_bare_seconds) {
    EXPECT_EQ(parse_duration("30s"), 30s);
    EXPECT_EQ(parse_duration("500ms"), 500ms);
    EXPECT_EQ(parse_duration("2m"), 120s);
    EXPECT_EQ(parse_duration("1.5s"), 1500ms);
    EXPECT_EQ(parse_duration("7"), 7s);
    EXPECT_EQ(parse_duration("1h"), 3600s);
    EXPECT_FALSE(parse_duration(""));
    EXPECT_FALSE(parse_duration("s"));
    EXPECT_FALSE(parse_duration("-1s"));
    EXPECT_FALSE(parse_duration("10x"));
    EXPECT_FALSE(parse_duration("ms"));
}

TEST(load_options, every_option_in_both_spellings) {
    auto o = parse({"--targets",
                    "http://a:1,http://b:2/prefix/",
                    "--threads=3",
                    "--connections",
                    "10",
                    "--rate",
                    "250.5",
                    "--duration=5s",
                    "--warmup",
                    "1s",
                    "--timeout",
                    "2s",
                    "--retries",
                    "0",
                    "--apps",
                    "2",
                    "--chats",
                    "4",
                    "--setup-messages",
                    "0",
                    "--hot-fraction",
                    "0.2",
                    "--hot-share",
                    "0.5",
                    "--replay",
                    "0",
                    "--delete-percent",
                    "12.5",
                    "--delete-delay=300ms",
                    "--seed",
                    "9",
                    "--json",
                    "r.json",
                    "--record",
                    "r.tsv",
                    "--verify",
                    "--drain-timeout",
                    "1m",
                    "--count-timeout",
                    "10s",
                    "--lag-sample",
                    "0.5",
                    "--es-sample",
                    "3",
                    "--webhook=http://127.0.0.1:9/hook",
                    "--quiet"});
    ASSERT_EQ(o.targets.size(), 2u);
    EXPECT_EQ(o.targets[1].host, "b");
    EXPECT_EQ(o.targets[1].port, "2");
    EXPECT_EQ(o.targets[1].prefix, "/prefix");
    EXPECT_EQ(o.threads, 3);
    EXPECT_EQ(o.connections, 10);
    EXPECT_DOUBLE_EQ(o.rate, 250.5);
    EXPECT_EQ(o.duration, 5s);
    EXPECT_EQ(o.warmup, 1s);
    EXPECT_EQ(o.timeout, 2s);
    EXPECT_EQ(o.retries, 0);
    EXPECT_EQ(o.apps, 2);
    EXPECT_EQ(o.chats, 4);
    EXPECT_EQ(o.setup_messages, 0);
    EXPECT_DOUBLE_EQ(o.hot_fraction, 0.2);
    EXPECT_DOUBLE_EQ(o.hot_share, 0.5);
    EXPECT_EQ(o.replay, 0);
    EXPECT_DOUBLE_EQ(o.delete_percent, 12.5);
    EXPECT_EQ(o.delete_delay_max, 300ms);
    EXPECT_EQ(o.seed, 9u);
    EXPECT_EQ(o.json_path, "r.json");
    EXPECT_EQ(o.record_path, "r.tsv");
    EXPECT_TRUE(o.verify);
    EXPECT_EQ(o.drain_timeout, 60s);
    EXPECT_EQ(o.count_timeout, 10s);
    EXPECT_DOUBLE_EQ(o.lag_sample, 0.5);
    EXPECT_EQ(o.es_sample, 3);
    EXPECT_EQ(o.webhook_url, "http://127.0.0.1:9/hook");
    EXPECT_TRUE(o.quiet);
}

TEST(load_options, mix_names_weights_and_leaves_the_rest_at_zero) {
    auto m = parse_mix("create_message=3,search=1");
    EXPECT_EQ(m[index_of(op_kind::create_message)], 3);
    EXPECT_EQ(m[index_of(op_kind::search)], 1);
    EXPECT_EQ(m[index_of(op_kind::get_chat)], 0);
    EXPECT_THROW(parse_mix("create_message=0"), usage_error);
    EXPECT_THROW(parse_mix("nope=1"), usage_error);
    EXPECT_THROW(parse_mix("replay=1"), usage_error);
    EXPECT_THROW(parse_mix("create_message"), usage_error);
    EXPECT_THROW(parse_mix("create_message=-1"), usage_error);
}

TEST(load_options, usage_errors_name_the_problem) {
    auto message_of = [](std::vector<std::string> args) -> std::string {
        try {
            parse_options(args);
        } catch (const usage_error& e) {
            return e.what();
        }
        return "accepted";
    };
    EXPECT_NE(message_of({"--bogus"}).find("unknown option"), std::string::npos);
    EXPECT_NE(message_of({"--connections"}).find("needs a value"), std::string::npos);
    EXPECT_NE(message_of({"--connections", "0"}).find("between"), std::string::npos);
    EXPECT_NE(message_of({"--connections", "ten"}).find("integer"), std::string::npos);
    EXPECT_NE(message_of({"--duration", "soon"}).find("duration"), std::string::npos);
    EXPECT_NE(message_of({"--duration", "0s"}).find("above 0"), std::string::npos);
    EXPECT_NE(message_of({"--targets", "https://x"}).find("only http"), std::string::npos);
    EXPECT_NE(message_of({"--targets", ","}).find("at least one"), std::string::npos);
    EXPECT_NE(message_of({"--hot-share", "1.5"}).find("between"), std::string::npos);
    EXPECT_NE(message_of({"--verify=yes"}).find("takes no value"), std::string::npos);
    EXPECT_EQ(message_of({"--verify-only", "f.tsv", "--duration", "0"}), "accepted");
}

TEST(load_options, targets_keep_ipv6_and_default_port) {
    auto t = parse_target("http://[::1]:9000");
    EXPECT_EQ(t.host, "::1");
    EXPECT_EQ(t.port, "9000");
    auto d = parse_target("http://example.org");
    EXPECT_EQ(d.port, "80");
    EXPECT_EQ(d.prefix, "");
}

TEST(load_options, help_documents_every_option) {
    auto h = help_text();
    for (const char* name : {"--targets",
                             "--threads",
                             "--connections",
                             "--rate",
                             "--duration",
                             "--warmup",
                             "--timeout",
                             "--retries",
                             "--mix",
                             "--apps",
                             "--chats",
                             "--setup-messages",
                             "--hot-fraction",
                             "--hot-share",
                             "--replay",
                             "--delete-percent",
                             "--delete-delay",
                             "--seed",
                             "--json",
                             "--record",
                             "--verify",
                             "--verify-only",
                             "--drain-timeout",
                             "--count-timeout",
                             "--lag-sample",
                             "--es-sample",
                             "--quiet",
                             "--webhook",
                             "CHAT_WEBHOOK_ALLOW_HTTP",
                             "Exit codes"})
        EXPECT_NE(h.find(name), std::string::npos) << name;
}

TEST(load_options, static_measures_one_path_and_nothing_else) {
    auto o = parse_options({"--static", "/ceiling", "--duration", "1s"});
    EXPECT_EQ(o.static_path, "/ceiling");
    for (std::size_t i = 0; i < op_count; ++i)
        EXPECT_EQ(o.mix[i], i == index_of(op_kind::static_get) ? 1 : 0) << op_name(static_cast<op_kind>(i));
    EXPECT_EQ(op_from_name("static"), op_kind::static_get);
    EXPECT_THROW(parse_options({"--static", "ceiling"}), usage_error);
    EXPECT_THROW(parse_options({"--static", "/x", "--verify"}), usage_error);
    EXPECT_THROW(parse_options({"--mix", "static=1"}), usage_error);
}

TEST(load_options, webhook_takes_an_absolute_http_or_https_url) {
    EXPECT_EQ(parse_options({"--webhook", "https://hooks.example.org/in?x=1"}).webhook_url,
              "https://hooks.example.org/in?x=1");
    EXPECT_EQ(parse_options({"--webhook", "http://[::1]:8099/"}).webhook_url, "http://[::1]:8099/");
    auto message_of = [](std::vector<std::string> args) -> std::string {
        try {
            parse_options(args);
        } catch (const usage_error& e) {
            return e.what();
        }
        return "accepted";
    };
    EXPECT_NE(message_of({"--webhook"}).find("needs a value"), std::string::npos);
    EXPECT_NE(message_of({"--webhook", "127.0.0.1:8099"}).find("http:// or https://"), std::string::npos);
    EXPECT_NE(message_of({"--webhook", "ftp://example.org/"}).find("http:// or https://"), std::string::npos);
    EXPECT_NE(message_of({"--webhook", "not a url"}).find("--webhook"), std::string::npos);
    EXPECT_NE(message_of({"--webhook", "http:///path"}).find("no host"), std::string::npos);
    EXPECT_NE(message_of({"--webhook", "http://x/#frag"}).find("fragment"), std::string::npos);
    EXPECT_NE(message_of({"--static", "/x", "--webhook", "http://x/"}).find("--static"), std::string::npos);
}
