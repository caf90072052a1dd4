#pragma once
// The webhook events of what a batch changed (recorded by batch_writer in the batch's transaction,
// sent by webhook_sender): each one's body as the receiver gets it, {"type", "timestamp", "data"}, and
// its key, the same for a redelivered queue event, so recording it twice records it once.
#include "domain/event.hpp"
#include "store/batch_store.hpp"
#include "store/webhook_outbox.hpp"

namespace chat::worker {

store::webhook_event chat_created_event(const domain::chat_created& c);
store::webhook_event message_created_event(const domain::message_created& m);
// An edit as the row is now (its body and the time of the edit).
store::webhook_event message_updated_event(const store::message_key& k, const store::message_state& row);
store::webhook_event message_deleted_event(const domain::message_deleted& d);
store::webhook_event chat_deleted_event(const domain::chat_deleted& d);
store::webhook_event read_updated_event(const domain::read_marked& r);

}  // namespace chat::worker
