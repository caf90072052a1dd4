#pragma once
// The HTTP side of chat_load: keep-alive Beast connections driven by C++20 coroutines, and the rule
// that turns an answer (or its absence) into an outcome and an error kind.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "options.hpp"

namespace chat::load {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct resolved_target {
    target where;
    tcp::resolver::results_type endpoints;
    std::string host_header;
};

// Resolves every target once, before the run (a DNS lookup per connection would be load of its own).
// Throws usage_error when a name does not resolve.
std::vector<resolved_target> resolve_targets(const std::vector<target>& targets);

struct attempt_result {
    enum class outcome { answered, closed, timeout, connect_failed, malformed };
    outcome what = outcome::answered;
    unsigned status = 0;
    std::string body;
    bool replayed = false;   // Idempotent-Replayed: true
    std::string error_text;  // for the transport outcomes
};

// How an attempt ended, in the terms of the report.
struct verdict {
    enum class kind { ok, retryable, failed };
    kind what = kind::ok;
    std::string error;        // "503 unavailable", "closed", "bad_failure"… (empty when ok)
    bool bad = false;         // a bad_failure: fails the run
    std::string detail;       // why, for bad failures
    boost::json::value json;  // the parsed body when ok
};

// A final failure of the given kind (a function, not a braced initializer: GCC 12 rejects the latter
// inside coroutines).
verdict failure(std::string error, bool bad, std::string detail);

// The rule of the issue: the expected status with a JSON body is ok (the caller still checks the
// shape); a 5xx with the API's JSON error, a closed connection, a timeout or a refused connection is
// retryable; 429 with the JSON error is its own, final, kind (retrying would only add load); anything
// else is a bad_failure.
verdict judge(const attempt_result& r, unsigned expected_status);
// The same rule for an answer expected as 204 No Content (a deletion): 204 is ok (with no body to
// parse), anything else is judged as judge() would for an expected 204.
verdict judge_no_content(const attempt_result& r);
// "<status> <code>" when the body is the API's error shape {"error": {"code": "…", "message": "…"}}.
std::optional<std::string> api_error_kind(unsigned status, const std::string& body);

// One logical client: a keep-alive connection per target, opened on first use. Lives on one I/O
// thread (no strand needed).
class connection_set {
  public:
    connection_set(asio::any_io_executor ex, const std::vector<resolved_target>& targets);

    struct header {
        std::string_view name;
        std::string value;
    };
    asio::awaitable<attempt_result> send(std::size_t target, http::verb method, std::string path,
                                         std::string body, std::vector<header> headers,
                                         std::chrono::milliseconds timeout);
    std::size_t target_count() const { return conns_.size(); }

  private:
    struct conn {
        std::optional<beast::tcp_stream> stream;
        beast::flat_buffer buffer;
    };
    void drop(conn& c);

    asio::any_io_executor ex_;
    const std::vector<resolved_target>& targets_;
    std::vector<conn> conns_;
};

}  // namespace chat::load
