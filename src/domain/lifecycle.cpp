#include "domain/lifecycle.hpp"

namespace chat::domain {

using core::errc;
using core::make_error;

creation_outcome judge_creation(const std::string& stored_creation_id, bool stored_deleted,
                                const std::string& event_creation_id) {
    if (stored_deleted) return creation_outcome::deleted;
    return stored_creation_id == event_creation_id ? creation_outcome::stored : creation_outcome::conflict;
}

bool erased_on_arrival(bool chat_deleted, std::optional<std::int64_t> sender_erased_at_ms,
                       std::int64_t created_at_ms) {
    return chat_deleted || (sender_erased_at_ms && created_at_ms <= *sender_erased_at_ms);
}

core::result<std::uint64_t> move_marker(std::uint64_t current, std::uint64_t requested,
                                        std::uint64_t last_number) {
    if (requested > last_number)
        return make_error(errc::invalid_field, "number is above the chat's last message");
    return requested > current ? requested : current;
}

std::uint64_t unread(std::uint64_t last_number, std::uint64_t marker, std::uint64_t deleted_above_marker) {
    if (last_number <= marker) return 0;
    auto above = last_number - marker;
    return above > deleted_above_marker ? above - deleted_above_marker : 0;
}

core::result<std::optional<int>> parse_retention_days(std::optional<std::int64_t> days) {
    if (!days) return std::optional<int>{};
    if (*days < 1 || *days > 36500)
        return make_error(errc::invalid_field,
                          "retention_days must be a number of days from 1 to 36500, or null");
    return std::optional<int>(static_cast<int>(*days));
}

}  // namespace chat::domain
