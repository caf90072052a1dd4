// The live hub: events reach the subscribers of their chat only, a subscriber that does not read
// overflows alone, close_all() ends every subscription, and a waiting subscriber is woken.
#include "api/live_hub.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <thread>

using namespace chat;

namespace {

domain::live_event ev(std::string token, std::uint64_t chat, std::uint64_t n) {
    return domain::live_event{domain::live_kind::created, std::move(token), chat, n, "b", 1, 1};
}

}  // namespace

TEST(live_hub, routes_by_chat_and_bounds_each_subscriber) {
    boost::asio::io_context ioc;
    api::live_hub hub;
    auto mine = hub.subscribe(ioc.get_executor(), "t", 1, 2);
    auto other = hub.subscribe(ioc.get_executor(), "t", 2, 2);
    auto slow = hub.subscribe(ioc.get_executor(), "t", 1, 1);
    EXPECT_EQ(hub.subscriptions(), 3u);
    hub.publish(ev("t", 1, 1));
    hub.publish(ev("u", 1, 1));  // another application's chat 1
    EXPECT_EQ(mine->take().size(), 1u);
    EXPECT_TRUE(other->take().empty());
    hub.publish(ev("t", 1, 2));
    EXPECT_TRUE(slow->overflowed());  // held 1 already
    EXPECT_FALSE(mine->overflowed());
    EXPECT_EQ(mine->take().size(), 1u);
    slow.reset();
    EXPECT_EQ(hub.subscriptions(), 2u);
    hub.close_all();
    EXPECT_TRUE(mine->closed());
    EXPECT_TRUE(hub.subscribe(ioc.get_executor(), "t", 3, 1)->closed());
}

TEST(live_hub, a_waiting_subscriber_is_woken_from_another_thread) {
    boost::asio::io_context ioc;
    api::live_hub hub;
    auto sub = hub.subscribe(ioc.get_executor(), "t", 1, 10);
    auto started = std::chrono::steady_clock::now();
    auto done =
        boost::asio::co_spawn(ioc, sub->wait(started + std::chrono::seconds(30)), boost::asio::use_future);
    std::thread publisher([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        hub.publish(ev("t", 1, 1));
    });
    ioc.run();
    publisher.join();
    done.get();
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
    EXPECT_EQ(sub->take().size(), 1u);
}
