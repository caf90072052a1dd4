#include "core/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <string>

namespace chat::core {

namespace {

thread_local std::string current_request_id;

void append_escaped(spdlog::memory_buf_t& dest, std::string_view s) {
    std::string out;
    append_json_escaped(out, s);
    dest.append(out.data(), out.data() + out.size());
}

// %* : the message, escaped for a JSON string.
class json_message_flag final : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        append_escaped(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return spdlog::details::make_unique<json_message_flag>();
    }
};

// %& : ,"request_id":"..." when the logging thread is inside a request_id_scope, else nothing.
class request_id_flag final : public spdlog::custom_flag_formatter {
  public:
    void format(const spdlog::details::log_msg&, const std::tm&, spdlog::memory_buf_t& dest) override {
        if (current_request_id.empty()) return;
        static constexpr std::string_view key = R"(,"request_id":")";
        dest.append(key.data(), key.data() + key.size());
        append_escaped(dest, current_request_id);
        dest.push_back('"');
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return spdlog::details::make_unique<request_id_flag>();
    }
};

}  // namespace

void append_json_escaped(std::string& out, std::string_view s) {
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            default:
                if (c < 0x20) {
                    static constexpr char hex[] = "0123456789abcdef";
                    out += "\\u00";
                    out += hex[c >> 4];
                    out += hex[c & 0xf];
                } else {
                    out += ch;
                }
        }
    }
}

request_id_scope::request_id_scope(std::string_view id) : previous_(std::move(current_request_id)) {
    current_request_id.assign(id);
}

request_id_scope::~request_id_scope() {
    current_request_id = std::move(previous_);
}

std::unique_ptr<spdlog::formatter> json_formatter(std::string_view service) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    std::string escaped_service;
    append_json_escaped(escaped_service, service);
    formatter->add_flag<json_message_flag>('*').add_flag<request_id_flag>('&').set_pattern(fmt::format(
        R"({{"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","service":"{}","msg":"%*"%&}})", escaped_service));
    return formatter;
}

void init_logging(std::string_view service, std::string_view level) {
    auto logger = spdlog::stderr_logger_mt(std::string(service));
    logger->set_formatter(json_formatter(service));
    logger->set_level(spdlog::level::from_str(std::string(level)));
    logger->flush_on(spdlog::level::warn);
    spdlog::set_default_logger(logger);
}

}  // namespace chat::core
