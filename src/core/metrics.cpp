#include "core/metrics.hpp"

#include <prometheus/histogram.h>
#include <prometheus/text_serializer.h>

namespace chat::core::metrics {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Histogram;

// Latency buckets from 0.5 ms to 10 s: our p50 is a few ms, a stuck dependency shows at the top.
const Histogram::BucketBoundaries& latency_buckets() {
    static const Histogram::BucketBoundaries b{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                               0.1,    0.25,  0.5,    1,     2.5,  5,     10};
    return b;
}
const Histogram::BucketBoundaries& size_buckets() {
    static const Histogram::BucketBoundaries b{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000};
    return b;
}
const Histogram::BucketBoundaries& lag_buckets() {
    static const Histogram::BucketBoundaries b{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
    return b;
}

// All families, built once on first use (function-local static: thread-safe initialisation).
struct families {
    std::shared_ptr<prometheus::Registry> reg = std::make_shared<prometheus::Registry>();
    prometheus::Family<prometheus::Counter>& requests =
        BuildCounter().Name("chat_http_requests_total").Help("HTTP requests answered").Register(*reg);
    prometheus::Family<Histogram>& request_seconds = BuildHistogram()
                                                         .Name("chat_http_request_duration_seconds")
                                                         .Help("Time from a complete request to its response")
                                                         .Register(*reg);
    prometheus::Gauge& in_flight = BuildGauge()
                                       .Name("chat_http_requests_in_flight")
                                       .Help("Requests being handled")
                                       .Register(*reg)
                                       .Add({});
    prometheus::Gauge& connections = BuildGauge()
                                         .Name("chat_http_connections_open")
                                         .Help("Open client connections")
                                         .Register(*reg)
                                         .Add({});
    prometheus::Counter& rejected = BuildCounter()
                                        .Name("chat_http_connections_rejected_total")
                                        .Help("Connections refused because CHAT_MAX_CONNECTIONS were open")
                                        .Register(*reg)
                                        .Add({});
    prometheus::Counter& evicted =
        BuildCounter()
            .Name("chat_http_connections_evicted_total")
            .Help("Idle keep-alive connections closed to make room at CHAT_MAX_CONNECTIONS")
            .Register(*reg)
            .Add({});
    prometheus::Counter& limited = BuildCounter()
                                       .Name("chat_rate_limited_total")
                                       .Help("Requests answered 429 by the per-application rate limit")
                                       .Register(*reg)
                                       .Add({});
    prometheus::Family<prometheus::Counter>& confirms = BuildCounter()
                                                            .Name("chat_broker_published_total")
                                                            .Help("Events published, by broker outcome")
                                                            .Register(*reg);
    prometheus::Counter& broker_messages =
        BuildCounter()
            .Name("chat_broker_messages_total")
            .Help("Broker messages published (an envelope carries many events)")
            .Register(*reg)
            .Add({});
    Histogram& confirm_seconds = BuildHistogram()
                                     .Name("chat_broker_confirm_duration_seconds")
                                     .Help("Publish of one group-commit batch until the broker confirmed it")
                                     .Register(*reg)
                                     .Add({}, latency_buckets());
    Histogram& confirm_batch = BuildHistogram()
                                   .Name("chat_broker_batch_size")
                                   .Help("Events per group-commit round trip to the broker")
                                   .Register(*reg)
                                   .Add({}, size_buckets());
    Histogram& batch_size = BuildHistogram()
                                .Name("chat_worker_batch_size")
                                .Help("Events per batch stored by the worker")
                                .Register(*reg)
                                .Add({}, size_buckets());
    Histogram& batch_seconds = BuildHistogram()
                                   .Name("chat_worker_batch_duration_seconds")
                                   .Help("Storing one batch in MariaDB and Elasticsearch, retries included")
                                   .Register(*reg)
                                   .Add({}, latency_buckets());
    prometheus::Family<prometheus::Counter>& events =
        BuildCounter().Name("chat_worker_events_total").Help("Events handled by outcome").Register(*reg);
    Histogram& lag = BuildHistogram()
                         .Name("chat_worker_persistence_lag_seconds")
                         .Help("From the API's acknowledgement of a creation to the worker storing it")
                         .Register(*reg)
                         .Add({}, lag_buckets());
    prometheus::Family<prometheus::Counter>& refreshes =
        BuildCounter().Name("chat_count_refresh_runs_total").Help("Count refresh job runs").Register(*reg);
    Histogram& refresh_seconds = BuildHistogram()
                                     .Name("chat_count_refresh_duration_seconds")
                                     .Help("Duration of one count refresh run")
                                     .Register(*reg)
                                     .Add({}, latency_buckets());
    prometheus::Gauge& depth = BuildGauge()
                                   .Name("chat_worker_queue_depth")
                                   .Help("Ready messages in the creation queue at the last check")
                                   .Register(*reg)
                                   .Add({});
    prometheus::Family<prometheus::Counter>& index_docs =
        BuildCounter()
            .Name("chat_index_documents_total")
            .Help("Search documents by path: deferred (left to the catch-up), caught_up (indexed by it)")
            .Register(*reg);
    prometheus::Gauge& index_age = BuildGauge()
                                       .Name("chat_index_backlog_age_seconds")
                                       .Help("Age of the oldest stored message still waiting to be indexed")
                                       .Register(*reg)
                                       .Add({});
    prometheus::Family<prometheus::Gauge>& live_streams =
        BuildGauge()
            .Name("chat_live_streams_open")
            .Help("Open live streams by kind: sse, long_poll, websocket (sockets), websocket_chat")
            .Register(*reg);
    prometheus::Family<prometheus::Counter>& live_events = BuildCounter()
                                                               .Name("chat_live_events_sent_total")
                                                               .Help("Live events written to subscribers")
                                                               .Register(*reg);
    prometheus::Counter& live_dropped =
        BuildCounter()
            .Name("chat_live_subscribers_dropped_total")
            .Help("Live subscribers closed because they did not read fast enough")
            .Register(*reg)
            .Add({});
    prometheus::Family<Histogram>& live_lag =
        BuildHistogram()
            .Name("chat_live_delivery_lag_seconds")
            .Help("Creation of a message to its live event written to a subscriber")
            .Register(*reg);
    prometheus::Family<prometheus::Counter>& escaped = BuildCounter()
                                                           .Name("chat_escaped_exceptions_total")
                                                           .Help(
                                                               "Exceptions that escaped a coroutine or an "
                                                               "I/O thread (bugs; the process kept serving)")
                                                           .Register(*reg);
    prometheus::Family<prometheus::Counter>& dependency_errors = BuildCounter()
                                                                     .Name("chat_dependency_errors_total")
                                                                     .Help("Failed calls to a dependency")
                                                                     .Register(*reg);
};

families& f() {
    static families instance;
    return instance;
}

}  // namespace

std::shared_ptr<prometheus::Registry> registry() {
    return f().reg;
}

std::string serialize() {
    return prometheus::TextSerializer().Serialize(f().reg->Collect());
}

void observe_request(std::string_view route, std::string_view method, unsigned status, double seconds) {
    auto& fam = f();
    std::string s = std::to_string(status);
    fam.requests.Add({{"route", std::string(route)}, {"method", std::string(method)}, {"status", s}})
        .Increment();
    fam.request_seconds
        .Add({{"route", std::string(route)}, {"method", std::string(method)}, {"status", std::move(s)}},
             latency_buckets())
        .Observe(seconds);
}

prometheus::Gauge& requests_in_flight() {
    return f().in_flight;
}
prometheus::Gauge& connections_open() {
    return f().connections;
}
prometheus::Counter& connections_rejected() {
    return f().rejected;
}
prometheus::Counter& connections_evicted() {
    return f().evicted;
}
prometheus::Gauge& live_streams_open(std::string_view kind) {
    return f().live_streams.Add({{"kind", std::string(kind)}});
}
void live_event_sent(std::string_view kind, double lag_seconds) {
    auto& fam = f();
    fam.live_events.Add({{"event", std::string(kind)}}).Increment();
    if (lag_seconds >= 0) fam.live_lag.Add({}, latency_buckets()).Observe(lag_seconds);
}
void live_dropped_slow() {
    f().live_dropped.Increment();
}
void escaped_exception(std::string_view where) {
    f().escaped.Add({{"where", std::string(where)}}).Increment();
}
prometheus::Counter& rate_limited() {
    return f().limited;
}

void broker_confirm(std::size_t messages, double seconds, bool ok) {
    auto& fam = f();
    fam.confirms.Add({{"result", ok ? "confirmed" : "failed"}}).Increment(static_cast<double>(messages));
    fam.confirm_batch.Observe(static_cast<double>(messages));
    if (ok) fam.confirm_seconds.Observe(seconds);
}

void broker_messages(std::size_t n) {
    f().broker_messages.Increment(static_cast<double>(n));
}

void worker_batch(std::size_t events, double seconds) {
    f().batch_size.Observe(static_cast<double>(events));
    f().batch_seconds.Observe(seconds);
}

void worker_events(std::string_view outcome, std::size_t n) {
    if (n > 0) f().events.Add({{"outcome", std::string(outcome)}}).Increment(static_cast<double>(n));
}

void persistence_lag(double seconds) {
    f().lag.Observe(seconds);
}

void count_refresh(bool ok, double seconds) {
    f().refreshes.Add({{"result", ok ? "ok" : "failed"}}).Increment();
    if (ok) f().refresh_seconds.Observe(seconds);
}

prometheus::Gauge& queue_depth() {
    return f().depth;
}

void index_deferred(std::size_t n) {
    f().index_docs.Add({{"path", "deferred"}}).Increment(static_cast<double>(n));
}
void index_caught_up(std::size_t n) {
    f().index_docs.Add({{"path", "caught_up"}}).Increment(static_cast<double>(n));
}
prometheus::Gauge& index_backlog_age() {
    return f().index_age;
}

void dependency_failed(std::string_view dependency) {
    f().dependency_errors.Add({{"dependency", std::string(dependency)}}).Increment();
}

error dependency_error(std::string_view dependency, std::string message) {
    dependency_failed(dependency);
    return make_error(errc::unavailable, std::move(message));
}

}  // namespace chat::core::metrics
