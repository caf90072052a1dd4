#pragma once
// The completion token for every co_spawn of ours, in place of asio::detached: an exception that
// escapes the coroutine (a bug: bad input never throws) is logged and counted, and the process keeps
// serving. `where` must be a string literal (it names the metric label and outlives the coroutine).
#include <exception>
#include <string_view>

namespace chat::core {

struct log_escape {
    std::string_view where;
    void operator()(std::exception_ptr e) const;
};

// Runs `run` (an io_context's run()) until it returns normally: an exception thrown out of a
// completion handler is logged and counted, and the thread goes back to serving.
template <class Run>
void run_guarded(std::string_view where, Run&& run) {
    for (;;) {
        try {
            run();
            return;
        } catch (...) {
            log_escape{where}(std::current_exception());
        }
    }
}

}  // namespace chat::core
