#include "core/config.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace chat::core {

int default_http_threads() {
    return std::max(1, static_cast<int>(std::thread::hardware_concurrency() / 2));
}

namespace {

struct reader {
    const std::function<std::optional<std::string>(const std::string&)>& getenv;

    void str(const std::string& name, std::string& out, bool allow_empty = false) const {
        if (auto v = getenv(name)) {
            if (v->empty() && !allow_empty) throw std::invalid_argument(name + " must not be empty");
            out = *v;
        }
    }

    template <class Int>
    void integer(const std::string& name, Int& out, long long min, long long max) const {
        auto v = getenv(name);
        if (!v) return;
        long long parsed = 0;
        auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), parsed);
        if (ec != std::errc{} || p != v->data() + v->size())
            throw std::invalid_argument(name + " must be an integer, got '" + *v + "'");
        if (parsed < min || parsed > max)
            throw std::invalid_argument(name + " must be between " + std::to_string(min) + " and " +
                                        std::to_string(max) + ", got " + *v);
        out = static_cast<Int>(parsed);
    }
};

}  // namespace

std::vector<endpoint> parse_endpoints(const std::string& list, const std::string& what) {
    std::vector<endpoint> out;
    std::size_t start = 0;
    while (start <= list.size()) {
        auto end = std::min(list.find(',', start), list.size());
        auto item = list.substr(start, end - start);
        start = end + 1;
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (item.empty()) continue;
        auto colon = item.rfind(':');
        int port = 0;
        auto digits = colon == std::string::npos ? std::string{} : item.substr(colon + 1);
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
        if (colon == 0 || colon == std::string::npos || digits.empty() || ec != std::errc{} ||
            p != digits.data() + digits.size() || port < 1 || port > 65535)
            throw std::invalid_argument(what + " takes host:port entries separated by commas, got '" + item +
                                        "'");
        out.push_back({item.substr(0, colon), port});
    }
    return out;
}

config load_config(const std::function<std::optional<std::string>(const std::string&)>& getenv) {
    config c;
    reader r{getenv};
    r.str("CHAT_MYSQL_HOST", c.mysql.host);
    r.integer("CHAT_MYSQL_PORT", c.mysql.port, 1, 65535);
    r.str("CHAT_MYSQL_USER", c.mysql.user);
    r.str("CHAT_MYSQL_PASSWORD", c.mysql.password, true);
    r.str("CHAT_MYSQL_DATABASE", c.mysql.database);
    if (getenv("CHAT_MYSQL_REPLICA_HOST") || getenv("CHAT_MYSQL_REPLICA_PORT")) {
        c.mysql_replica = c.mysql;
        r.str("CHAT_MYSQL_REPLICA_HOST", c.mysql_replica->host);
        r.integer("CHAT_MYSQL_REPLICA_PORT", c.mysql_replica->port, 1, 65535);
    }
    r.str("CHAT_REDIS_HOST", c.redis.host);
    r.integer("CHAT_REDIS_PORT", c.redis.port, 1, 65535);
    r.str("CHAT_REDIS_PASSWORD", c.redis.password, true);
    std::string nodes;
    r.str("CHAT_REDIS_NODES", nodes, true);
    c.redis.cluster_nodes = parse_endpoints(nodes, "CHAT_REDIS_NODES");
    r.integer("CHAT_REDIS_WAIT_REPLICAS", c.redis.wait_replicas, 0, 16);
    r.integer("CHAT_REDIS_WAIT_TIMEOUT_MS", c.redis.wait_timeout_ms, 1, 60000);
    r.str("CHAT_AMQP_HOST", c.amqp.host);
    r.integer("CHAT_AMQP_PORT", c.amqp.port, 1, 65535);
    r.str("CHAT_AMQP_USER", c.amqp.user);
    r.str("CHAT_AMQP_PASSWORD", c.amqp.password, true);
    r.str("CHAT_AMQP_VHOST", c.amqp.vhost);
    r.str("CHAT_AMQP_QUEUE", c.amqp.queue);
    r.str("CHAT_AMQP_DEAD_LETTER_QUEUE", c.amqp.dead_letter_queue);
    r.str("CHAT_AMQP_QUEUE_TYPE", c.amqp.queue_type);
    std::string brokers;
    r.str("CHAT_AMQP_NODES", brokers, true);
    c.amqp.nodes = parse_endpoints(brokers, "CHAT_AMQP_NODES");
    if (c.amqp.queue_type != "classic" && c.amqp.queue_type != "quorum")
        throw std::invalid_argument("CHAT_AMQP_QUEUE_TYPE must be classic or quorum, got '" +
                                    c.amqp.queue_type + "'");
    r.str("CHAT_ES_URL", c.es_url);
    // One URL, or the nodes of a cluster separated by commas (store::elastic_client fails over).
    for (std::size_t start = 0; start <= c.es_url.size();) {
        auto end = std::min(c.es_url.find(',', start), c.es_url.size());
        auto url = c.es_url.substr(start, end - start);
        start = end + 1;
        url.erase(0, url.find_first_not_of(' '));
        if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
            throw std::invalid_argument("CHAT_ES_URL must be URLs starting with http:// or https://, got '" +
                                        c.es_url + "'");
    }
    while (!c.es_url.empty() && c.es_url.back() == '/') c.es_url.pop_back();
    r.str("CHAT_ES_INDEX", c.es_index);
    r.integer("CHAT_ES_SHARDS", c.es_shards, 1, 64);
    r.integer("CHAT_ES_REPLICAS", c.es_replicas, 0, 8);
    r.str("CHAT_HTTP_HOST", c.http_host);
    r.integer("CHAT_HTTP_PORT", c.http_port, 0, 65535);
    r.integer("CHAT_HTTP_THREADS", c.http_threads, 1, 256);
    r.integer("CHAT_BLOCKING_THREADS", c.blocking_threads, 1, 1024);
    r.integer("CHAT_PUBLISHER_CONNECTIONS", c.publisher_connections, 1, 64);
    r.integer("CHAT_ENVELOPE_MAX_EVENTS", c.envelope_max_events, 1, 10000);
    r.integer("CHAT_MAX_BODY_BYTES", c.max_body_bytes, 1024, 16 * 1024 * 1024);
    r.integer("CHAT_MAX_MESSAGE_BYTES", c.max_message_bytes, 1, 1024 * 1024);
    r.integer("CHAT_MAX_PAGE_SIZE", c.max_page_size, 1, 10000);
    r.integer("CHAT_REQUEST_TIMEOUT_MS", c.request_timeout_ms, 100, 3600000);
    r.integer("CHAT_IDLE_TIMEOUT_MS", c.idle_timeout_ms, 100, 3600000);
    r.integer("CHAT_MAX_HEADER_BYTES", c.max_header_bytes, 1024, 1024 * 1024);
    r.integer("CHAT_MAX_CONNECTIONS", c.max_connections, 1, 1000000);
    r.integer("CHAT_RATE_LIMIT_RPS", c.rate_limit_rps, 0, 10000000);
    c.rate_limit_burst = std::max(1, 2 * c.rate_limit_rps);  // default: two seconds' worth
    r.integer("CHAT_RATE_LIMIT_BURST", c.rate_limit_burst, 1, 100000000);
    if (c.rate_limit_rps > 0 && c.rate_limit_burst < c.rate_limit_rps)
        throw std::invalid_argument("CHAT_RATE_LIMIT_BURST must be at least CHAT_RATE_LIMIT_RPS");
    r.integer("CHAT_USER_RATE_LIMIT_RPS", c.user_rate_limit_rps, 0, 10000000);
    c.user_rate_limit_burst = std::max(1, 2 * c.user_rate_limit_rps);
    r.integer("CHAT_USER_RATE_LIMIT_BURST", c.user_rate_limit_burst, 1, 100000000);
    if (c.user_rate_limit_rps > 0 && c.user_rate_limit_burst < c.user_rate_limit_rps)
        throw std::invalid_argument("CHAT_USER_RATE_LIMIT_BURST must be at least CHAT_USER_RATE_LIMIT_RPS");
    r.integer("CHAT_LIVE_APP_SHARE_PERCENT", c.live_app_share_percent, 1, 100);
    r.integer("CHAT_LIVE_USER_MAX", c.live_user_max, 1, 1000000);
    r.str("CHAT_ADMIN_TOKEN", c.admin_token, true);
    r.integer("CHAT_SHUTDOWN_TIMEOUT_S", c.shutdown_timeout_s, 1, 3600);
    r.integer("CHAT_LIVE_HEARTBEAT_MS", c.live_heartbeat_ms, 100, 3600000);
    r.integer("CHAT_LIVE_GAP_GRACE_MS", c.live_gap_grace_ms, 0, 60000);
    r.integer("CHAT_LIVE_BUFFER_EVENTS", c.live_buffer_events, 1, 1000000);
    r.integer("CHAT_BATCH_SIZE", c.batch_size, 1, 10000);
    r.integer("CHAT_BATCH_DELAY_MS", c.batch_delay_ms, 0, 60000);
    // The count columns may never lag more than an hour.
    r.integer("CHAT_COUNT_REFRESH_INTERVAL_S", c.count_refresh_interval_s, 1, 3600);
    r.integer("CHAT_RECOVERY_CHECK_INTERVAL_S", c.recovery_check_interval_s, 1, 3600);
    r.integer("CHAT_ERASURE_INTERVAL_MS", c.erasure_interval_ms, 10, 3600000);
    r.integer("CHAT_RETENTION_INTERVAL_S", c.retention_interval_s, 1, 86400);
    r.integer("CHAT_RETRY_MAX_BACKOFF_MS", c.retry_max_backoff_ms, 10, 600000);
    r.integer("CHAT_WORKER_METRICS_PORT", c.worker_metrics_port, 0, 65535);
    int allow_http = c.webhook_allow_http ? 1 : 0, allow_private = c.webhook_allow_private ? 1 : 0;
    r.integer("CHAT_WEBHOOK_ALLOW_HTTP", allow_http, 0, 1);
    r.integer("CHAT_WEBHOOK_ALLOW_PRIVATE", allow_private, 0, 1);
    c.webhook_allow_http = allow_http == 1;
    c.webhook_allow_private = allow_private == 1;
    r.integer("CHAT_WEBHOOK_TIMEOUT_MS", c.webhook_timeout_ms, 100, 60000);
    r.integer("CHAT_WEBHOOK_RETRY_WINDOW_S", c.webhook_retry_window_s, 1, 30 * 86400);
    r.integer("CHAT_WEBHOOK_CONCURRENCY", c.webhook_concurrency, 1, 1024);
    r.integer("CHAT_WEBHOOK_ENDPOINT_CONCURRENCY", c.webhook_endpoint_concurrency, 1, 1024);
    r.integer("CHAT_WEBHOOK_POLL_MS", c.webhook_poll_ms, 10, 60000);
    r.integer("CHAT_WEBHOOK_KEEP_DAYS", c.webhook_keep_days, 1, 3650);
    r.str("CHAT_LOG_LEVEL", c.log_level);
    static const char* levels[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};
    bool ok = false;
    for (auto* l : levels) ok = ok || c.log_level == l;
    if (!ok)
        throw std::invalid_argument(
            "CHAT_LOG_LEVEL must be one of trace, debug, info, warn, error, critical, off");
    if (c.max_message_bytes + 1024 > c.max_body_bytes)
        throw std::invalid_argument(
            "CHAT_MAX_BODY_BYTES must exceed CHAT_MAX_MESSAGE_BYTES by at least 1024");
    return c;
}

config load_config_or_exit(const char* program) {
    try {
        return load_config_from_environment();
    } catch (const std::invalid_argument& e) {
        std::fprintf(stderr, "%s: invalid configuration: %s\n", program, e.what());
        std::exit(2);
    }
}

config load_config_from_environment() {
    return load_config([](const std::string& name) -> std::optional<std::string> {
        if (const char* v = std::getenv(name.c_str())) return std::string(v);
        return std::nullopt;
    });
}

}  // namespace chat::core
