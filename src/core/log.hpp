#pragma once
// Logging: spdlog's default logger writes one JSON object a line on stderr:
//   {"ts":"...Z","level":"info","service":"chat_api","msg":"...","request_id":"..."}
// The message is JSON-escaped, so any text (a dependency's error message) keeps the line valid.
// request_id appears while a request_id_scope is alive on the logging thread. Message bodies are
// never logged at info level or above.
#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

namespace chat::core {

void init_logging(std::string_view service, std::string_view level);
// The formatter init_logging installs (exposed for tests and for extra sinks).
std::unique_ptr<spdlog::formatter> json_formatter(std::string_view service);

// Sets the request id that log lines of this thread carry until the scope ends. Coroutines hop
// threads at each co_await, so open a scope around synchronous logging only.
class request_id_scope {
  public:
    explicit request_id_scope(std::string_view id);
    ~request_id_scope();
    request_id_scope(const request_id_scope&) = delete;
    request_id_scope& operator=(const request_id_scope&) = delete;

  private:
    std::string previous_;
};

// Appends `s` to `out` as the inside of a JSON string (quotes, backslashes, control characters escaped).
void append_json_escaped(std::string& out, std::string_view s);

}  // namespace chat::core
