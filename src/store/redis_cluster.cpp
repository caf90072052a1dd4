#include "store/redis_cluster.hpp"

#include <algorithm>
#include <cctype>

namespace chat::store::redis {

namespace {

bool is(std::string_view name, std::string_view upper) {
    return name.size() == upper.size() &&
           std::equal(name.begin(), name.end(), upper.begin(),
                      [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == b; });
}

}  // namespace

std::optional<std::string_view> routing_key(const std::vector<std::string>& argv) {
    if (argv.empty()) return std::nullopt;
    const auto& name = argv[0];
    if (is(name, "EVAL") || is(name, "EVALSHA")) {
        if (argv.size() < 4 || argv[2] == "0") return std::nullopt;
        return std::string_view(argv[3]);
    }
    for (auto keyless :
         {"PING", "PUBLISH", "WAIT", "SCRIPT", "AUTH", "ASKING", "CLUSTER", "INFO", "SUBSCRIBE"})
        if (is(name, keyless)) return std::nullopt;
    if (argv.size() < 2) return std::nullopt;
    return std::string_view(argv[1]);
}

std::optional<slot_map> slot_map::parse(const reply& answer, const core::endpoint& asked) {
    if (answer.type() != reply::kind::array) return std::nullopt;
    slot_map map;
    map.owner_.assign(slot_count, no_node);
    for (std::size_t i = 0; i < answer.size(); ++i) {
        // [first slot, last slot, [host, port, id, ...] of the master, replicas...]
        const reply* range = answer.at(i);
        if (range->size() < 3) return std::nullopt;
        auto first = range->at(0)->as_integer();
        auto last = range->at(1)->as_integer();
        const reply* master = range->at(2);
        auto host = master->at(0) ? master->at(0)->as_string() : std::nullopt;
        auto port = master->at(1) ? master->at(1)->as_integer() : std::nullopt;
        if (!first || !last || !host || !port || *first < 0 || *last < *first ||
            *last >= static_cast<long long>(slot_count) || *port < 1 || *port > 65535)
            return std::nullopt;
        core::endpoint ep{host->empty() ? asked.host : std::string(*host), static_cast<int>(*port)};
        auto it = std::find(map.masters_.begin(), map.masters_.end(), ep);
        auto index = static_cast<std::uint16_t>(it - map.masters_.begin());
        if (it == map.masters_.end()) map.masters_.push_back(std::move(ep));
        std::fill(map.owner_.begin() + *first, map.owner_.begin() + *last + 1, index);
    }
    if (map.masters_.empty()) return std::nullopt;
    return map;
}

const core::endpoint* slot_map::master_of(std::uint16_t slot) const {
    if (slot >= slot_count || owner_[slot] == no_node) return nullptr;
    return &masters_[owner_[slot]];
}

std::size_t slot_map::covered_slots() const {
    return static_cast<std::size_t>(
        std::count_if(owner_.begin(), owner_.end(), [](auto o) { return o != no_node; }));
}

}  // namespace chat::store::redis
