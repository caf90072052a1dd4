#pragma once
// Errors as values: every fallible domain/store call returns result<T>, an error carries a stable
// code (errc) and a human message. HTTP mapping happens in one place: api/http_error.cpp.
#include <boost/system/result.hpp>
#include <string>
#include <string_view>

namespace chat::core {

enum class errc {
    bad_request = 1,         // malformed JSON, query or header
    unauthorized,            // no valid credential where one is needed (401)
    forbidden,               // a valid credential that may not do this (403)
    invalid_field,           // well-formed but a field breaks a rule
    not_found,               // unknown application, chat or message
    gone,                    // a message that existed and was deleted (410)
    route_not_found,         // no such path
    method_not_allowed,      // path exists, method does not
    payload_too_large,       // body over the limit
    headers_too_large,       // request line and headers over the limit
    unsupported_media_type,  // body is not JSON
    expectation_failed,      // an Expect header we cannot meet (only 100-continue is)
    not_implemented,         // a transfer coding (or other protocol feature) we do not implement
    upgrade_required,        // a WebSocket path asked without a valid WebSocket handshake
    conflict,                // e.g. Idempotency-Key reused with another request
    rate_limited,            // the application is over its request rate (retry after retry_after_s)
    unavailable,             // a dependency cannot be reached right now (retryable)
    internal,                // a bug: never expected
};

// The stable, documented name of each code (used in JSON error bodies).
std::string_view code_name(errc e);

struct error {
    errc code;
    std::string message;
    int retry_after_s = 0;  // rate_limited: when the client may try again
};

template <class T>
using result = boost::system::result<T, error>;

inline error make_error(errc code, std::string message) {
    return error{code, std::move(message)};
}

// boost::system::result<T, E>::value() throws through this when E is not an error_code.
[[noreturn]] void throw_exception_from_error(const error& e, const boost::source_location& loc);

}  // namespace chat::core
