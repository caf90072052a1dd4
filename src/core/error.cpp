#include "core/error.hpp"

#include <stdexcept>

namespace chat::core {

std::string_view code_name(errc e) {
    switch (e) {
        case errc::bad_request:
            return "bad_request";
        case errc::unauthorized:
            return "unauthorized";
        case errc::forbidden:
            return "forbidden";
        case errc::invalid_field:
            return "invalid_field";
        case errc::not_found:
            return "not_found";
        case errc::gone:
            return "gone";
        case errc::route_not_found:
            return "route_not_found";
        case errc::method_not_allowed:
            return "method_not_allowed";
        case errc::payload_too_large:
            return "payload_too_large";
        case errc::headers_too_large:
            return "headers_too_large";
        case errc::unsupported_media_type:
            return "unsupported_media_type";
        case errc::expectation_failed:
            return "expectation_failed";
        case errc::not_implemented:
            return "not_implemented";
        case errc::upgrade_required:
            return "upgrade_required";
        case errc::conflict:
            return "conflict";
        case errc::rate_limited:
            return "rate_limited";
        case errc::unavailable:
            return "unavailable";
        case errc::internal:
            return "internal";
    }
    return "internal";
}

void throw_exception_from_error(const error& e, const boost::source_location&) {
    throw std::runtime_error(std::string(code_name(e.code)) + ": " + e.message);
}

}  // namespace chat::core
