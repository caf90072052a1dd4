// The pure parts of following a Redis Cluster: routing keys and the CLUSTER SLOTS slot map.
#include "store/redis_cluster.hpp"

#include <gtest/gtest.h>

using namespace chat;
using namespace chat::store::redis;

namespace {

std::string bulk(std::string_view s) {
    return "$" + std::to_string(s.size()) + "\r\n" + std::string(s) + "\r\n";
}

// One CLUSTER SLOTS range: [first, last, [host, port, id], [replica host, port, id]].
std::string range(int first, int last, std::string_view host, int port) {
    return "*4\r\n:" + std::to_string(first) + "\r\n:" + std::to_string(last) + "\r\n*3\r\n" + bulk(host) +
           ":" + std::to_string(port) + "\r\n" + bulk("id") + "*3\r\n" + bulk(host) + ":" +
           std::to_string(port + 3) + "\r\n" + bulk("rid");
}

const core::endpoint asked{"10.0.0.9", 7000};

}  // namespace

TEST(redis_cluster, commands_route_by_their_first_key) {
    using argv = std::vector<std::string>;
    EXPECT_EQ(routing_key(argv{"HGET", "{a}:x", "f"}), "{a}:x");
    EXPECT_EQ(routing_key(argv{"evalsha", "sha", "2", "k1", "k2", "arg"}), "k1");
    EXPECT_EQ(routing_key(argv{"EVAL", "return 1", "0", "arg"}), std::nullopt);
    EXPECT_EQ(routing_key(argv{"EVALSHA", "sha"}), std::nullopt);
    EXPECT_EQ(routing_key(argv{"PUBLISH", "chat:live", "x"}), std::nullopt);
    EXPECT_EQ(routing_key(argv{"ping"}), std::nullopt);
    EXPECT_EQ(routing_key(argv{"WAIT", "1", "100"}), std::nullopt);
    EXPECT_EQ(routing_key(argv{"SCRIPT", "LOAD", "x"}), std::nullopt);
    EXPECT_EQ(routing_key(argv{"GET"}), std::nullopt);
    EXPECT_EQ(routing_key(argv{}), std::nullopt);
}

TEST(redis_cluster, slot_map_names_the_master_of_every_slot) {
    auto answer = parse_resp("*3\r\n" + range(0, 5460, "127.0.0.1", 7101) +
                             range(5461, 10922, "127.0.0.1", 7102) + range(10923, 16383, "", 7103));
    ASSERT_TRUE(answer);
    auto map = slot_map::parse(*answer, asked);
    ASSERT_TRUE(map);
    EXPECT_EQ(map->covered_slots(), slot_count);
    ASSERT_EQ(map->masters().size(), 3u);
    EXPECT_EQ(*map->master_of(0), (core::endpoint{"127.0.0.1", 7101}));
    EXPECT_EQ(*map->master_of(5461), (core::endpoint{"127.0.0.1", 7102}));
    // An empty host means "the address you asked".
    EXPECT_EQ(*map->master_of(16383), (core::endpoint{"10.0.0.9", 7103}));
    EXPECT_EQ(map->master_of(hash_slot("{app}:1"))->port, map->master_of(hash_slot("x{app}y"))->port);
}

TEST(redis_cluster, a_lost_shard_leaves_its_slots_without_a_master) {
    auto answer = parse_resp("*2\r\n" + range(0, 99, "h", 1) + range(200, 16383, "h", 2));
    ASSERT_TRUE(answer);
    auto map = slot_map::parse(*answer, asked);
    ASSERT_TRUE(map);
    EXPECT_EQ(map->covered_slots(), slot_count - 100);
    EXPECT_EQ(map->master_of(150), nullptr);
    EXPECT_EQ(map->master_of(99)->port, 1);
}

TEST(redis_cluster, answers_that_are_no_slot_map_are_refused) {
    for (std::string bad :
         {std::string("-ERR This instance has cluster support disabled\r\n"), std::string("*0\r\n"),
          std::string(":5\r\n"), "*1\r\n" + range(0, 16384, "h", 1), "*1\r\n" + range(10, 5, "h", 1),
          "*1\r\n" + range(0, 5, "h", 0), "*1\r\n" + range(0, 5, "h", 70000),
          std::string("*1\r\n*2\r\n:0\r\n:5\r\n"), std::string("*1\r\n*3\r\n:0\r\n:5\r\n:7\r\n"),
          std::string("*1\r\n*3\r\n$1\r\na\r\n:5\r\n*2\r\n$1\r\nh\r\n:1\r\n")}) {
        auto answer = parse_resp(bad);
        ASSERT_TRUE(answer) << bad;
        EXPECT_FALSE(slot_map::parse(*answer, asked)) << bad;
    }
}
