// Search benchmark: indexes generated messages (realistic lengths, Zipf-distributed vocabulary) over
// many chats into a separate index through the same client and _bulk path the worker uses, then
// measures query latency of fragment, word and multi-word searches in random chats.
//
// Settings (environment): CHAT_ES_URL, BENCH_MESSAGES (1000000), BENCH_CHATS (2000),
// BENCH_VOCABULARY (distinct words generated, 20000), BENCH_QUERIES (300 per kind), BENCH_INDEX
// (bench_messages; recreated when BENCH_REUSE is unset). After loading, the index is force-merged to
// one segment (a settled index, as the issue measured it) and its size is reported.
//
// Then a closed loop: BENCH_CLOSED_CONNECTIONS (64) clients search for BENCH_CLOSED_SECONDS (10).
//
// Output lines read by bench/bench.py: "indexing: …", "index size: …", "query …", "closed loop: …".
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/config.hpp"
#include "store/elastic.hpp"
#include "vocabulary.hpp"

namespace {

using chat::bench::vocabulary;
using clock_type = std::chrono::steady_clock;

std::size_t env_size(const char* name, std::size_t fallback) {
    const char* v = std::getenv(name);
    return v ? std::strtoull(v, nullptr, 10) : fallback;
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// Merges the index to one segment; the merge runs as a task (it outlasts a request's timeout).
bool force_merge(chat::store::elastic_client& es, const std::string& alias) {
    auto t0 = clock_type::now();
    auto started =
        es.request("POST", "/" + alias + "/_forcemerge?max_num_segments=1&wait_for_completion=false");
    if (!started || started->status != 200) {
        std::fprintf(stderr, "force merge failed to start\n");
        return false;
    }
    while (true) {
        std::this_thread::sleep_for(std::chrono::seconds(2));
        auto tasks = es.request("GET", "/_tasks?actions=*forcemerge*");
        if (!tasks || tasks->status != 200) return false;
        auto v = boost::json::parse(tasks->body);
        bool running = false;
        for (const auto& [node, info] : v.at("nodes").as_object())
            if (!info.at("tasks").as_object().empty()) running = true;
        if (!running) break;
    }
    (void)es.request("POST", "/" + alias + "/_refresh");
    std::fprintf(stderr, "  force-merged in %.1f s\n",
                 std::chrono::duration<double>(clock_type::now() - t0).count());
    return true;
}

// Bytes on disk of the index's primaries.
std::optional<std::uint64_t> store_bytes(chat::store::elastic_client& es, const std::string& alias) {
    auto stats = es.request("GET", "/" + alias + "/_stats/store");
    if (!stats || stats->status != 200) return std::nullopt;
    auto v = boost::json::parse(stats->body);
    return v.at("_all").at("primaries").at("store").at("size_in_bytes").to_number<std::uint64_t>();
}

struct closed_query {
    std::uint64_t chat;
    std::vector<std::string> fragments;
};

struct closed_result {
    std::vector<double> ms;  // latency of each search answered within the run
    std::string errors;      // the first failure, if any
};

// `connections` threads, each with its own client (a curl handle is one connection), search the mix
// in turn until `seconds` have passed: throughput at a fixed concurrency, as chat_load measures the API.
closed_result closed_loop(const chat::core::config& cfg, const std::string& alias,
                          const std::vector<closed_query>& mix, std::size_t connections, double seconds) {
    std::atomic<std::size_t> next{0};
    std::mutex mu;
    closed_result out;
    const auto deadline = clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                                  std::chrono::duration<double>(seconds));
    std::vector<std::thread> threads;
    for (std::size_t c = 0; c < connections; ++c)
        threads.emplace_back([&] {
            chat::store::elastic_client es(cfg.es_url, alias, {cfg.es_shards, cfg.es_replicas});
            std::vector<double> ms;
            std::string error;
            while (error.empty() && clock_type::now() < deadline) {
                const auto& q = mix[next.fetch_add(1) % mix.size()];
                auto t0 = clock_type::now();
                auto page = es.search(1, q.chat, q.fragments, 0, 20, chat::store::search_order::relevance);
                if (!page)
                    error = page.error().message;
                else if (clock_type::now() <= deadline)
                    ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
            }
            std::lock_guard lock(mu);
            out.ms.insert(out.ms.end(), ms.begin(), ms.end());
            if (out.errors.empty()) out.errors = error;
        });
    for (auto& t : threads) t.join();
    return out;
}

}  // namespace

int main() {
    auto cfg = chat::core::load_config_from_environment();
    const std::size_t messages = env_size("BENCH_MESSAGES", 1000000);
    const std::size_t chats = env_size("BENCH_CHATS", 2000);
    const std::size_t queries = env_size("BENCH_QUERIES", 300);
    const char* index_env = std::getenv("BENCH_INDEX");
    const std::string alias = index_env ? index_env : "bench_messages";
    chat::store::elastic_client es(cfg.es_url, alias, {cfg.es_shards, cfg.es_replicas});
    std::mt19937_64 rng(42);
    const std::size_t vocabulary_size = env_size("BENCH_VOCABULARY", 20000);
    vocabulary vocab(rng, vocabulary_size);
    std::printf("settings: %zu messages, %zu chats, vocabulary of %zu words\n", messages, chats,
                vocabulary_size);

    if (std::getenv("BENCH_REUSE") == nullptr) {
        (void)es.request("DELETE", "/" + alias + "_v1");
        if (auto ok = es.ensure_index(); !ok) {
            std::fprintf(stderr, "cannot create index: %s\n", ok.error().message.c_str());
            return 1;
        }
        // Bulk loading: no refresh until the end, as an initial load would run.
        (void)es.request("PUT", "/" + alias + "/_settings", R"({"index":{"refresh_interval":"-1"}})");
        std::uniform_int_distribution<int> words_in_message(3, 25);
        std::vector<chat::store::message_doc> batch;
        const std::size_t batch_size = 5000;
        auto start = clock_type::now();
        std::size_t next_report = 100000;
        for (std::size_t i = 0; i < messages; ++i) {
            std::string body;
            int n = words_in_message(rng);
            for (int k = 0; k < n; ++k) {
                if (k) body.push_back(' ');
                body += vocab.pick(rng);
            }
            std::uint64_t chat = i % chats + 1;
            std::int64_t at = 1700000000000 + static_cast<std::int64_t>(i);
            batch.push_back({1, chat, i / chats + 1, std::move(body), at, at});
            if (batch.size() == batch_size || i + 1 == messages) {
                // A bulk may time out while Elasticsearch merges a large index; the ids are
                // deterministic, so sending it again is harmless.
                auto ok = es.bulk_index(batch);
                for (int retry = 1; !ok && retry <= 5; ++retry) {
                    std::fprintf(stderr, "bulk failed (%s), retry %d\n", ok.error().message.c_str(), retry);
                    std::this_thread::sleep_for(std::chrono::seconds(5));
                    ok = es.bulk_index(batch);
                }
                if (!ok) {
                    std::fprintf(stderr, "bulk failed: %s\n", ok.error().message.c_str());
                    return 1;
                }
                batch.clear();
            }
            if (i + 1 >= next_report) {
                std::fprintf(stderr, "  indexed %zu\n", i + 1);
                next_report += 100000;
            }
        }
        (void)es.request("PUT", "/" + alias + "/_settings", R"({"index":{"refresh_interval":"1s"}})");
        (void)es.request("POST", "/" + alias + "/_refresh");
        double secs = std::chrono::duration<double>(clock_type::now() - start).count();
        std::printf("indexing: %zu messages over %zu chats in %.1f s = %.0f messages/s (bulk of %zu)\n",
                    messages, chats, secs, static_cast<double>(messages) / secs, batch_size);
        if (!force_merge(es, alias)) return 1;
    }
    if (auto bytes = store_bytes(es, alias))
        std::printf("index size: %llu bytes = %.1f bytes/message (one segment)\n",
                    static_cast<unsigned long long>(*bytes),
                    static_cast<double>(*bytes) / static_cast<double>(messages));

    std::uniform_int_distribution<std::uint64_t> pick_chat(1, chats);
    auto frequent = [&] {
        // Words common enough to appear in a chat of ~500 messages.
        return vocab.words[std::uniform_int_distribution<std::size_t>(0, 200)(rng)];
    };
    struct kind {
        const char* name;
        std::function<std::vector<std::string>()> make;
    };
    std::vector<kind> kinds{
        {"fragment (3 letters inside a word)",
         [&] {
             auto w = frequent();
             auto at = std::uniform_int_distribution<std::size_t>(0, w.size() - 3)(rng);
             return std::vector<std::string>{w.substr(at, 3)};
         }},
        {"word", [&] { return std::vector<std::string>{frequent()}; }},
        {"two words",
         [&] {
             return std::vector<std::string>{frequent(), frequent()};
         }},
    };
    for (auto& k : kinds) {
        std::vector<double> ms;
        std::uint64_t hits = 0;
        for (std::size_t q = 0; q < queries; ++q) {
            auto fragments = k.make();
            auto t0 = clock_type::now();
            auto page = es.search(1, pick_chat(rng), fragments, 0, 20, chat::store::search_order::relevance);
            ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
            if (!page) {
                std::fprintf(stderr, "search failed: %s\n", page.error().message.c_str());
                return 1;
            }
            hits += page->total;
        }
        std::printf("query %-36s n=%zu  p50 %.2f ms  p99 %.2f ms  max %.2f ms  (mean hits %.1f)\n", k.name,
                    queries, percentile(ms, 0.50), percentile(ms, 0.99), percentile(ms, 1.0),
                    static_cast<double>(hits) / static_cast<double>(queries));
    }

    // Closed loop: the three kinds in turn, drawn before the clock starts (the generators share one
    // random engine), over BENCH_CLOSED_CONNECTIONS clients of their own.
    std::vector<closed_query> mix;
    for (std::size_t q = 0; q < 30000; ++q) mix.push_back({pick_chat(rng), kinds[q % kinds.size()].make()});
    const std::size_t connections = env_size("BENCH_CLOSED_CONNECTIONS", 64);
    const double seconds = static_cast<double>(env_size("BENCH_CLOSED_SECONDS", 10));
    auto loop = closed_loop(cfg, alias, mix, connections, seconds);
    if (!loop.errors.empty()) {
        std::fprintf(stderr, "closed-loop search failed: %s\n", loop.errors.c_str());
        return 1;
    }
    std::printf(
        "closed loop: %zu connections, %zu searches in %.1f s = %.0f searches/s  p50 %.2f ms  p99 %.2f ms\n",
        connections, loop.ms.size(), seconds, static_cast<double>(loop.ms.size()) / seconds,
        percentile(loop.ms, 0.50), percentile(loop.ms, 0.99));
    return 0;
}
