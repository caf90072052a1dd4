#pragma once
// Command line of chat_load. Parsing is pure (no I/O) so the unit tests can cover it; a bad option
// throws usage_error, which main turns into exit code 2.
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace chat::load {

// The operations of the mix, plus `replay` (an acknowledged creation sent again with its key) and
// `delete_message` (the deletion of a message the run created, --delete-percent), which the tool issues
// itself and reports on their own rows. `static_get` ("static" in --mix and reports) is the
// benchmark's ceiling measurement: GETs of the fixed path --static, with no setup.
enum class op_kind {
    create_message,
    get_message,
    list_messages,
    search,
    create_chat,
    get_chat,
    create_app,
    static_get,
    replay,
    delete_message
};
inline constexpr std::size_t op_count = 10;
inline constexpr std::size_t mix_op_count = 8;  // every kind but replay and delete_message

std::string_view op_name(op_kind op);
std::optional<op_kind> op_from_name(std::string_view name);
inline std::size_t index_of(op_kind op) {
    return static_cast<std::size_t>(op);
}

using millis = std::chrono::milliseconds;

// One API server (or load balancer): http://host[:port][/prefix].
struct target {
    std::string url;  // as given, for reports
    std::string host;
    std::string port;
    std::string prefix;  // path prefix without trailing '/', usually empty
};

struct options {
    std::vector<target> targets;
    int threads = 2;
    int connections = 64;
    double rate = 0;  // requests/s in total; 0 means closed loop
    millis duration{30000};
    millis warmup{0};
    millis timeout{10000};  // one attempt
    int retries = 3;
    std::array<double, op_count> mix{};  // weights, indexed by op_kind (replay stays 0)
    int apps = 10;
    int chats = 10;          // per application, created before the timed run
    int setup_messages = 2;  // per chat, so that reads have something to read from the start
    double hot_fraction = 0.1;
    double hot_share = 0.8;
    double replay = 0.01;  // fraction of acknowledged creations sent again with the same key
    // --delete-percent: share (0..100) of the messages created in the run (after their 201) that it then
    // deletes through the API, each within delete_delay_max of its acknowledgement. 0: none.
    double delete_percent = 0;
    millis delete_delay_max{2000};
    std::uint64_t seed = 0;  // 0: from the clock
    std::string json_path;
    std::string record_path;
    std::string verify_only_path;
    bool verify = false;
    std::string static_path;  // --static: only GETs of this path, no setup (a ceiling measurement)
    millis drain_timeout{120000};
    std::optional<millis> count_timeout;  // default: CHAT_COUNT_REFRESH_INTERVAL_S * 2 + 30 s
    double lag_sample = 0.01;
    int es_sample = 200;  // acknowledged messages fetched from Elasticsearch by document id
    bool quiet = false;   // no progress lines on stderr
    // --user-tokens: every application it creates is made restricted with its secret, and every request
    // to it carries a user token minted for it (the cost of authorization, beside the open mode).
    bool user_tokens = false;
    // --webhook: every application it creates registers an endpoint with this URL for every event ("*"),
    // with its secret; with --verify, the deliveries of the run's message creations are checked.
    std::string webhook_url;
    bool help = false;
};

struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// argv without the program name.
options parse_options(const std::vector<std::string>& args);
// "30s", "500ms", "2m", "1.5s"; a bare number is seconds.
std::optional<millis> parse_duration(std::string_view text);
// "create_message=70,get_message=10": weights of the named operations, the others 0.
std::array<double, op_count> parse_mix(std::string_view text);
target parse_target(std::string_view url);
// --webhook: an absolute http:// or https:// URL with a host (what the server accepts beyond that, e.g.
// plain http or a loopback address, is its configuration's business).
std::string parse_webhook_url(std::string_view url);
std::array<double, op_count> default_mix();
std::string help_text();

}  // namespace chat::load
