#pragma once
// An owned, typed copy of a Redis reply, and the pure parts of talking to Redis (Cluster) that need no
// connection: hash slots and MOVED/ASK redirections. Every accessor is total: asking a reply for
// something it is not gives std::nullopt (or an empty view), never an exception or a crash, whatever
// the server (or a fuzzer) sent. hiredis frees its own reply after the asynchronous callback returns,
// so the asynchronous client copies each reply into one of these.
#include <hiredis/hiredis.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chat::store::redis {

class reply {
  public:
    enum class kind { nil, string, status, error, integer, array };

    reply() = default;
    static reply make_nil() { return reply{}; }
    static reply make_string(std::string s, kind k = kind::string);
    static reply make_integer(long long v);
    static reply make_array(std::vector<reply> elements);

    // A copy of a hiredis reply tree; nil for a null pointer. Nesting deeper than max_depth (a server
    // never does this for our commands) is cut: the deeper arrays become nil.
    static reply from_hiredis(const redisReply* r, int max_depth = 8);

    kind type() const { return kind_; }
    bool is_nil() const { return kind_ == kind::nil; }
    bool is_error() const { return kind_ == kind::error; }
    // A bulk string or a status ("OK").
    std::optional<std::string_view> as_string() const;
    std::optional<long long> as_integer() const;
    // An integer reply, or a bulk string holding exactly a decimal unsigned 64-bit number.
    std::optional<std::uint64_t> as_u64() const;
    // The text of an error reply ("NOSCRIPT No matching script"); empty when this is no error.
    std::string_view error_text() const { return is_error() ? std::string_view(text_) : std::string_view{}; }
    // Arrays: the element count and the i-th element (nullptr past the end or when not an array).
    std::size_t size() const { return kind_ == kind::array ? elements_.size() : 0; }
    const reply* at(std::size_t i) const { return i < size() ? &elements_[i] : nullptr; }

  private:
    kind kind_ = kind::nil;
    std::string text_;
    long long integer_ = 0;
    std::vector<reply> elements_;
};

// Parses one complete RESP reply from `bytes` with hiredis's reader (as the connection does): the
// reply, or std::nullopt when the bytes are not one whole valid reply. For tests and the fuzz target.
std::optional<reply> parse_resp(std::string_view bytes);

// Redis Cluster's key slot (CRC16 of the key, or of its {hash tag}, modulo 16384).
std::uint16_t hash_slot(std::string_view key);

// A Redis Cluster redirection, read from an error reply "MOVED 3999 127.0.0.1:6381" or "ASK ...".
struct redirection {
    enum class kind { moved, ask } type = kind::moved;
    std::uint16_t slot = 0;
    std::string host;
    std::uint16_t port = 0;
};
std::optional<redirection> parse_redirection(std::string_view error_text);

}  // namespace chat::store::redis
