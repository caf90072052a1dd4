// The worker's event decoder: any bytes from the queue decode to an event or a poison error, never
// a crash; whatever decodes re-encodes to JSON that decodes to the same event.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "domain/event.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto e = chat::domain::decode(in);
    if (!e) return 0;
    auto again = chat::domain::decode(chat::domain::encode(*e));
    if (!again) std::abort();  // an event we accepted must survive its own encoding
    if (chat::domain::encode(*again) != chat::domain::encode(*e)) std::abort();
    (void)chat::domain::request_id(*e);
    return 0;
}
