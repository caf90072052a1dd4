// chat_worker: consumes the creation queue into MariaDB and Elasticsearch and runs the scheduled
// jobs. Wiring only: configuration, logging, metrics endpoint, index setup, four threads, a clean stop
// on SIGINT/SIGTERM (the current batch is finished and acknowledged, see consumer.hpp).
#include <curl/curl.h>
#include <fmt/format.h>
#include <prometheus/exposer.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <csignal>
#include <thread>

#include "core/config.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "store/elastic.hpp"
#include "worker/consumer.hpp"
#include "worker/index_catchup.hpp"
#include "worker/jobs.hpp"
#include "worker/webhook_sender.hpp"

namespace {
std::atomic<bool> stop_requested{false};
void on_signal(int) {
    stop_requested = true;
}
}  // namespace

int main() {
    // Once, before any thread: libcurl (Elasticsearch, webhooks) is then safe to use from every thread.
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const auto cfg = chat::core::load_config_or_exit("chat_worker");
    chat::core::init_logging("chat_worker", cfg.log_level);
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    // Prometheus scrapes the worker here (prometheus-cpp's own small HTTP server).
    std::unique_ptr<prometheus::Exposer> exposer;
    if (cfg.worker_metrics_port != 0) {
        try {
            exposer = std::make_unique<prometheus::Exposer>(
                fmt::format("{}:{}", cfg.http_host, cfg.worker_metrics_port));
            exposer->RegisterCollectable(chat::core::metrics::registry());
            spdlog::info("metrics on {}:{}/metrics", cfg.http_host, cfg.worker_metrics_port);
        } catch (const std::exception& e) {
            spdlog::critical("cannot serve metrics on port {} (CHAT_WORKER_METRICS_PORT): {}",
                             cfg.worker_metrics_port, e.what());
            return 1;
        }
    }

    // The index must exist with our mapping before the first bulk (never dynamic mapping).
    chat::store::elastic_client es(cfg.es_url, cfg.es_index, {cfg.es_shards, cfg.es_replicas});
    for (int attempt = 0; !stop_requested; ++attempt) {
        auto ok = es.ensure_index();
        if (ok) break;
        if (attempt % 10 == 0) spdlog::warn("waiting for Elasticsearch: {}", ok.error().message);
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }

    chat::worker::jobs jobs(cfg, stop_requested);
    std::thread jobs_thread([&] { jobs.run(); });
    // Storing never waits for search: what the consumer could not index, the catch-up indexes later.
    chat::worker::index_health health;
    chat::worker::index_catchup catchup(cfg, stop_requested, health);
    std::thread catchup_thread([&] { catchup.run(); });
    // Webhooks go out on their own thread: a slow endpoint never holds the queue.
    chat::worker::webhook_sender webhooks(cfg, stop_requested);
    std::thread webhook_thread([&] { webhooks.run(); });
    chat::worker::consumer consumer(cfg, stop_requested, health);
    spdlog::info("worker started");
    consumer.run();
    jobs_thread.join();
    catchup_thread.join();
    webhook_thread.join();
    spdlog::info("worker stopped");
    return 0;
}
