#pragma once
// The pure parts of following a Redis Cluster, shared by the blocking and the asynchronous client:
// which key a command routes by, and the slot map read from CLUSTER SLOTS. No connection here, so
// all of it is unit-tested in milliseconds; the clients hold a slot_map and ask it where to go.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include "store/redis_reply.hpp"

namespace chat::store::redis {

inline constexpr std::size_t slot_count = 16384;

// The key whose slot decides where argv runs: the first key of EVAL/EVALSHA (none when it has no
// keys), nothing for keyless commands (PING, PUBLISH, WAIT, SCRIPT, AUTH, ASKING, CLUSTER, INFO,
// SUBSCRIBE: any node answers them; a PUBLISH reaches every node's subscribers), else argv[1].
std::optional<std::string_view> routing_key(const std::vector<std::string>& argv);

// Which master serves each slot, read from a CLUSTER SLOTS answer. Immutable once built.
class slot_map {
  public:
    static constexpr std::uint16_t no_node = 0xFFFF;

    // nullopt when the answer is not a CLUSTER SLOTS reply (an error, junk, a slot out of range) or
    // covers no slot. `asked` fills an empty host (Redis 7 answers "" for "the address you used").
    static std::optional<slot_map> parse(const reply& answer, const core::endpoint& asked);

    // The master of `slot`; nullptr when no master serves it (a cluster that lost a shard).
    const core::endpoint* master_of(std::uint16_t slot) const;
    const std::vector<core::endpoint>& masters() const { return masters_; }
    std::size_t covered_slots() const;

  private:
    std::vector<core::endpoint> masters_;
    std::vector<std::uint16_t> owner_;  // per slot (on the heap: threads with small stacks hold maps)
};

}  // namespace chat::store::redis
