#include "options.hpp"

#include <fmt/format.h>

#include <boost/url/parse.hpp>
#include <charconv>
#include <cmath>
#include <limits>

namespace chat::load {

namespace {

constexpr std::array<std::string_view, op_count> names{
    "create_message", "get_message", "list_messages", "search", "create_chat",
    "get_chat",       "create_app",  "static",        "replay", "delete_message"};

double parse_number(std::string_view option, std::string_view text, double min, double max) {
    double v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size() || !std::isfinite(v))
        throw usage_error(fmt::format("{} expects a number, got '{}'", option, text));
    if (v < min || v > max)
        throw usage_error(fmt::format("{} must be between {} and {}, got {}", option, min, max, text));
    return v;
}

int parse_int(std::string_view option, std::string_view text, int min, int max) {
    int v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc{} || p != text.data() + text.size())
        throw usage_error(fmt::format("{} expects an integer, got '{}'", option, text));
    if (v < min || v > max)
        throw usage_error(fmt::format("{} must be between {} and {}, got {}", option, min, max, v));
    return v;
}

millis parse_duration_option(std::string_view option, std::string_view text) {
    auto d = parse_duration(text);
    if (!d)
        throw usage_error(fmt::format("{} expects a duration like 30s, 500ms or 2m, got '{}'", option, text));
    return *d;
}

}  // namespace

std::string_view op_name(op_kind op) {
    return names[index_of(op)];
}

std::optional<op_kind> op_from_name(std::string_view name) {
    for (std::size_t i = 0; i < op_count; ++i)
        if (names[i] == name) return static_cast<op_kind>(i);
    return std::nullopt;
}

std::optional<millis> parse_duration(std::string_view text) {
    double scale = 1000;  // a bare number is seconds
    std::string_view number = text;
    auto ends_with = [&](std::string_view suffix) {
        return number.size() > suffix.size() && number.substr(number.size() - suffix.size()) == suffix;
    };
    if (ends_with("ms")) {
        scale = 1, number.remove_suffix(2);
    } else if (ends_with("s")) {
        scale = 1000, number.remove_suffix(1);
    } else if (ends_with("m")) {
        scale = 60000, number.remove_suffix(1);
    } else if (ends_with("h")) {
        scale = 3600000, number.remove_suffix(1);
    }
    double v = 0;
    auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), v);
    if (number.empty() || ec != std::errc{} || p != number.data() + number.size() || !std::isfinite(v) ||
        v < 0 || v * scale > 1e12)
        return std::nullopt;
    return millis(static_cast<std::int64_t>(std::llround(v * scale)));
}

std::array<double, op_count> parse_mix(std::string_view text) {
    std::array<double, op_count> mix{};
    double total = 0;
    while (!text.empty()) {
        auto comma = text.find(',');
        auto item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
        if (item.empty()) continue;
        auto eq = item.find('=');
        if (eq == std::string_view::npos)
            throw usage_error(fmt::format("--mix: '{}' is not name=weight", item));
        auto op = op_from_name(item.substr(0, eq));
        if (!op || *op == op_kind::replay || *op == op_kind::delete_message)
            throw usage_error(
                fmt::format("--mix: unknown operation '{}' (create_message, get_message, "
                            "list_messages, search, create_chat, get_chat, create_app)",
                            item.substr(0, eq)));
        double w = parse_number("--mix", item.substr(eq + 1), 0, 1e9);
        mix[index_of(*op)] = w;
        total += w;
    }
    if (total <= 0) throw usage_error("--mix: the weights must not all be 0");
    return mix;
}

std::array<double, op_count> default_mix() {
    return parse_mix(
        "create_message=70,get_message=10,list_messages=5,search=5,create_chat=5,get_chat=4,create_app=1");
}

target parse_target(std::string_view url) {
    auto u = boost::urls::parse_uri(url);
    if (!u) throw usage_error(fmt::format("--targets: '{}' is not a URL", url));
    if (u->scheme() != "http")
        throw usage_error(fmt::format("--targets: '{}': only http:// is supported (put TLS in front)", url));
    if (u->encoded_host().empty()) throw usage_error(fmt::format("--targets: '{}' has no host", url));
    if (u->has_query() || u->has_fragment())
        throw usage_error(fmt::format("--targets: '{}' must not have a query or fragment", url));
    target t;
    t.url = std::string(url);
    t.host = std::string(u->encoded_host());
    // [::1] in a URL, ::1 for the resolver.
    if (t.host.size() > 2 && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
    t.port = u->has_port() ? std::string(u->port()) : "80";
    t.prefix = std::string(u->encoded_path());
    while (!t.prefix.empty() && t.prefix.back() == '/') t.prefix.pop_back();
    return t;
}

std::string parse_webhook_url(std::string_view url) {
    auto u = boost::urls::parse_uri(url);
    if (!u) throw usage_error(fmt::format("--webhook: '{}' is not an http:// or https:// URL", url));
    if (u->scheme() != "http" && u->scheme() != "https")
        throw usage_error(fmt::format("--webhook: '{}' must be an http:// or https:// URL", url));
    if (u->encoded_host().empty()) throw usage_error(fmt::format("--webhook: '{}' has no host", url));
    if (u->has_fragment()) throw usage_error(fmt::format("--webhook: '{}' must not have a fragment", url));
    return std::string(url);
}

options parse_options(const std::vector<std::string>& args) {
    options o;
    o.mix = default_mix();
    std::string targets = "http://127.0.0.1:8080";
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        std::string inline_value;
        bool has_inline = false;
        if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string_view::npos) {
            inline_value = std::string(arg.substr(eq + 1));
            arg = arg.substr(0, eq);
            has_inline = true;
        }
        auto flag = [&] {
            if (has_inline) throw usage_error(fmt::format("{} takes no value", arg));
        };
        auto value = [&]() -> std::string {
            if (has_inline) return inline_value;
            if (i + 1 >= args.size()) throw usage_error(fmt::format("{} needs a value", arg));
            return args[++i];
        };
        if (arg == "--help" || arg == "-h") {
            flag();
            o.help = true;
        } else if (arg == "--targets") {
            targets = value();
        } else if (arg == "--threads") {
            o.threads = parse_int(arg, value(), 1, 64);
        } else if (arg == "--connections") {
            o.connections = parse_int(arg, value(), 1, 100000);
        } else if (arg == "--rate") {
            o.rate = parse_number(arg, value(), 0, 10000000);
        } else if (arg == "--duration") {
            o.duration = parse_duration_option(arg, value());
        } else if (arg == "--warmup") {
            o.warmup = parse_duration_option(arg, value());
        } else if (arg == "--timeout") {
            o.timeout = parse_duration_option(arg, value());
        } else if (arg == "--retries") {
            o.retries = parse_int(arg, value(), 0, 20);
        } else if (arg == "--mix") {
            o.mix = parse_mix(value());
        } else if (arg == "--apps") {
            o.apps = parse_int(arg, value(), 1, 1000000);
        } else if (arg == "--chats") {
            o.chats = parse_int(arg, value(), 1, 1000000);
        } else if (arg == "--setup-messages") {
            o.setup_messages = parse_int(arg, value(), 0, 100000);
        } else if (arg == "--hot-fraction") {
            o.hot_fraction = parse_number(arg, value(), 0, 1);
        } else if (arg == "--hot-share") {
            o.hot_share = parse_number(arg, value(), 0, 1);
        } else if (arg == "--replay") {
            o.replay = parse_number(arg, value(), 0, 1);
        } else if (arg == "--delete-percent") {
            o.delete_percent = parse_number(arg, value(), 0, 100);
        } else if (arg == "--delete-delay") {
            o.delete_delay_max = parse_duration_option(arg, value());
        } else if (arg == "--seed") {
            auto v = value();
            auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), o.seed);
            if (ec != std::errc{} || p != v.data() + v.size())
                throw usage_error(fmt::format("--seed expects an unsigned integer, got '{}'", v));
        } else if (arg == "--static") {
            o.static_path = std::string(value());
            if (o.static_path.empty() || o.static_path[0] != '/')
                throw usage_error("--static expects a path starting with '/'");
            o.mix = {};
            o.mix[index_of(op_kind::static_get)] = 1;
        } else if (arg == "--json") {
            o.json_path = value();
        } else if (arg == "--record") {
            o.record_path = value();
        } else if (arg == "--verify") {
            flag();
            o.verify = true;
        } else if (arg == "--verify-only") {
            o.verify_only_path = value();
        } else if (arg == "--drain-timeout") {
            o.drain_timeout = parse_duration_option(arg, value());
        } else if (arg == "--count-timeout") {
            o.count_timeout = parse_duration_option(arg, value());
        } else if (arg == "--lag-sample") {
            o.lag_sample = parse_number(arg, value(), 0, 1);
        } else if (arg == "--es-sample") {
            o.es_sample = parse_int(arg, value(), 0, 10000000);
        } else if (arg == "--user-tokens") {
            flag();
            o.user_tokens = true;
        } else if (arg == "--webhook") {
            o.webhook_url = parse_webhook_url(value());
        } else if (arg == "--quiet") {
            flag();
            o.quiet = true;
        } else {
            throw usage_error(fmt::format("unknown option '{}' (see --help)", args[i]));
        }
    }
    std::string_view rest = targets;
    while (!rest.empty()) {
        auto comma = rest.find(',');
        auto one = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        if (!one.empty()) o.targets.push_back(parse_target(one));
    }
    if (o.targets.empty()) throw usage_error("--targets: at least one URL is needed");
    if (o.duration.count() == 0 && o.verify_only_path.empty())
        throw usage_error("--duration must be above 0");
    if (o.timeout.count() == 0) throw usage_error("--timeout must be above 0");
    if (o.rate > 0 && o.rate * static_cast<double>(o.duration.count() + o.warmup.count()) / 1000 > 2e9)
        throw usage_error("--rate x --duration is too large");
    if (o.hot_fraction == 0 && o.hot_share > 0)
        throw usage_error("--hot-fraction 0 leaves no hot chat to receive --hot-share; set --hot-share 0");
    if (!o.static_path.empty() && o.delete_percent > 0)
        throw usage_error("--static creates nothing, there is nothing to delete");
    if (!o.static_path.empty() && !o.webhook_url.empty())
        throw usage_error("--static creates no application, there is nothing to register --webhook for");
    if (!o.static_path.empty() && (o.verify || !o.verify_only_path.empty()))
        throw usage_error("--static measures an HTTP server, there is nothing to verify");
    if (o.static_path.empty() && o.mix[index_of(op_kind::static_get)] > 0)
        throw usage_error("--mix static needs --static PATH");
    return o;
}

std::string help_text() {
    return R"(chat_load: load generator and verifier for the chat API.

Drives the HTTP API with many keep-alive connections, reports throughput and latency percentiles per
operation, and with --verify checks in MariaDB and Elasticsearch (read directly, never through the API)
that every acknowledged creation was stored exactly once, numbered without holes, made searchable and
counted, that every acknowledged deletion erased its message, and (--webhook) that every acknowledged
message creation was recorded once for its webhook endpoint and delivered.

Usage:
  chat_load [options]
  chat_load --verify-only RECORD_FILE [--json FILE] [--drain-timeout D] [--count-timeout D]

Load:
  --targets URL[,URL...]  API servers (default http://127.0.0.1:8080). Each connection sends to its
                          home target; a failed creation is retried on the next one.
  --threads N             I/O threads (default 2)
  --connections N         closed loop: concurrent connections, each sends its next request when the
                          previous one is answered (default 64). Open loop: the most requests in flight.
  --rate R                open loop: R requests/s in total on a fixed timeline; latency counts from
                          the scheduled send time, so a backlog shows up as latency (coordinated
                          omission is not hidden). 0 (default): closed loop.
  --duration D            measured run (default 30s). Durations: 500ms, 30s, 2m, 1h; a bare number is s.
  --warmup D              run before the measured window, not in the statistics (default 0)
  --timeout D             one attempt (connect, send, answer) (default 10s)
  --retries N             retries of a failed creation (5xx, timeout, closed or refused connection), each
                          on the next target with the same Idempotency-Key (default 3)
  --mix OP=W,...          operation weights (default create_message=70,get_message=10,list_messages=5,
                          search=5,create_chat=5,get_chat=4,create_app=1); unnamed operations get 0
  --apps N                applications created before the run (default 10)
  --chats N               chats per application created before the run (default 10)
  --setup-messages N      messages per chat created before the run (default 2)
  --hot-fraction F        share of the chats that are hot (default 0.1)
  --hot-share F           share of chat operations going to hot chats (default 0.8)
  --replay F              fraction of acknowledged creations sent again with the same key to another
                          target, expecting the same number back (default 0.01)
  --delete-percent P      delete P % (0..100) of the messages created during the run (not the setup's)
                          after their 201, through the API (DELETE, expecting 204), each at a random
                          time within --delete-delay of its acknowledgement; 503s and lost answers are
                          retried like creations. Such messages are never read or searched by the run
                          (default 0: no deletion)
  --delete-delay D        the longest wait between a message's 201 and its deletion (default 2s; 0:
                          right after the 201, often before the creation is stored)
  --seed N                random seed (default: from the clock)
  --user-tokens           make the applications it creates restricted (with their secret) and send
                          every request to them with a user token minted for them, as a restricted
                          application's clients do
  --webhook URL           register a webhook endpoint with URL for every event ("events": ["*"]) on every
                          application it creates, with the application's secret, right after its
                          creation (POST /api/v1/apps/{token}/webhooks, expecting 201). A registration
                          that fails is a setup error (exit 2). A loopback http:// receiver needs the API
                          server and the worker started with CHAT_WEBHOOK_ALLOW_HTTP=1 and
                          CHAT_WEBHOOK_ALLOW_PRIVATE=1. With --verify, see check 7
  --quiet                 no progress lines on stderr

  --static PATH           only GETs of PATH, answered 200 with any JSON, no setup: the HTTP ceiling of a
                          machine (make bench runs it against bench/ceiling_server)

Reports:
  --json FILE             the report (and the verification) as JSON
  --record FILE           every acknowledged creation, the failed creations per chat and the deletions
                          (acknowledged or not), for --verify-only

Verification (settings from the same CHAT_* variables as the servers: CHAT_MYSQL_*, CHAT_ES_URL,
CHAT_ES_INDEX, CHAT_AMQP_*, CHAT_COUNT_REFRESH_INTERVAL_S):
  --verify                after the load, wait until the queue CHAT_AMQP_QUEUE is empty, every
                          acknowledged creation is in MariaDB and every acknowledged deletion applied
                          there, then check:
                          1. every acknowledged application, chat and message is stored, once, with
                             the same body (FNV-1a 64 of the body), and not deleted;
                          2. per chat, message numbers are exactly 1..N, and per application chat
                             numbers; a hole is allowed only if at least as many creations failed
                             there (reported as an allowed gap);
                          3. Elasticsearch holds as many messages per chat as MariaDB, and a sample
                             fetched by document id has the acknowledged body;
                          4. deletions: the message of every acknowledged deletion (204) is erased in
                             MariaDB (row kept, body '', deleted_at set, no edit history) and in
                             search (its document has no body, so no terms); a deletion without an
                             answer may or may not have happened, but its message is then either
                             erased in both or kept in both, with its body. A deleted message is
                             never counted as lost;
                          5. chats.messages_count and applications.chats_count reach the real counts
                             (deleted messages and chats not counted);
                          6. lag: ack -> stored in MariaDB and ack -> searchable, for a sample;
                          7. webhooks (with --webhook): wait within --drain-timeout until every
                             acknowledged message creation has a message.created row in
                             webhook_deliveries for its application's endpoint and none of them is
                             pending; then count them recorded, delivered, failed, pending, missing
                             (acknowledged, not recorded) and duplicated (more than one row per message
                             and endpoint), and the delivery lag (event -> delivered_at). Missing,
                             duplicated, failed and still pending are violations; a message the run
                             deleted may lack its message.created (deleted before it was stored).
  --verify-only FILE      no load: verify a file written by --record (checks 1-5, and 7 when the run
                          registered webhooks)
  --drain-timeout D       how long to wait for the drain (default 120s)
  --count-timeout D       how long to wait for the count columns (default
                          CHAT_COUNT_REFRESH_INTERVAL_S * 2 + 30s)
  --lag-sample F          fraction of acknowledged messages whose lag is measured (default 0.01)
  --es-sample N           acknowledged messages fetched from Elasticsearch by id (default 200)

Errors are counted by kind: "<status> <code>" for an HTTP error with the API's JSON error body
(e.g. "503 unavailable", "429 rate_limited"), closed, timeout, connect_failed; bad_failure is any other
failure (a 5xx without the JSON error shape, a 4xx on a valid request, a 2xx that does not parse or
does not match the request, a malformed HTTP answer), and wrong_number is a replay answered with
another number than the acknowledged one. Both fail the run.

Exit codes: 0 all good; 1 bad failures, wrong numbers, verification violations or a failed setup;
2 usage or configuration errors, and a --webhook endpoint that could not be registered.
)";
}

}  // namespace chat::load
