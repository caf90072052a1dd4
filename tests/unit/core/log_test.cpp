#include "core/log.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <sstream>

using namespace chat;

namespace {

// Logs one line through the production formatter and parses it back.
boost::json::object log_line(const std::function<void(spdlog::logger&)>& emit) {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    spdlog::logger logger("test", sink);
    logger.set_formatter(core::json_formatter("svc"));
    emit(logger);
    auto text = out.str();
    EXPECT_EQ(text.back(), '\n');
    EXPECT_EQ(text.find('\n'), text.size() - 1) << "one line per entry";
    return boost::json::parse(text).as_object();
}

}  // namespace

TEST(log, every_line_is_a_json_object_even_with_quotes_and_control_characters) {
    auto line = log_line([](spdlog::logger& l) { l.warn("mysql: \"x\" \\ broke\n\tat {}", "\x01"); });
    EXPECT_EQ(line.at("msg").as_string(), "mysql: \"x\" \\ broke\n\tat \x01");
    EXPECT_EQ(line.at("level").as_string(), "warning");
    EXPECT_EQ(line.at("service").as_string(), "svc");
    EXPECT_FALSE(line.contains("request_id"));
}

TEST(log, request_id_scope_adds_the_field_and_restores_the_outer_one) {
    core::request_id_scope outer("outer-1");
    auto inner_line = log_line([](spdlog::logger& l) {
        core::request_id_scope inner("in\"ner");
        l.info("x");
    });
    EXPECT_EQ(inner_line.at("request_id").as_string(), "in\"ner");
    auto outer_line = log_line([](spdlog::logger& l) { l.info("y"); });
    EXPECT_EQ(outer_line.at("request_id").as_string(), "outer-1");
}
