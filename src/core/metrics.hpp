#pragma once
// Process-wide Prometheus metrics (prometheus-cpp's registry). The API serves them at /metrics on its
// own listener; the worker exposes them on CHAT_WORKER_METRICS_PORT. Every function here is
// thread-safe and cheap enough for the request path (a label lookup under the family's mutex and an
// atomic add); they are free functions so that store and worker code can count without wiring.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace chat::core::metrics {

std::shared_ptr<prometheus::Registry> registry();
// The whole registry in the Prometheus text exposition format (version 0.0.4).
std::string serialize();

// API server.
void observe_request(std::string_view route, std::string_view method, unsigned status, double seconds);
prometheus::Gauge& requests_in_flight();
prometheus::Gauge& connections_open();
prometheus::Counter& connections_rejected();
prometheus::Counter& connections_evicted();
prometheus::Counter& rate_limited();
// Holds a gauge up by one for its lifetime (requests in flight, open streams).
class gauge_scope {
  public:
    explicit gauge_scope(prometheus::Gauge& g) : g_(g) { g_.Increment(); }
    ~gauge_scope() { g_.Decrement(); }
    gauge_scope(const gauge_scope&) = delete;
    gauge_scope& operator=(const gauge_scope&) = delete;

  private:
    prometheus::Gauge& g_;
};

// Live delivery. Open streams by kind: "sse", "long_poll", "websocket" (sockets) and "websocket_chat"
// (the chats the sockets follow); `kind` is one of these literals, never input.
prometheus::Gauge& live_streams_open(std::string_view kind);
void live_event_sent(std::string_view kind, double lag_seconds);  // lag < 0: not measured (replay, update)
void live_dropped_slow();
// An exception escaped a coroutine or an I/O thread's run(): `where` is a fixed name, never input.
void escaped_exception(std::string_view where);
// One group-commit round of the publisher: how many events, how long until the broker confirmed.
void broker_confirm(std::size_t messages, double seconds, bool ok);
// Broker messages those events went out in (an envelope carries a whole group).
void broker_messages(std::size_t n);

// Worker.
void worker_batch(std::size_t events, double seconds);
void worker_events(std::string_view outcome, std::size_t n);  // stored, dead_lettered
void persistence_lag(double seconds);                         // event created -> stored and indexed
void count_refresh(bool ok, double seconds);
prometheus::Gauge& queue_depth();
// Search indexing that follows storing (worker/index_catchup.hpp): documents whose indexing was left
// to the catch-up, documents it indexed, and the age of the oldest one still waiting.
void index_deferred(std::size_t n);
void index_caught_up(std::size_t n);
prometheus::Gauge& index_backlog_age();

// A dependency (redis, mysql, amqp, elasticsearch) failed a call. Store code builds its
// `unavailable` errors through dependency_error so that each one is counted.
void dependency_failed(std::string_view dependency);
error dependency_error(std::string_view dependency, std::string message);

}  // namespace chat::core::metrics
