// chat_api: the HTTP API server. Wiring only: configuration, logging, the blocking pool, the
// publisher, the listener, and a graceful stop on SIGINT/SIGTERM: stop accepting, finish the requests
// in progress (their broker confirms included) for at most CHAT_SHUTDOWN_TIMEOUT_S, then exit. A
// second signal stops at once.
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>
#include <thread>
#include <vector>

#include "api/chat_service.hpp"
#include "api/handlers.hpp"
#include "api/live_hub.hpp"
#include "api/live_quota.hpp"
#include "api/live_stream.hpp"
#include "api/server.hpp"
#include "core/config.hpp"
#include "core/log.hpp"
#include "core/spawn.hpp"
#include "store/async_redis.hpp"
#include "store/live.hpp"
#include "store/publisher.hpp"

int main() {
    const auto cfg = chat::core::load_config_or_exit("chat_api");
    chat::core::init_logging("chat_api", cfg.log_level);
    try {
        // The hub outlives the io_context: handlers still pending when it is destroyed (a stream's frame
        // after the shutdown timeout) end their subscriptions in the hub.
        chat::api::live_hub hub;
        // The fair share of live connections: an application holds at most its share of the server's
        // connections, a user at most CHAT_LIVE_USER_MAX. Outlives the io_context too: a stream's frame
        // destroyed with it gives its lease back here.
        chat::api::live_quota quota(
            std::max<std::size_t>(1, static_cast<std::size_t>(cfg.max_connections) *
                                         static_cast<std::size_t>(cfg.live_app_share_percent) / 100),
            static_cast<std::size_t>(cfg.live_user_max));
        boost::asio::io_context ioc(cfg.http_threads);
        boost::asio::thread_pool blocking_pool(static_cast<std::size_t>(cfg.blocking_threads));
        chat::store::publisher publisher(cfg.amqp, cfg.redis, cfg.publisher_connections, 2000,
                                         static_cast<std::size_t>(cfg.envelope_max_events));
        publisher.start();
        // The creation path's Redis client, on the I/O threads. Destroyed after they were joined (it is
        // declared after the io_context), as it requires.
        chat::store::redis::client redis(ioc, cfg.redis);
        chat::api::chat_service svc(cfg, blocking_pool, publisher, redis);
        // Live delivery: events from every API server arrive over Redis pub/sub into this server's hub;
        // so do changes of access, which drop what this server cached and end the live connections
        // they take away.
        chat::store::live_subscriber fanout(
            cfg.redis,
            [&hub, &svc](std::string_view channel, std::string_view payload) {
                if (channel == chat::store::live_channel) {
                    if (auto e = chat::domain::decode_live(payload)) hub.publish(*e);
                } else if (auto a = chat::domain::decode_access_event(payload)) {
                    svc.access_changed(*a);
                    hub.withdraw(*a);
                }
            },
            [&hub, &svc] {
                svc.fanout_reconnected();
                hub.resync_all();
            });
        fanout.start();
        chat::api::live_streams live(
            svc, hub,
            chat::api::live_settings{std::chrono::milliseconds(cfg.live_heartbeat_ms),
                                     std::chrono::milliseconds(cfg.live_gap_grace_ms),
                                     static_cast<std::size_t>(cfg.live_buffer_events)},
            quota);
        chat::api::handlers handlers(svc, &live);
        chat::api::server server(ioc, cfg, handlers);
        auto port = server.start();
        spdlog::info("listening on {}:{}", cfg.http_host, port);

        boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int sig) {
            if (ec) return;
            spdlog::info("signal {}: draining", sig);
            hub.close_all();  // live streams end cleanly: clients reconnect elsewhere with Last-Event-ID
            server.shutdown(std::chrono::seconds(cfg.shutdown_timeout_s), [&] { ioc.stop(); });
            signals.async_wait([&](const boost::system::error_code& ec2, int) {
                if (ec2) return;
                spdlog::warn("second signal: stopping now");
                ioc.stop();
            });
        });
        std::vector<std::thread> threads;
        for (int i = 1; i < cfg.http_threads; ++i)
            threads.emplace_back([&] { chat::core::run_guarded("io_thread", [&] { ioc.run(); }); });
        chat::core::run_guarded("io_thread", [&] { ioc.run(); });
        for (auto& t : threads) t.join();
        fanout.stop();
        publisher.stop();  // publishes and confirms anything still queued
        blocking_pool.join();
        spdlog::info("stopped");
    } catch (const std::exception& e) {
        spdlog::critical("start-up failed: {}", e.what());
        return 1;
    }
    return 0;
}
