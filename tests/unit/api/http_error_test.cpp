#include "api/http_error.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

using namespace chat;

TEST(http_error, maps_every_code_to_its_status) {
    using boost::beast::http::status;
    using core::errc;
    EXPECT_EQ(api::status_of(errc::bad_request), status::bad_request);
    EXPECT_EQ(api::status_of(errc::invalid_field), status::unprocessable_entity);
    EXPECT_EQ(api::status_of(errc::not_found), status::not_found);
    EXPECT_EQ(api::status_of(errc::route_not_found), status::not_found);
    EXPECT_EQ(api::status_of(errc::method_not_allowed), status::method_not_allowed);
    EXPECT_EQ(api::status_of(errc::payload_too_large), status::payload_too_large);
    EXPECT_EQ(api::status_of(errc::unsupported_media_type), status::unsupported_media_type);
    EXPECT_EQ(api::status_of(errc::conflict), status::conflict);
    EXPECT_EQ(api::status_of(errc::unavailable), status::service_unavailable);
    EXPECT_EQ(api::status_of(errc::headers_too_large), status::request_header_fields_too_large);
    EXPECT_EQ(api::status_of(errc::expectation_failed), status::expectation_failed);
    EXPECT_EQ(api::status_of(errc::not_implemented), status::not_implemented);
    EXPECT_EQ(api::status_of(errc::upgrade_required), status::upgrade_required);
}

TEST(http_error, body_has_code_and_message) {
    auto res = api::error_response(core::make_error(core::errc::not_found, "chat not found"), 11, true);
    EXPECT_EQ(res.result_int(), 404);
    EXPECT_EQ(res[boost::beast::http::field::content_type], "application/json");
    auto v = boost::json::parse(res.body());
    EXPECT_EQ(v.at("error").at("code").as_string(), "not_found");
    EXPECT_EQ(v.at("error").at("message").as_string(), "chat not found");
    auto busy = api::error_response(core::make_error(core::errc::unavailable, "x"), 11, true);
    EXPECT_EQ(busy[boost::beast::http::field::retry_after], "1");
}

TEST(http_error, rate_limited_is_429_with_retry_after) {
    EXPECT_EQ(api::status_of(core::errc::rate_limited), boost::beast::http::status::too_many_requests);
    auto err = core::make_error(core::errc::rate_limited, "slow down");
    err.retry_after_s = 3;
    auto res = api::error_response(err, 11, true);
    EXPECT_EQ(res.result_int(), 429);
    EXPECT_EQ(res[boost::beast::http::field::retry_after], "3");
    EXPECT_EQ(boost::json::parse(res.body()).at("error").at("code").as_string(), "rate_limited");
    // A computed wait under a second still tells the client to wait, never "0".
    err.retry_after_s = 0;
    EXPECT_EQ(api::error_response(err, 11, true)[boost::beast::http::field::retry_after], "1");
}
