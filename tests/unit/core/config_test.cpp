#include "core/config.hpp"

#include <gtest/gtest.h>

#include <map>

namespace {
chat::core::config load(std::map<std::string, std::string> env) {
    return chat::core::load_config([env](const std::string& k) -> std::optional<std::string> {
        auto it = env.find(k);
        if (it == env.end()) return std::nullopt;
        return it->second;
    });
}
}  // namespace

TEST(config, defaults_when_nothing_is_set) {
    auto c = load({});
    EXPECT_EQ(c.http_port, 8080);
    EXPECT_EQ(c.mysql.port, 3307);
    EXPECT_EQ(c.redis.port, 6380);
    EXPECT_EQ(c.amqp.port, 5673);
    EXPECT_EQ(c.es_url, "http://127.0.0.1:9201");
    EXPECT_EQ(c.count_refresh_interval_s, 60);
    EXPECT_EQ(c.es_shards, 1);
}

TEST(config, reads_values_and_strips_trailing_slash) {
    auto c =
        load({{"CHAT_HTTP_PORT", "9000"}, {"CHAT_ES_URL", "http://es:9200/"}, {"CHAT_BATCH_SIZE", "10"}});
    EXPECT_EQ(c.http_port, 9000);
    EXPECT_EQ(c.es_url, "http://es:9200");
    EXPECT_EQ(c.batch_size, 10);
    EXPECT_EQ(load({{"CHAT_ES_SHARDS", "4"}}).es_shards, 4);
    EXPECT_EQ(load({{"CHAT_ES_REPLICAS", "1"}}).es_replicas, 1);
}

TEST(config, bad_values_name_the_variable) {
    auto expect_message = [](std::map<std::string, std::string> env, const std::string& needle) {
        try {
            load(env);
            FAIL() << "accepted " << env.begin()->first;
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        }
    };
    expect_message({{"CHAT_HTTP_PORT", "abc"}}, "CHAT_HTTP_PORT");
    expect_message({{"CHAT_HTTP_PORT", "70000"}}, "CHAT_HTTP_PORT");
    expect_message({{"CHAT_COUNT_REFRESH_INTERVAL_S", "7200"}}, "CHAT_COUNT_REFRESH_INTERVAL_S");
    expect_message({{"CHAT_ES_URL", "es:9200"}}, "CHAT_ES_URL");
    expect_message({{"CHAT_LOG_LEVEL", "loud"}}, "CHAT_LOG_LEVEL");
    expect_message({{"CHAT_ES_SHARDS", "0"}}, "CHAT_ES_SHARDS");
    expect_message({{"CHAT_ES_REPLICAS", "-1"}}, "CHAT_ES_REPLICAS");
    expect_message({{"CHAT_MYSQL_HOST", ""}}, "CHAT_MYSQL_HOST");
    expect_message({{"CHAT_MAX_BODY_BYTES", "2000"}}, "CHAT_MAX_BODY_BYTES");
    expect_message({{"CHAT_AMQP_QUEUE_TYPE", "stream"}}, "CHAT_AMQP_QUEUE_TYPE");
    expect_message({{"CHAT_RATE_LIMIT_RPS", "100"}, {"CHAT_RATE_LIMIT_BURST", "50"}},
                   "CHAT_RATE_LIMIT_BURST");
}

TEST(config, rate_limit_burst_defaults_to_two_seconds_of_rate) {
    auto c = load({{"CHAT_RATE_LIMIT_RPS", "50"}});
    EXPECT_EQ(c.rate_limit_rps, 50);
    EXPECT_EQ(c.rate_limit_burst, 100);
    auto off = load({{"CHAT_RATE_LIMIT_RPS", "0"}});
    EXPECT_EQ(off.rate_limit_rps, 0);
}

TEST(config, redis_cluster_seeds_are_a_list_of_host_ports) {
    EXPECT_FALSE(load({}).redis.clustered());
    auto c = load({{"CHAT_REDIS_NODES", "127.0.0.1:7101, ,::1:7102,"}, {"CHAT_REDIS_WAIT_REPLICAS", "1"}});
    ASSERT_TRUE(c.redis.clustered());
    EXPECT_EQ(c.redis.cluster_nodes, (std::vector<chat::core::endpoint>{{"127.0.0.1", 7101}, {"::1", 7102}}));
    EXPECT_EQ(c.redis.wait_replicas, 1);
    EXPECT_FALSE(load({{"CHAT_REDIS_NODES", ""}}).redis.clustered());
    for (const char* bad : {"host", "host:", ":7101", "host:0", "host:70000", "host:71x"})
        EXPECT_THROW(load({{"CHAT_REDIS_NODES", bad}}), std::invalid_argument) << bad;
}

TEST(config, rabbitmq_brokers_are_a_list_of_host_ports) {
    EXPECT_TRUE(load({}).amqp.nodes.empty());
    auto c = load({{"CHAT_AMQP_NODES", "127.0.0.1:5673,127.0.0.1:5674"}});
    EXPECT_EQ(c.amqp.nodes, (std::vector<chat::core::endpoint>{{"127.0.0.1", 5673}, {"127.0.0.1", 5674}}));
    EXPECT_THROW(load({{"CHAT_AMQP_NODES", "127.0.0.1"}}), std::invalid_argument);
}

TEST(config, elasticsearch_takes_a_list_of_node_urls) {
    EXPECT_EQ(load({{"CHAT_ES_URL", "http://a:9200,http://b:9200/"}}).es_url, "http://a:9200,http://b:9200");
    EXPECT_THROW(load({{"CHAT_ES_URL", "http://a:9200,b:9200"}}), std::invalid_argument);
}

TEST(config, a_mysql_replica_shares_the_primarys_credentials) {
    EXPECT_FALSE(load({}).mysql_replica);
    auto c = load({{"CHAT_MYSQL_USER", "u"}, {"CHAT_MYSQL_REPLICA_PORT", "3309"}});
    ASSERT_TRUE(c.mysql_replica);
    EXPECT_EQ(c.mysql_replica->port, 3309);
    EXPECT_EQ(c.mysql_replica->host, c.mysql.host);
    EXPECT_EQ(c.mysql_replica->user, "u");
    EXPECT_THROW(load({{"CHAT_MYSQL_REPLICA_PORT", "0"}}), std::invalid_argument);
}
