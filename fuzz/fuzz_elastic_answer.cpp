// The worker's and the API's readers of Elasticsearch answers: whatever a proxy, a version change or
// a broken node sends back, each reader returns a value or a retryable error, never throws.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "store/elastic.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    try {
        if (auto b = chat::store::parse_bulk_answer(in); b && b->failures.size() > b->items) std::abort();
        (void)chat::store::parse_search_answer(in);
        (void)chat::store::parse_alias_answer(in);
        (void)chat::store::parse_mapping_versions(in);
    } catch (...) {
        std::abort();  // the readers promise not to throw
    }
    return 0;
}
