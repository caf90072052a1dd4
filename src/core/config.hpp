#pragma once
// Settings of both binaries, read from CHAT_* environment variables with defaults. Validation at
// start-up: a bad value throws std::invalid_argument naming the variable. README has the table.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace chat::core {

struct mysql_config {
    std::string host = "127.0.0.1";
    int port = 3307;
    std::string user = "chat";
    std::string password = "chat";
    std::string database = "chat";
};

// host:port of one server of a cluster.
struct endpoint {
    std::string host;
    int port = 0;
    bool operator==(const endpoint&) const = default;
};

struct redis_config {
    std::string host = "127.0.0.1";
    int port = 6380;
    std::string password;
    // CHAT_REDIS_NODES: seeds of a Redis Cluster ("host:port,host:port"). Empty: the one Redis at
    // host:port, as before. Not empty: the clients read the slot map from a seed and follow it.
    std::vector<endpoint> cluster_nodes;
    // CHAT_REDIS_WAIT_REPLICAS: a number allocation is acknowledged only once this many replicas hold
    // it (one WAIT per pipelined group), so a failover cannot hand the same number out twice. 0: off.
    int wait_replicas = 0;
    int wait_timeout_ms = 1000;
    bool clustered() const { return !cluster_nodes.empty(); }
};

// "host:port,host:port" -> endpoints; throws std::invalid_argument naming `what` on a bad entry.
std::vector<endpoint> parse_endpoints(const std::string& list, const std::string& what);

struct amqp_config {
    std::string host = "127.0.0.1";
    int port = 5673;
    std::string user = "chat";
    std::string password = "chat";
    std::string vhost = "/";
    std::string queue = "chat.events";
    std::string dead_letter_queue = "chat.events.dead";
    // "classic" or "quorum" (replicated on a RabbitMQ cluster). A queue's type is fixed when it is
    // first declared: changing it means draining and deleting the queue.
    std::string queue_type = "classic";
    // CHAT_AMQP_NODES: the brokers of a RabbitMQ cluster ("host:port,host:port"); a connection tries
    // them in turn from the last one that worked. Empty: host:port alone.
    std::vector<endpoint> nodes;
};

// Half of std::thread::hardware_concurrency(), at least 1 (see config::http_threads).
int default_http_threads();

struct config {
    mysql_config mysql;
    // CHAT_MYSQL_REPLICA_HOST / _PORT: a replica of `mysql` (same user and database) for the reads
    // that may lag (listing chats and messages). Everything else, and these when the replica cannot
    // be reached, goes to the primary.
    std::optional<mysql_config> mysql_replica;
    redis_config redis;
    amqp_config amqp;
    std::string es_url = "http://127.0.0.1:9201";
    std::string es_index = "messages";  // the alias; the versioned index behind it is <alias>_v1
    // Primary shards of an index this code creates (ensure_index, chat_ctl reindex); documents are
    // routed by chat, so a chat's messages stay on one shard whatever the count.
    int es_shards = 1;
    // Copies of each shard on other nodes, for an index this code creates: 0 on one node; 1 on a
    // cluster of 3, so a node's death loses no shard.
    int es_replicas = 0;

    // API server
    std::string http_host = "0.0.0.0";
    int http_port = 8080;
    // I/O threads running the coroutines: half the cores, at least one. The API shares its machine
    // with what it calls; measured on 2 cores with Redis and RabbitMQ beside it (closed-loop creation,
    // 64 connections), one I/O thread took 15-25% less CPU per creation than two (no hand-offs between
    // I/O threads, fuller Redis pipelines) at the same or better throughput, and reads did not suffer.
    int http_threads = default_http_threads();
    // Pool running blocking MariaDB/Redis calls. Measured on 2 cores: 16 beat 32 (fewer idle threads to
    // wake per hand-off: +10-20% throughput, half the read p99) and 4 (too few Redis/MySQL waits in flight).
    int blocking_threads = 16;
    // AMQP connections, each a group-commit publisher thread. One: its groups grow with the load (up to
    // 2000 events), and the broker's cost is per confirm round and per message, so one connection's
    // bigger groups cost RabbitMQ about 40% less CPU per creation than two connections' (measured as
    // above); raise it when one connection's round trip is the bottleneck.
    int publisher_connections = 1;
    // Events per broker message (an envelope; see domain/event.hpp). 1 publishes every event in the
    // old single-event format, which workers older than envelopes can read (rolling deploys).
    int envelope_max_events = 256;
    std::size_t max_body_bytes = 64 * 1024;
    std::size_t max_message_bytes = 10000;  // message body, in bytes of UTF-8
    int max_page_size = 100;
    int request_timeout_ms = 30000;  // reading one request (headers and body) and writing its response
    int idle_timeout_ms = 60000;     // a keep-alive connection waiting for its next request
    std::size_t max_header_bytes = 16 * 1024;
    int max_connections = 10000;  // beyond it, new connections get a 503 and are closed
    // Per-application token bucket in Redis, shared by all API servers: `rate_limit_rps` requests a
    // second on average, bursts up to `rate_limit_burst`. 0 turns the limit off.
    int rate_limit_rps = 1000;
    int rate_limit_burst = 2000;
    // Per user (creations by a user token), beside the application's bucket, in the same script call.
    int user_rate_limit_rps = 20;
    int user_rate_limit_burst = 40;
    // Fair share of this server's live connections (SSE streams, WebSockets, long polls): one application
    // holds at most this percentage of max_connections, one user at most live_user_max; past either the
    // newcomer gets 429, never another tenant.
    int live_app_share_percent = 50;
    int live_user_max = 20;
    // CHAT_ADMIN_TOKEN: when set, POST /api/v1/apps needs it as a Bearer credential; unset, anyone may
    // create applications (fit for development only). Never logged.
    std::string admin_token;
    // Live delivery (SSE streams, long polls).
    int live_heartbeat_ms = 15000;  // a comment line on idle streams, so proxies keep them open
    int live_gap_grace_ms = 500;  // how long a missing message number is awaited live before storage is asked
    int live_buffer_events = 1024;  // events buffered for one subscriber; past it the stream is closed
    // SIGTERM: stop accepting, finish in-flight work (API requests, the worker's batch) for at most this.
    int shutdown_timeout_s = 20;

    // Worker
    int batch_size = 500;
    int batch_delay_ms = 50;
    int count_refresh_interval_s = 60;
    int recovery_check_interval_s = 5;
    // How often a worker looks for erasures to run (a deleted chat's messages, an erased user's) and
    // applies retention; one worker at a time does each (named locks).
    int erasure_interval_ms = 1000;
    int retention_interval_s = 600;
    int retry_max_backoff_ms = 5000;
    int worker_metrics_port = 9464;  // Prometheus /metrics of the worker (on http_host); 0: off

    // Webhooks (docs/webhooks.md). Plain http and private addresses are for development and tests.
    bool webhook_allow_http = false;
    bool webhook_allow_private = false;
    int webhook_timeout_ms = 10000;          // one attempt, connection included
    int webhook_retry_window_s = 3 * 86400;  // an event failing that long is abandoned, its endpoint disabled
    int webhook_concurrency = 64;            // attempts in flight per worker
    int webhook_endpoint_concurrency = 8;    // of them, to one endpoint (one per chat at a time)
    int webhook_poll_ms = 200;               // how often a sender looks for due deliveries
    int webhook_keep_days = 7;               // settled deliveries kept (what a replay reaches back to)

    std::string log_level = "info";
};

// Reads the configuration through `getenv` (injectable for tests).
config load_config(const std::function<std::optional<std::string>(const std::string&)>& getenv);
config load_config_from_environment();
// For main(): the environment's configuration, or a message naming the bad setting and exit(2).
config load_config_or_exit(const char* program);

}  // namespace chat::core
