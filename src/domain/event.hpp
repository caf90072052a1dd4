#pragma once
// The events that travel through RabbitMQ from the API to the workers. Each carries everything the
// worker needs to store it without asking anyone (no ordering dependency between events), plus a
// creation id: redelivery of the same event is recognised by it, and a different event claiming an
// already stored number is a conflict the worker refuses to overwrite.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "core/error.hpp"

namespace chat::domain {

struct chat_created {
    std::uint64_t app_id = 0;
    std::string token;
    std::uint64_t number = 0;
    std::string creation_id;
    std::int64_t created_at_ms = 0;
    std::string request_id = {};  // the API request that created it (for logs); may be empty
};

struct message_created {
    std::uint64_t app_id = 0;
    std::string token;
    std::uint64_t chat_number = 0;
    std::uint64_t number = 0;
    std::string body;
    std::string creation_id;
    std::int64_t created_at_ms = 0;
    std::string request_id = {};
};

// Sent after an edit was written to MySQL: the worker re-indexes the message from MySQL.
struct message_edited {
    std::uint64_t app_id = 0;
    std::uint64_t chat_number = 0;
    std::uint64_t number = 0;
    std::string request_id = {};
};

using event = std::variant<chat_created, message_created, message_edited>;

std::string encode(const event& e);
// The request id an event carries ("" when none).
const std::string& request_id(const event& e);
core::result<event> decode(std::string_view json);

}  // namespace chat::domain
