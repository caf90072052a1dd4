#include "api/http_error.hpp"

#include <algorithm>
#include <boost/json.hpp>

namespace chat::api {

using core::errc;

http::status status_of(errc e) {
    switch (e) {
        case errc::bad_request:
            return http::status::bad_request;
        case errc::unauthorized:
            return http::status::unauthorized;
        case errc::forbidden:
            return http::status::forbidden;
        case errc::gone:
            return http::status::gone;
        case errc::invalid_field:
            return http::status::unprocessable_entity;
        case errc::not_found:
        case errc::route_not_found:
            return http::status::not_found;
        case errc::method_not_allowed:
            return http::status::method_not_allowed;
        case errc::payload_too_large:
            return http::status::payload_too_large;
        case errc::headers_too_large:
            return http::status::request_header_fields_too_large;
        case errc::unsupported_media_type:
            return http::status::unsupported_media_type;
        case errc::expectation_failed:
            return http::status::expectation_failed;
        case errc::not_implemented:
            return http::status::not_implemented;
        case errc::upgrade_required:
            return http::status::upgrade_required;
        case errc::conflict:
            return http::status::conflict;
        case errc::rate_limited:
            return http::status::too_many_requests;
        case errc::unavailable:
            return http::status::service_unavailable;
        case errc::internal:
            return http::status::internal_server_error;
    }
    return http::status::internal_server_error;
}

response error_response(const core::error& err, unsigned version, bool keep_alive) {
    response res{status_of(err.code), version};
    res.set(http::field::content_type, "application/json");
    if (err.code == errc::unavailable) res.set(http::field::retry_after, "1");
    // RFC 6750 §3: the scheme a client should use; no error detail (it would help a guesser).
    if (err.code == errc::unauthorized) res.set(http::field::www_authenticate, "Bearer realm=\"chat\"");
    if (err.code == errc::upgrade_required) {
        res.set(http::field::upgrade, "websocket");
        res.set(http::field::sec_websocket_version, "13");
    }
    if (err.code == errc::rate_limited)
        res.set(http::field::retry_after, std::to_string(std::max(1, err.retry_after_s)));
    boost::json::object body{{"error", {{"code", core::code_name(err.code)}, {"message", err.message}}}};
    res.body() = boost::json::serialize(body);
    res.keep_alive(keep_alive);
    res.prepare_payload();
    return res;
}

}  // namespace chat::api
