#include "core/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

namespace chat::core {

void init_logging(std::string_view service, std::string_view level) {
    auto logger = spdlog::stderr_logger_mt(std::string(service));
    // Messages we log never contain a double quote unescaped on purpose: callers log identifiers, not bodies.
    logger->set_pattern(
        fmt::format(R"({{"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","service":"{}","msg":"%v"}})", service),
        spdlog::pattern_time_type::utc);
    logger->set_level(spdlog::level::from_str(std::string(level)));
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(logger);
}

}  // namespace chat::core
