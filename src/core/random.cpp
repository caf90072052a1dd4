#include "core/random.hpp"

#include <sys/random.h>

#include <array>
#include <cstdint>
#include <stdexcept>

namespace chat::core {

namespace {
std::array<std::uint8_t, 16> random_bytes() {
    std::array<std::uint8_t, 16> b{};
    std::size_t got = 0;
    while (got < b.size()) {
        ssize_t n = getrandom(b.data() + got, b.size() - got, 0);
        if (n < 0) throw std::runtime_error("getrandom failed");  // a broken kernel: a bug, not an input
        got += static_cast<std::size_t>(n);
    }
    return b;
}
}  // namespace

std::string make_token() {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    auto b = random_bytes();
    std::string out;
    out.reserve(22);
    std::uint32_t acc = 0;
    int bits = 0;
    for (auto byte : b) {
        acc = (acc << 8) | byte;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(alphabet[(acc >> bits) & 0x3f]);
        }
    }
    if (bits > 0) out.push_back(alphabet[(acc << (6 - bits)) & 0x3f]);
    return out;
}

std::string make_creation_id() {
    static constexpr char hex[] = "0123456789abcdef";
    auto b = random_bytes();
    std::string out;
    out.reserve(32);
    for (auto byte : b) {
        out.push_back(hex[byte >> 4]);
        out.push_back(hex[byte & 0xf]);
    }
    return out;
}

}  // namespace chat::core
