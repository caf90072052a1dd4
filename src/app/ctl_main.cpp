// chat_ctl: small operator commands against the configured stack (same CHAT_* variables).
//   chat_ctl publish JSON         publish a raw event to the creation queue (confirmed); for drills
//   chat_ctl publish-envelope JSON...  publish the events as one envelope (domain/event.hpp), confirmed
//   chat_ctl dead-letters         print how many events wait in the dead-letter queue
//   chat_ctl dead-letters --peek N  print the first N of them (JSON lines: message_id, reason, body)
//   chat_ctl reindex [--delete-old]  rebuild the search index from MariaDB without downtime
#include <boost/json.hpp>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "domain/event.hpp"
#include "store/amqp.hpp"
#include "store/elastic.hpp"
#include "store/mysql.hpp"
#include "worker/reindex.hpp"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(
            stderr,
            "usage: chat_ctl publish JSON | publish-envelope JSON... | dead-letters [--peek N] | reindex "
            "[--delete-old]\n");
        return 2;
    }
    const auto cfg = chat::core::load_config_or_exit("chat_ctl");
    std::string cmd = argv[1];
    if (cmd == "reindex") {
        chat::store::mysql_connection db(cfg.mysql);
        chat::store::elastic_client es(cfg.es_url, cfg.es_index, {cfg.es_shards, cfg.es_replicas});
        chat::worker::reindex_options opts;
        opts.delete_old = argc > 2 && std::string(argv[2]) == "--delete-old";
        if (const char* settle = std::getenv("CHAT_REINDEX_SETTLE_MS"))
            opts.settle = std::chrono::milliseconds(std::atoll(settle));
        auto report = chat::worker::reindex(db, es, opts, [](const std::string& line) {
            std::fprintf(stderr, "reindex: %s\n", line.c_str());
        });
        if (!report) {
            std::fprintf(stderr, "chat_ctl: reindex failed: %s\n", report.error().message.c_str());
            return 1;
        }
        std::printf("%s -> %s, %llu messages\n", report->old_index.c_str(), report->new_index.c_str(),
                    static_cast<unsigned long long>(report->copied));
        return 0;
    }
    chat::store::amqp_session s(cfg.amqp);
    if (auto ok = s.open(cmd == "publish" || cmd == "publish-envelope"); !ok) {
        std::fprintf(stderr, "chat_ctl: %s\n", ok.error().message.c_str());
        return 1;
    }
    if ((cmd == "publish" && argc == 3) || (cmd == "publish-envelope" && argc >= 3)) {
        std::string body = argv[2];
        const char* content_type = "application/json";
        if (cmd == "publish-envelope") {
            std::vector<std::string_view> events(argv + 2, argv + argc);
            body = chat::domain::encode_envelope(events);
            content_type = chat::domain::envelope_content_type.data();
        }
        auto seq = s.publish(cfg.amqp.queue, body, "chat_ctl", {}, content_type);
        if (!seq) {
            std::fprintf(stderr, "chat_ctl: %s\n", seq.error().message.c_str());
            return 1;
        }
        auto nacked = s.wait_confirms(*seq, std::chrono::steady_clock::now() + std::chrono::seconds(10));
        if (!nacked || !nacked->empty()) {
            std::fprintf(stderr, "chat_ctl: not confirmed\n");
            return 1;
        }
        return 0;
    }
    if (cmd == "dead-letters" && argc == 4 && std::string(argv[2]) == "--peek") {
        // One JSON object a line: {"message_id", "reason", "body"}; the messages stay queued.
        auto peeked = s.peek(cfg.amqp.dead_letter_queue, static_cast<std::size_t>(std::atoll(argv[3])));
        if (!peeked) {
            std::fprintf(stderr, "chat_ctl: %s\n", peeked.error().message.c_str());
            return 1;
        }
        for (const auto& p : *peeked)
            std::printf("%s\n", boost::json::serialize(boost::json::object{{"message_id", p.message_id},
                                                                           {"reason", p.reason},
                                                                           {"body", p.body}})
                                    .c_str());
        return 0;
    }
    if (cmd == "dead-letters") {
        auto n = s.queue_depth(cfg.amqp.dead_letter_queue);
        if (!n) {
            std::fprintf(stderr, "chat_ctl: %s\n", n.error().message.c_str());
            return 1;
        }
        std::printf("%u\n", *n);
        return 0;
    }
    std::fprintf(stderr,
                 "usage: chat_ctl publish JSON | publish-envelope JSON... | dead-letters [--peek N] | "
                 "reindex [--delete-old]\n");
    return 2;
}
