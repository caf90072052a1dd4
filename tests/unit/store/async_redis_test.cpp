// The asynchronous Redis client against an in-process fake Redis (a TCP server speaking RESP, with
// scripted behaviour): pipelining, timeouts, reconnects, script loading, redirections. And the pure
// parts: reply views, hash slots, redirection parsing. No real Redis (the integration tests drive the
// client against one through the API).
#include "store/async_redis.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <thread>

using namespace chat;
using namespace chat::store::redis;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// A fake Redis: parses each request with hiredis's reader and answers with what `answer` returns for
// its argv (empty: no answer at all; "CLOSE": closes the connection). Runs on its own thread.
class fake_redis {
  public:
    using answer_fn = std::function<std::string(const std::vector<std::string>&)>;

    explicit fake_redis(answer_fn answer) : answer_(std::move(answer)), acceptor_(ioc_, {tcp::v4(), 0}) {
        accept();
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~fake_redis() {
        ioc_.stop();
        thread_.join();
    }
    int port() const { return acceptor_.local_endpoint().port(); }
    int connections() const { return accepted_.load(); }

  private:
    struct session {
        tcp::socket socket;
        std::unique_ptr<redisReader, void (*)(redisReader*)> reader{redisReaderCreate(), redisReaderFree};
        char buf[4096] = {};
    };

    void accept() {
        acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
            if (ec) return;
            ++accepted_;
            auto sess =
                std::make_shared<session>(session{std::move(s), {redisReaderCreate(), redisReaderFree}, {}});
            read(sess);
            accept();
        });
    }

    void read(std::shared_ptr<session> s) {
        s->socket.async_read_some(
            asio::buffer(s->buf), [this, s](boost::system::error_code ec, std::size_t n) {
                if (ec) return;
                redisReaderFeed(s->reader.get(), s->buf, n);
                std::string out;
                void* raw = nullptr;
                while (redisReaderGetReply(s->reader.get(), &raw) == REDIS_OK && raw != nullptr) {
                    auto r = reply::from_hiredis(static_cast<redisReply*>(raw));
                    freeReplyObject(raw);
                    raw = nullptr;
                    std::vector<std::string> argv;
                    for (std::size_t i = 0; i < r.size(); ++i)
                        argv.emplace_back(r.at(i)->as_string().value_or(""));
                    auto a = answer_(argv);
                    if (a == "CLOSE") {
                        s->socket.close();
                        return;
                    }
                    out += a;
                }
                if (!out.empty()) asio::write(s->socket, asio::buffer(out), ec);
                read(s);
            });
    }

    answer_fn answer_;
    asio::io_context ioc_;
    tcp::acceptor acceptor_;
    std::atomic<int> accepted_{0};
    std::thread thread_;
};

core::redis_config at(int port) {
    core::redis_config cfg;
    cfg.host = "127.0.0.1";
    cfg.port = port;
    return cfg;
}

// Runs the client's io_context on two threads for the life of the test.
// Two I/O threads and the client under test. The client is destroyed only after the threads have
// stopped, as its owner must (a handler still running on its strand would race the destructor).
struct running {
    asio::io_context ioc;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{ioc.get_executor()};
    std::optional<client> tested;
    std::vector<std::thread> threads;
    running() {
        for (int i = 0; i < 2; ++i) threads.emplace_back([this] { ioc.run(); });
    }
    ~running() {
        work.reset();
        ioc.stop();
        for (auto& t : threads) t.join();
        tested.reset();
    }
    client& make(core::redis_config cfg, client_options opts) {
        tested.emplace(ioc, std::move(cfg), opts);
        return *tested;
    }
    // One command, waited for from the test thread (a liveness bound, not a timing assertion).
    core::result<reply> call(client& c, std::vector<std::string> argv, std::string key = "k") {
        auto f = c.command(std::move(key), std::move(argv), asio::use_future);
        if (f.wait_for(std::chrono::seconds(20)) != std::future_status::ready) {
            ADD_FAILURE() << "command never completed";
            return core::make_error(core::errc::internal, "hung");
        }
        return f.get();
    }
};

client_options quick() {
    client_options o;
    o.connections_per_node = 2;
    o.command_timeout = std::chrono::milliseconds(300);
    o.backoff_min = std::chrono::milliseconds(20);
    o.backoff_max = std::chrono::milliseconds(40);
    return o;
}

}  // namespace

TEST(async_redis, concurrent_commands_are_pipelined_and_each_gets_its_own_reply) {
    fake_redis server([](const std::vector<std::string>& argv) { return ":" + argv.at(1) + "\r\n"; });
    running rt;
    client& c = rt.make(at(server.port()), quick());
    std::vector<std::future<core::result<reply>>> futures;
    for (int i = 0; i < 500; ++i)
        futures.push_back(c.command("k" + std::to_string(i), {"ECHO", std::to_string(i)}, asio::use_future));
    std::set<long long> seen;
    for (int i = 0; i < 500; ++i) {
        ASSERT_EQ(futures[i].wait_for(std::chrono::seconds(20)), std::future_status::ready);
        auto r = futures[i].get();
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->as_integer(), i);  // its own reply, not a neighbour's
        seen.insert(*r->as_integer());
    }
    EXPECT_EQ(seen.size(), 500u);
    EXPECT_LE(server.connections(), 2);  // a few connections, not one per command
}

TEST(async_redis, a_silent_server_fails_the_command_as_a_value) {
    fake_redis server([](const std::vector<std::string>&) { return std::string{}; });
    running rt;
    client& c = rt.make(at(server.port()), quick());
    auto r = rt.call(c, {"GET", "k"});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, core::errc::unavailable);
}

TEST(async_redis, nobody_listening_fails_fast_as_a_value) {
    int port = 0;
    {
        asio::io_context tmp;
        tcp::acceptor a(tmp, {tcp::v4(), 0});
        port = a.local_endpoint().port();
    }  // closed: connections to it are refused
    running rt;
    client& c = rt.make(at(port), quick());
    for (int i = 0; i < 3; ++i) {
        auto r = rt.call(c, {"PING"});
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code, core::errc::unavailable);
    }
}

TEST(async_redis, reconnects_after_the_server_closed_the_connection) {
    std::atomic<int> calls{0};
    fake_redis server(
        [&](const std::vector<std::string>&) -> std::string { return ++calls == 1 ? "CLOSE" : "+PONG\r\n"; });
    running rt;
    client_options one = quick();
    one.connections_per_node = 1;
    client& c = rt.make(at(server.port()), one);
    auto first = rt.call(c, {"PING"});
    ASSERT_FALSE(first.has_value());
    EXPECT_EQ(first.error().code, core::errc::unavailable);
    // Within the back-off commands fail at once; after it a new connection serves them.
    core::result<reply> later = core::make_error(core::errc::unavailable, "");
    for (int i = 0; i < 200 && !later; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        later = rt.call(c, {"PING"});
    }
    ASSERT_TRUE(later.has_value());
    EXPECT_EQ(later->as_string(), "PONG");
    EXPECT_EQ(server.connections(), 2);
}

TEST(async_redis, eval_loads_the_script_and_evals_again_after_noscript) {
    std::vector<std::string> verbs;
    std::mutex mu;
    fake_redis server([&](const std::vector<std::string>& argv) -> std::string {
        std::lock_guard lock(mu);
        verbs.push_back(argv.at(0));
        if (argv[0] == "SCRIPT") return "$3\r\nabc\r\n";
        if (argv[0] == "EVALSHA") return "-NOSCRIPT No matching script. Please use EVAL.\r\n";
        if (argv[0] == "EVAL" && argv.at(2) == "1" && argv.at(3) == "key" && argv.at(4) == "arg")
            return ":7\r\n";
        return "-ERR unexpected\r\n";
    });
    running rt;
    client& c = rt.make(at(server.port()), quick());
    script s("return 7");
    auto f = asio::co_spawn(rt.ioc, c.eval(s, {"key"}, {"arg"}), asio::use_future);
    ASSERT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    auto r = f.get();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->as_integer(), 7);
    EXPECT_EQ(s.sha1(), "abc");
    std::lock_guard lock(mu);
    EXPECT_EQ(verbs, (std::vector<std::string>{"SCRIPT", "EVALSHA", "EVAL"}));
}

TEST(async_redis, a_cluster_redirection_is_an_outage_for_now_and_counted) {
    fake_redis server([](const std::vector<std::string>&) { return "-MOVED 3999 127.0.0.1:6381\r\n"; });
    running rt;
    client& c = rt.make(at(server.port()), quick());
    auto r = rt.call(c, {"GET", "k"});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, core::errc::unavailable);
    EXPECT_EQ(c.redirections(), 1u);
}

namespace {

// CLUSTER SLOTS: every slot on 127.0.0.1:port.
std::string all_slots_on(int port) {
    return "*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$9\r\n127.0.0.1\r\n:" + std::to_string(port) + "\r\n";
}

core::redis_config cluster_of(int seed_port) {
    core::redis_config cfg;
    cfg.cluster_nodes = {{"127.0.0.1", seed_port}};
    return cfg;
}

// Records the verbs a fake received, for the tests' checks (the fake answers on its own thread).
struct verbs {
    std::mutex mu;
    std::vector<std::string> seen;
    void add(const std::string& v) {
        std::lock_guard lock(mu);
        seen.push_back(v);
    }
    std::vector<std::string> get() {
        std::lock_guard lock(mu);
        return seen;
    }
};

}  // namespace

TEST(async_redis, a_cluster_client_follows_the_slot_map_and_moved) {
    verbs at_b;
    fake_redis b([&](const std::vector<std::string>& argv) {
        at_b.add(argv.at(0));
        return std::string("+from-b\r\n");
    });
    int b_port = b.port();
    fake_redis a([&](const std::vector<std::string>& argv) {
        if (argv.at(0) == "CLUSTER") return all_slots_on(b_port);
        return "-MOVED 12539 127.0.0.1:" + std::to_string(b_port) + "\r\n";
    });
    running rt;
    client& c = rt.make(cluster_of(a.port()), quick());
    for (int i = 0; i < 5; ++i) {
        auto r = rt.call(c, {"GET", "k" + std::to_string(i)}, "k" + std::to_string(i));
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->as_string(), "from-b");
    }
    EXPECT_GE(c.slot_refreshes(), 1u);
    // Once the map is known, commands go to b directly: none of them was redirected twice.
    EXPECT_LE(c.redirections(), 5u);
    EXPECT_EQ(at_b.get().size(), 5u);
}

TEST(async_redis, an_ask_redirection_sends_asking_first_and_keeps_the_map) {
    verbs at_b;
    fake_redis b([&](const std::vector<std::string>& argv) {
        at_b.add(argv.at(0));
        return std::string(argv.at(0) == "ASKING" ? "+OK\r\n" : "+from-b\r\n");
    });
    int b_port = b.port();
    std::atomic<int> a_port{0};
    fake_redis a([&](const std::vector<std::string>& argv) {
        if (argv.at(0) == "CLUSTER") return all_slots_on(a_port.load());
        return "-ASK 12539 127.0.0.1:" + std::to_string(b_port) + "\r\n";
    });
    a_port = a.port();
    running rt;
    client& c = rt.make(cluster_of(a.port()), quick());
    auto r = rt.call(c, {"GET", "k"});
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->as_string(), "from-b");
    EXPECT_EQ(at_b.get(), (std::vector<std::string>{"ASKING", "GET"}));
    EXPECT_EQ(c.redirections(), 1u);
}

TEST(async_redis, endless_redirections_end_as_an_outage) {
    std::atomic<int> a_port{0};
    fake_redis a([&](const std::vector<std::string>& argv) {
        if (argv.at(0) == "CLUSTER") return all_slots_on(a_port.load());
        return "-MOVED 1 127.0.0.1:" + std::to_string(a_port.load()) + "\r\n";
    });
    a_port = a.port();
    running rt;
    client& c = rt.make(cluster_of(a.port()), quick());
    auto r = rt.call(c, {"GET", "k"});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, core::errc::unavailable);
    EXPECT_EQ(c.redirections(), 5u);
}

TEST(async_redis, a_durable_reply_waits_for_a_wait_after_it) {
    verbs seen;
    std::atomic<int> replicas{1};
    fake_redis server([&](const std::vector<std::string>& argv) {
        seen.add(argv.at(0));
        if (argv.at(0) == "WAIT") return ":" + std::to_string(replicas.load()) + "\r\n";
        return std::string("+OK\r\n");
    });
    running rt;
    auto cfg = at(server.port());
    cfg.wait_replicas = 1;
    client& c = rt.make(cfg, quick());
    std::vector<std::future<core::result<reply>>> burst;
    for (int i = 0; i < 20; ++i) burst.push_back(c.durable_command("k", {"SET", "k", "v"}, asio::use_future));
    for (auto& f : burst) {
        ASSERT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
        auto r = f.get();
        ASSERT_TRUE(r.has_value());
        EXPECT_EQ(r->as_string(), "OK");
    }
    auto verbs_seen = seen.get();
    auto waits = std::count(verbs_seen.begin(), verbs_seen.end(), "WAIT");
    EXPECT_GE(waits, 1);
    EXPECT_LE(waits, 20);
    EXPECT_EQ(verbs_seen.back(), "WAIT");  // no SET was released without a WAIT behind it
    // A plain command is not held.
    EXPECT_TRUE(rt.call(c, {"GET", "k"}).has_value());
    // Too few replicas: the write is not acknowledged.
    replicas = 0;
    auto f = c.durable_command("k", {"SET", "k", "v"}, asio::use_future);
    ASSERT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    auto refused = f.get();
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code, core::errc::unavailable);
}

TEST(async_redis, a_redis_error_reply_is_a_reply) {
    fake_redis server([](const std::vector<std::string>&) { return "-WRONGTYPE Operation\r\n"; });
    running rt;
    client& c = rt.make(at(server.port()), quick());
    auto r = rt.call(c, {"GET", "k"});
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->is_error());
    EXPECT_EQ(r->error_text(), "WRONGTYPE Operation");
}

TEST(redis_reply, views_are_total) {
    auto arr = parse_resp("*3\r\n:5\r\n$2\r\n42\r\n$-1\r\n");
    ASSERT_TRUE(arr);
    EXPECT_EQ(arr->size(), 3u);
    EXPECT_EQ(arr->at(0)->as_integer(), 5);
    EXPECT_EQ(arr->at(1)->as_u64(), 42u);
    EXPECT_TRUE(arr->at(2)->is_nil());
    EXPECT_EQ(arr->at(3), nullptr);
    EXPECT_EQ(arr->as_string(), std::nullopt);
    EXPECT_EQ(arr->as_integer(), std::nullopt);
    EXPECT_EQ(arr->at(0)->at(0), nullptr);
    EXPECT_EQ(parse_resp("$3\r\n-12\r\n")->as_u64(), std::nullopt);
    EXPECT_EQ(parse_resp("$3\r\n1 2\r\n")->as_u64(), std::nullopt);
    EXPECT_EQ(parse_resp(":-1\r\n")->as_u64(), std::nullopt);
    EXPECT_EQ(parse_resp("$20\r\n99999999999999999999\r\n")->as_u64(), std::nullopt);  // over 64 bits
    EXPECT_EQ(parse_resp("+OK\r\n")->as_string(), "OK");
    EXPECT_EQ(parse_resp("-ERR x\r\n")->error_text(), "ERR x");
    EXPECT_EQ(parse_resp("+OK\r\n")->error_text(), "");
}

TEST(redis_reply, junk_and_partial_input_is_no_reply) {
    EXPECT_EQ(parse_resp(""), std::nullopt);
    EXPECT_EQ(parse_resp("*2\r\n:1\r\n"), std::nullopt);  // incomplete
    EXPECT_EQ(parse_resp("?what\r\n"), std::nullopt);     // protocol error
    EXPECT_EQ(parse_resp("$5\r\nab\r\n"), std::nullopt);
}

TEST(redis_reply, deep_nesting_is_cut_not_followed) {
    std::string deep;
    for (int i = 0; i < 7; ++i) deep += "*1\r\n";  // hiredis itself refuses more than 7 levels
    deep += ":1\r\n";
    auto r = parse_resp(deep);
    ASSERT_TRUE(r);
    const reply* p = &*r;
    int depth = 0;
    while (p->size() == 1) {
        p = p->at(0);
        ++depth;
    }
    EXPECT_EQ(depth, 7);
    EXPECT_EQ(p->as_integer(), 1);
    EXPECT_EQ(reply::from_hiredis(nullptr).type(), reply::kind::nil);
}

TEST(redis_cluster, hash_slots_match_redis) {
    EXPECT_EQ(hash_slot("123456789"), 12739);  // CRC16 XModem check value 0x31C3
    EXPECT_EQ(hash_slot("foo"), 12182);
    EXPECT_EQ(hash_slot("{user1000}.following"), hash_slot("{user1000}.followers"));
    EXPECT_EQ(hash_slot("{user1000}.following"), hash_slot("user1000"));
    EXPECT_EQ(hash_slot("foo{}{bar}"), hash_slot(std::string("foo{}{bar}")));  // empty tag: whole key
    EXPECT_NE(hash_slot("foo{}{bar}"), hash_slot("bar"));
    EXPECT_EQ(hash_slot("foo{{bar}}zap"), hash_slot("{bar"));
    EXPECT_EQ(hash_slot("chat:chat:{tok:7}:pending"), hash_slot("chat:chat:{tok:7}"));
}

TEST(redis_cluster, redirections_are_parsed_or_refused) {
    auto m = parse_redirection("MOVED 3999 127.0.0.1:6381");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->type, redirection::kind::moved);
    EXPECT_EQ(m->slot, 3999);
    EXPECT_EQ(m->host, "127.0.0.1");
    EXPECT_EQ(m->port, 6381);
    auto a = parse_redirection("ASK 1 ::1:7000");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->type, redirection::kind::ask);
    EXPECT_EQ(a->host, "::1");
    for (auto bad : {"MOVED", "MOVED 3999", "MOVED x 1.2.3.4:5", "MOVED 16384 h:1", "MOVED 1 h:0",
                     "MOVED 1 h:70000", "MOVED 1 :80", "ERR MOVED 1 h:1", "MOVED 1 h:"})
        EXPECT_EQ(parse_redirection(bad), std::nullopt) << bad;
}
