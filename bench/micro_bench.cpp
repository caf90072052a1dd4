// Micro-benchmarks of the request path's pure parts (Google Benchmark).
#include <benchmark/benchmark.h>

#include "domain/event.hpp"
#include "domain/search_query.hpp"
#include "domain/search_terms.hpp"
#include "domain/validation.hpp"

static void bm_validate_body(benchmark::State& st) {
    std::string body(200, 'a');
    for (auto _ : st) benchmark::DoNotOptimize(chat::domain::validate_body(body, 10000));
}
BENCHMARK(bm_validate_body);

static void bm_encode_event(benchmark::State& st) {
    chat::domain::message_created ev{
        1, "tok", 2, 3, std::string(200, 'b'), std::string(32, 'a'), 1700000000000};
    for (auto _ : st) benchmark::DoNotOptimize(chat::domain::encode(ev));
}
BENCHMARK(bm_encode_event);

static void bm_decode_event(benchmark::State& st) {
    chat::domain::message_created ev{
        1, "tok", 2, 3, std::string(200, 'b'), std::string(32, 'a'), 1700000000000};
    auto text = chat::domain::encode(ev);
    for (auto _ : st) benchmark::DoNotOptimize(chat::domain::decode(text));
}
BENCHMARK(bm_decode_event);

static void bm_parse_search_query(benchmark::State& st) {
    for (auto _ : st) benchmark::DoNotOptimize(chat::domain::parse_search_query("Hello wor*ld (ell) OR foo"));
}
BENCHMARK(bm_parse_search_query);

// The worker's cost per message of the search terms (mapping version 2): an ASCII message of 15
// words, and one in Russian and Chinese (through ICU's normalizers).
static void bm_index_terms_ascii(benchmark::State& st) {
    for (auto _ : st)
        benchmark::DoNotOptimize(chat::domain::compute_index_terms(
            "hey are we still meeting tomorrow at the station around nine or should we move it later"));
}
BENCHMARK(bm_index_terms_ascii);

static void bm_index_terms_unicode(benchmark::State& st) {
    for (auto _ : st)
        benchmark::DoNotOptimize(chat::domain::compute_index_terms(
            "Привет, мы всё ещё встречаемся завтра на вокзале? 我们明天在车站见面吧。"));
}
BENCHMARK(bm_index_terms_unicode);

BENCHMARK_MAIN();
