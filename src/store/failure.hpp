#pragma once
// Failures of a dependency, built where they happen: the detail (the dependency's own error text, the
// statement or query, ids, paths) is logged there, and the error that travels up, and may reach a
// client, carries only a fixed sentence. A client never sees a dependency's text, a query, an
// internal id or a path; the API logs the generic error again with the request id, the worker's
// logs have the detail from here.
#include <spdlog/spdlog.h>

#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/metrics.hpp"

namespace chat::store {

// The sentences errors of the store carry.
inline constexpr std::string_view search_unavailable = "search is unavailable, retry";
inline constexpr std::string_view storage_unavailable = "storage is unavailable, retry";
inline constexpr std::string_view queue_unavailable = "the message queue is unavailable, retry";
inline constexpr std::string_view internal_failure = "internal error";

// How much of a dependency's answer goes into one log line.
inline constexpr std::size_t max_logged_detail = 300;

inline std::string clip(std::string_view text, std::size_t max = max_logged_detail) {
    if (text.size() <= max) return std::string(text);
    return std::string(text.substr(0, max)) + "...";
}

// An outage of `dependency` (retryable): counted in chat_dependency_errors_total, `detail` logged at
// warn, `message` (one of the sentences above) returned.
inline core::error unavailable(std::string_view dependency, std::string_view message,
                               std::string_view detail) {
    spdlog::warn("{}: {}", dependency, detail);
    return core::metrics::dependency_error(dependency, std::string(message));
}

// A failure that is no outage (a statement or script the dependency refuses: our bug): `detail`
// logged at error, "internal error" returned.
inline core::error internal(std::string_view dependency, std::string_view detail) {
    spdlog::error("{}: {}", dependency, detail);
    return core::make_error(core::errc::internal, std::string(internal_failure));
}

}  // namespace chat::store
