#pragma once
// Reading a chat or a message by number: MariaDB first (stored), then Redis (acknowledged, not stored
// yet: read-your-writes), then the handed-out marks (being created: 503, retry), else 404. Deletions
// count at once: a deleted chat answers as absent (404), a deleted message 410 `gone` (MariaDB's
// tombstone, or Redis's mark of a deletion acknowledged but not stored yet), and a list shows a
// tombstone in a deleted message's place. The rules of what each trace means are domain/creation.hpp's
// and domain/lifecycle.hpp's; the order of the lookups, and the second look at MariaDB that closes the
// race with the worker, are here, over the narrow port read_port so that unit tests run them over
// fakes (tests/unit/api/read_rules_test.cpp).
//
// Synchronous: a read runs whole on one blocking-pool thread (one hop from the I/O thread), with a
// port bound to that thread's connections.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "store/numbering.hpp"
#include "store/read_state.hpp"
#include "store/repository.hpp"

namespace chat::api {

// One chat's traces in the stores. Every call may fail with errc::unavailable.
class read_port {
  public:
    virtual ~read_port() = default;
    virtual core::result<std::optional<store::chat_row>> stored_chat(std::uint64_t chat) = 0;
    virtual core::result<std::optional<store::chat_meta>> registered_chat(std::uint64_t chat) = 0;
    // The chat's number was handed out within domain::handed_out_ttl_ms and it is not registered yet.
    virtual core::result<bool> chat_handed_out(std::uint64_t chat) = 0;
    virtual core::result<std::optional<store::message_row>> stored_message(std::uint64_t chat,
                                                                           std::uint64_t number) = 0;
    virtual core::result<std::optional<std::string>> pending_entry(std::uint64_t chat,
                                                                   std::uint64_t number) = 0;
    // Deletions Redis knows of: the chat's, and its messages' not stored yet (of `number` only, if given).
    virtual core::result<store::deletion_marks> deletions(std::uint64_t chat,
                                                          std::optional<std::uint64_t> number) = 0;
};

// A chat: stored, or registered (acknowledged, not stored: its count is 0), or 503 while its number
// is freshly handed out, else 404 (a deleted chat too).
core::result<store::chat_row> read_chat(read_port& port, std::uint64_t chat);
// Whether the chat exists for a read that found nothing (a search without hits, an empty list):
// nothing, or the error read_chat gives.
std::optional<core::error> chat_absence(read_port& port, std::uint64_t chat);
// A message: stored, or acknowledged (its pending entry), or 503 while being created, else 404; 410
// `gone` when deleted, 404 in a deleted chat.
core::result<store::message_row> read_message(read_port& port, std::uint64_t chat, std::uint64_t number,
                                              std::int64_t now_ms);
// A page of stored messages as a list shows it: each deleted one (its deletion stored, or only
// acknowledged: `marks`) as a tombstone in its place.
void as_listed(std::vector<store::message_row>& rows, const store::deletion_marks& marks);
// A tombstone's view: number, times and sender kept, no body.
store::message_row tombstone_of(store::message_row row, std::int64_t deleted_at_ms);

}  // namespace chat::api
