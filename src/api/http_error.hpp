#pragma once
// The one place where errors become HTTP: status code and the JSON body
// {"error": {"code": "...", "message": "..."}}.
#include <boost/beast/http.hpp>

#include "core/error.hpp"

namespace chat::api {

namespace http = boost::beast::http;
using response = http::response<http::string_body>;

http::status status_of(core::errc e);
// A complete JSON response for `err`, with Retry-After on retryable errors.
response error_response(const core::error& err, unsigned version, bool keep_alive);

}  // namespace chat::api
