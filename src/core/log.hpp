#pragma once
#include <string_view>

namespace chat::core {

// Sets up spdlog's default logger: one JSON object a line on stderr, level from CHAT_LOG_LEVEL.
void init_logging(std::string_view service, std::string_view level);

}  // namespace chat::core
