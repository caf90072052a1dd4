#include "core/keys.hpp"

#include <fmt/format.h>

namespace chat::core::keys {

std::string app(std::string_view token) {
    return fmt::format("chat:app:{{{}}}", token);
}

std::string app_idempotency(std::string_view token, std::string_view idempotency_key) {
    return fmt::format("chat:app:{{{}}}:idem:{}", token, idempotency_key);
}

std::string app_unregistered(std::string_view token) {
    return fmt::format("chat:app:{{{}}}:unregistered", token);
}

std::string app_erasures(std::string_view token) {
    return fmt::format("chat:app:{{{}}}:erasures", token);
}

std::string app_rate(std::string_view token) {
    return fmt::format("chat:app:{{{}}}:rate", token);
}

std::string user_rate(std::string_view token, std::string_view user) {
    // The hash tag is the first {...}: the token's, whatever braces the user id holds.
    return fmt::format("chat:app:{{{}}}:user-rate:{}", token, user);
}

std::string chat(std::string_view token, std::uint64_t chat_number) {
    return fmt::format("chat:chat:{{{}:{}}}", token, chat_number);
}

std::string chat_pending_deletions(std::string_view token, std::uint64_t chat_number) {
    return fmt::format("chat:chat:{{{}:{}}}:deleting", token, chat_number);
}

std::string chat_deleted(std::string_view token, std::uint64_t chat_number) {
    return fmt::format("chat:chat:{{{}:{}}}:deleted", token, chat_number);
}

std::string chat_reads(std::string_view token, std::uint64_t chat_number) {
    return fmt::format("chat:chat:{{{}:{}}}:reads", token, chat_number);
}

std::string chat_pending(std::string_view token, std::uint64_t chat_number) {
    return fmt::format("chat:chat:{{{}:{}}}:pending", token, chat_number);
}

std::string chat_idempotency(std::string_view token, std::uint64_t chat_number,
                             std::string_view idempotency_key) {
    return fmt::format("chat:chat:{{{}:{}}}:idem:{}", token, chat_number, idempotency_key);
}

std::string seeded() {
    return "chat:seeded";
}

}  // namespace chat::core::keys
