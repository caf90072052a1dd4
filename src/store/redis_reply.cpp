#include "store/redis_reply.hpp"

#include <charconv>
#include <memory>

namespace chat::store::redis {

reply reply::make_string(std::string s, kind k) {
    reply r;
    r.kind_ = k;
    r.text_ = std::move(s);
    return r;
}

reply reply::make_integer(long long v) {
    reply r;
    r.kind_ = kind::integer;
    r.integer_ = v;
    return r;
}

reply reply::make_array(std::vector<reply> elements) {
    reply r;
    r.kind_ = kind::array;
    r.elements_ = std::move(elements);
    return r;
}

reply reply::from_hiredis(const redisReply* r, int max_depth) {
    if (r == nullptr) return {};
    switch (r->type) {
        case REDIS_REPLY_STRING:
            return make_string(std::string(r->str, r->len), kind::string);
        case REDIS_REPLY_STATUS:
            return make_string(std::string(r->str, r->len), kind::status);
        case REDIS_REPLY_ERROR:
            return make_string(std::string(r->str, r->len), kind::error);
        case REDIS_REPLY_INTEGER:
            return make_integer(r->integer);
        case REDIS_REPLY_ARRAY: {
            if (max_depth <= 0) return {};
            std::vector<reply> elements;
            elements.reserve(r->elements);
            for (std::size_t i = 0; i < r->elements; ++i)
                elements.push_back(from_hiredis(r->element[i], max_depth - 1));
            return make_array(std::move(elements));
        }
        default:  // REDIS_REPLY_NIL, and any type a newer server might send
            return {};
    }
}

std::optional<std::string_view> reply::as_string() const {
    if (kind_ != kind::string && kind_ != kind::status) return std::nullopt;
    return std::string_view(text_);
}

std::optional<long long> reply::as_integer() const {
    if (kind_ != kind::integer) return std::nullopt;
    return integer_;
}

std::optional<std::uint64_t> reply::as_u64() const {
    if (kind_ == kind::integer) {
        if (integer_ < 0) return std::nullopt;
        return static_cast<std::uint64_t>(integer_);
    }
    if (kind_ != kind::string || text_.empty()) return std::nullopt;
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), v);
    if (ec != std::errc{} || end != text_.data() + text_.size()) return std::nullopt;
    return v;
}

std::optional<reply> parse_resp(std::string_view bytes) {
    std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(), redisReaderFree);
    if (!reader) return std::nullopt;
    if (redisReaderFeed(reader.get(), bytes.data(), bytes.size()) != REDIS_OK) return std::nullopt;
    void* raw = nullptr;
    if (redisReaderGetReply(reader.get(), &raw) != REDIS_OK || raw == nullptr) return std::nullopt;
    std::unique_ptr<redisReply, void (*)(redisReply*)> owned(static_cast<redisReply*>(raw),
                                                             [](redisReply* r) { freeReplyObject(r); });
    return reply::from_hiredis(owned.get());
}

namespace {

// CRC16-CCITT (XModem), the checksum Redis Cluster uses for key slots.
std::uint16_t crc16(std::string_view data) {
    std::uint16_t crc = 0;
    for (unsigned char c : data) {
        crc ^= static_cast<std::uint16_t>(c << 8);
        for (int bit = 0; bit < 8; ++bit)
            crc = (crc & 0x8000) ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021)
                                 : static_cast<std::uint16_t>(crc << 1);
    }
    return crc;
}

std::optional<std::uint64_t> decimal(std::string_view s) {
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

std::uint16_t hash_slot(std::string_view key) {
    // Only the part between the first '{' and the next '}' counts, when it is not empty.
    auto open = key.find('{');
    if (open != std::string_view::npos) {
        auto close = key.find('}', open + 1);
        if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
    }
    return static_cast<std::uint16_t>(crc16(key) & 16383);
}

std::optional<redirection> parse_redirection(std::string_view text) {
    redirection out;
    if (text.rfind("MOVED ", 0) == 0) {
        text.remove_prefix(6);
    } else if (text.rfind("ASK ", 0) == 0) {
        out.type = redirection::kind::ask;
        text.remove_prefix(4);
    } else {
        return std::nullopt;
    }
    auto space = text.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    auto slot = decimal(text.substr(0, space));
    auto address = text.substr(space + 1);
    auto colon = address.rfind(':');  // an IPv6 address holds colons too: the port is after the last
    if (!slot || *slot > 16383 || colon == std::string_view::npos || colon == 0) return std::nullopt;
    auto port = decimal(address.substr(colon + 1));
    if (!port || *port == 0 || *port > 65535) return std::nullopt;
    out.slot = static_cast<std::uint16_t>(*slot);
    out.host = std::string(address.substr(0, colon));
    out.port = static_cast<std::uint16_t>(*port);
    return out;
}

}  // namespace chat::store::redis
