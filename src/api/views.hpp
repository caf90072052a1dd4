#pragma once
// JSON views shared by the handlers and the live streams (one shape for a message everywhere).
#include <boost/json/object.hpp>
#include <cstdint>

#include "domain/live.hpp"
#include "store/repository.hpp"

namespace chat::api {

// A message as GET …/messages/{m} returns it; a tombstone has "body": null and its "deleted_at".
boost::json::object message_json(std::uint64_t chat_number, const store::message_row& m);
// The message a live event of a message carries.
store::message_row row_of(const domain::live_event& e);
// The data of a live event: the message (created, updated, deleted), the marker (read.updated:
// {"chat_number", "user", "last_read"}) or the chat (chat.deleted: {"chat_number", "deleted_at"}).
boost::json::object live_data(const domain::live_event& e);

}  // namespace chat::api
