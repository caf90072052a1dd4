// The WebSocket frame parser: any text a client sends parses to a command or to a refusal whose error
// frame is JSON, never a crash; a parsed command keeps the rules of the HTTP API (a nonzero chat, a
// body within the limit, a key).
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "domain/ws_protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    auto r = chat::domain::parse_ws_frame(in, 64);
    if (!r) {
        boost::system::error_code ec;
        auto v = boost::json::parse(chat::domain::ws_error_frame(r.error()), ec);
        if (ec || !v.is_object()) std::abort();
        return 0;
    }
    std::visit(
        [](const auto& c) {
            if (c.chat == 0) std::abort();
            if constexpr (std::is_same_v<std::decay_t<decltype(c)>, chat::domain::ws_send>)
                if (c.body.empty() || c.body.size() > 64 || c.key.empty()) std::abort();
        },
        *r);
    return 0;
}
