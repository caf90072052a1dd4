#include "store/async_redis.hpp"

#include <hiredis/async.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <deque>

#include "core/metrics.hpp"
#include "store/failure.hpp"
#include "store/redis_cluster.hpp"

namespace chat::store::redis {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

// A command that failed because the connection did: counted per command, logged once per connection
// failure (in connection), not per command, so an outage does not flood the log.
core::error away() {
    return core::metrics::dependency_error("redis", std::string(storage_unavailable));
}

}  // namespace

// One hiredis asynchronous context and the Asio socket that watches its fd. Everything here runs on
// strand_ (hiredis is not thread-safe); submit() is the only entry from other threads.
class connection {
  public:
    connection(asio::io_context& ioc, core::redis_config cfg, client_options opts)
        : cfg_(std::move(cfg)),
          opts_(opts),
          strand_(asio::make_strand(ioc)),
          socket_(strand_),
          timer_(strand_),
          backoff_(opts.backoff_min) {}

    ~connection() {
        // The io_context no longer runs (the client is destroyed after its threads stopped): free here.
        // The commands in flight complete with an error, posted to their executors.
        if (ac_ != nullptr) redisAsyncFree(ac_);
    }

    // asking: send ASKING right before argv, on this connection (an ASK redirection).
    void submit(std::vector<std::string> argv, bool durable, bool asking, client::handler_type done) {
        asio::post(strand_,
                   [this, argv = std::move(argv), durable, asking, done = std::move(done)]() mutable {
                       if (asking)
                           send(
                               {"ASKING"}, [](core::result<reply>) {}, false);
                       send(argv, std::move(done), durable);
                   });
    }

  private:
    struct op {
        client::handler_type done;
        clock::time_point deadline;
        bool durable = false;  // its reply waits for the next WAIT (wait_replicas_ > 0)
        bool is_wait = false;  // the WAIT that releases the durable replies before it
    };
    struct held_reply {
        client::handler_type done;
        reply answer;
    };

    void send(const std::vector<std::string>& argv, client::handler_type done, bool durable) {
        if (ac_ == nullptr && !connect()) return done(away());
        durable = durable && cfg_.wait_replicas > 0;
        auto* o = new op{std::move(done), clock::now() + opts_.command_timeout, durable};
        if (!queue_command(argv, o)) {
            auto d = std::move(o->done);
            delete o;
            return d(away());
        }
        if (durable && !wait_posted_) {
            // After whatever else is queued on the strand now, so that one WAIT covers the burst.
            wait_posted_ = true;
            asio::post(strand_, [this] {
                wait_posted_ = false;
                send_wait();
            });
        }
        arm_timer();
    }

    // WAIT for the replicas, after the durable commands sent so far on this context. Their replies
    // are held (held_) until it answers. A context that died took its held replies with it
    // (context_gone fails them), so a WAIT on a newer context only ever covers its own writes.
    void send_wait() {
        if (ac_ == nullptr) return;
        auto timeout = std::chrono::milliseconds(cfg_.wait_timeout_ms);
        auto* o =
            new op{[](core::result<reply>) {}, clock::now() + timeout + opts_.command_timeout, false, true};
        std::vector<std::string> argv{"WAIT", std::to_string(cfg_.wait_replicas),
                                      std::to_string(timeout.count())};
        if (!queue_command(argv, o)) {
            delete o;
            release_held(false);
        }
        arm_timer();
    }

    void release_held(bool replicated) {
        auto held = std::move(held_);
        held_.clear();
        for (auto& h : held) {
            if (replicated)
                h.done(std::move(h.answer));
            else
                h.done(unavailable("redis", storage_unavailable, "too few replicas acknowledged the write"));
        }
    }

    bool queue_command(const std::vector<std::string>& argv, op* o) {
        std::vector<const char*> ptrs;
        std::vector<std::size_t> lens;
        ptrs.reserve(argv.size());
        lens.reserve(argv.size());
        for (const auto& a : argv) {
            ptrs.push_back(a.data());
            lens.push_back(a.size());
        }
        if (redisAsyncCommandArgv(ac_, &connection::on_reply, o, static_cast<int>(argv.size()), ptrs.data(),
                                  lens.data()) != REDIS_OK)
            return false;
        in_flight_.push_back(o);
        return true;
    }

    // hiredis calls this with the reply, or with nullptr when the context goes away (every command
    // still in flight gets that call, in order).
    static void on_reply(redisAsyncContext* ac, void* raw, void* privdata) {
        auto* self = static_cast<connection*>(ac->data);
        auto* o = static_cast<op*>(privdata);
        if (!self->in_flight_.empty() && self->in_flight_.front() == o)
            self->in_flight_.pop_front();
        else
            std::erase(self->in_flight_, o);
        auto done = std::move(o->done);
        bool durable = o->durable;
        bool is_wait = o->is_wait;
        delete o;
        if (is_wait) {
            auto acked = raw == nullptr ? std::nullopt
                                        : reply::from_hiredis(static_cast<redisReply*>(raw)).as_integer();
            bool enough = acked && *acked >= self->cfg_.wait_replicas;
            if (!enough)
                spdlog::warn("redis: {} of {} replicas of {}:{} acknowledged within {} ms", acked.value_or(0),
                             self->cfg_.wait_replicas, self->cfg_.host, self->cfg_.port,
                             self->cfg_.wait_timeout_ms);
            return self->release_held(enough);
        }
        if (raw == nullptr) return done(away());
        auto answer = reply::from_hiredis(static_cast<redisReply*>(raw));
        if (durable) return self->held_.push_back({std::move(done), std::move(answer)});
        done(std::move(answer));
    }

    // Starts a non-blocking connect, unless a failure happened less than the back-off ago.
    bool connect() {
        if (clock::now() < retry_at_) return false;
        redisAsyncContext* ac = redisAsyncConnect(cfg_.host.c_str(), cfg_.port);
        if (ac == nullptr || ac->err) {
            spdlog::warn("redis: cannot connect to {}:{}: {}", cfg_.host, cfg_.port,
                         ac ? ac->errstr : "allocation failed");
            if (ac) redisAsyncFree(ac);
            back_off();
            return false;
        }
        if (!attach(ac)) {
            redisAsyncFree(ac);
            back_off();
            return false;
        }
        if (!cfg_.password.empty()) authenticate();
        return true;
    }

    bool attach(redisAsyncContext* ac) {
        sockaddr_storage addr{};
        socklen_t len = sizeof addr;
        ::getsockname(ac->c.fd, reinterpret_cast<sockaddr*>(&addr), &len);
        boost::system::error_code ec;
        socket_.assign(addr.ss_family == AF_INET6 ? asio::ip::tcp::v6() : asio::ip::tcp::v4(), ac->c.fd, ec);
        if (ec) {
            spdlog::warn("redis: cannot watch the connection: {}", ec.message());
            return false;
        }
        ++generation_;
        ac_ = ac;
        ac->data = this;
        ac->ev.data = this;
        ac->ev.addRead = [](void* p) { static_cast<connection*>(p)->want_read(true); };
        ac->ev.delRead = [](void* p) { static_cast<connection*>(p)->want_read(false); };
        ac->ev.addWrite = [](void* p) { static_cast<connection*>(p)->want_write(true); };
        ac->ev.delWrite = [](void* p) { static_cast<connection*>(p)->want_write(false); };
        ac->ev.cleanup = [](void* p) { static_cast<connection*>(p)->context_gone(); };
        redisAsyncSetConnectCallback(ac, &connection::on_connect);
        redisAsyncSetDisconnectCallback(ac, &connection::on_disconnect);
        // The connect completes when the socket becomes writable (hiredis then calls on_connect).
        want(read_, true);
        want(write_, true);
        return true;
    }

    void authenticate() {
        auto gen = generation_;
        auto* o = new op{[this, gen](core::result<reply> r) {
                             if (r && !r->is_error()) return;
                             spdlog::warn("redis: AUTH refused");
                             // Not from inside hiredis's callback: drop the connection from the strand.
                             asio::post(strand_, [this, gen] {
                                 if (gen == generation_) fail("AUTH refused");
                             });
                         },
                         clock::now() + opts_.command_timeout};
        if (!queue_command({"AUTH", cfg_.password}, o)) delete o;
    }

    static void on_connect(const redisAsyncContext* ac, int status) {
        auto* self = static_cast<connection*>(ac->data);
        if (status == REDIS_OK) {
            self->backoff_ = self->opts_.backoff_min;
            return;
        }
        // hiredis frees the context right after this (context_gone runs).
        spdlog::warn("redis: cannot connect to {}:{}: {}", self->cfg_.host, self->cfg_.port,
                     ac->errstr ? ac->errstr : "?");
    }

    static void on_disconnect(const redisAsyncContext* ac, int status) {
        if (status != REDIS_OK) spdlog::warn("redis: connection lost: {}", ac->errstr ? ac->errstr : "?");
    }

    // hiredis is freeing the context (an error it met, or our redisAsyncFree): stop watching the fd,
    // which hiredis closes itself, and hold new commands off for the back-off.
    void context_gone() {
        boost::system::error_code ec;
        if (socket_.is_open()) socket_.release(ec);  // cancels our waits; the fd stays hiredis's
        ac_ = nullptr;
        ++generation_;
        read_ = {};
        write_ = {};
        back_off();
        release_held(false);  // their WAIT can no longer be sent on this context
    }

    void back_off() {
        retry_at_ = clock::now() + backoff_;
        backoff_ = std::min(backoff_ * 2, opts_.backoff_max);
    }

    void fail(std::string_view why) {
        if (ac_ == nullptr) return;
        spdlog::warn("redis: dropping the connection to {}:{}: {}", cfg_.host, cfg_.port, why);
        redisAsyncFree(ac_);  // completes every command in flight with an error, then context_gone()
    }

    // The adapter: hiredis says which readiness it waits for; one async_wait per direction at a time.
    struct direction {
        bool wanted = false;
        bool waiting = false;
    };
    void want_read(bool on) { want(read_, on); }
    void want_write(bool on) { want(write_, on); }
    void want(direction& d, bool on) {
        d.wanted = on;
        if (on) arm(d);
    }

    void arm(direction& d) {
        if (d.waiting || ac_ == nullptr) return;
        d.waiting = true;
        bool reading = &d == &read_;
        auto gen = generation_;
        socket_.async_wait(reading ? asio::socket_base::wait_read : asio::socket_base::wait_write,
                           asio::bind_executor(strand_, [this, gen, reading](boost::system::error_code ec) {
                               if (gen != generation_) return;  // a wait of a context that is gone
                               direction& dir = reading ? read_ : write_;
                               dir.waiting = false;
                               if (ec || !dir.wanted || ac_ == nullptr) return;
                               if (reading)
                                   redisAsyncHandleRead(ac_);
                               else
                                   redisAsyncHandleWrite(ac_);
                               // hiredis re-adds what it still needs; make sure a wanted wait is armed.
                               if (gen == generation_ && dir.wanted) arm(dir);
                           }));
    }

    // One timer per connection, set to the deadline of the oldest command in flight (replies come in
    // order, so it is the first to be late).
    void arm_timer() {
        if (timer_armed_ || in_flight_.empty()) return;
        timer_armed_ = true;
        timer_.expires_at(in_flight_.front()->deadline);
        timer_.async_wait(asio::bind_executor(strand_, [this](boost::system::error_code) {
            timer_armed_ = false;
            if (!in_flight_.empty() && in_flight_.front()->deadline <= clock::now())
                fail("command timed out");
            arm_timer();
        }));
    }

    core::redis_config cfg_;
    client_options opts_;
    asio::strand<asio::io_context::executor_type> strand_;
    asio::ip::tcp::socket socket_;
    asio::steady_timer timer_;
    redisAsyncContext* ac_ = nullptr;
    std::uint64_t generation_ = 0;  // bumped per context: tells late callbacks of an old one apart
    direction read_;
    direction write_;
    std::deque<op*> in_flight_;
    std::vector<held_reply> held_;  // durable replies waiting for their WAIT
    bool wait_posted_ = false;
    bool timer_armed_ = false;
    clock::time_point retry_at_{};
    std::chrono::milliseconds backoff_;
};

client::client(asio::io_context& ioc, core::redis_config cfg, client_options opts)
    : ioc_(ioc), cfg_(std::move(cfg)), opts_(opts) {
    if (!cfg_.clustered()) {
        node_at({cfg_.host, cfg_.port});
        return;
    }
    slot_owner_.assign(slot_count, nullptr);
    for (const auto& seed : cfg_.cluster_nodes) node_at(seed);
    refresh_slots();  // runs once the io_context does; until then commands go to the first seed
}

client::~client() {
    closing_ = true;  // completions that the destruction of the connections runs must not route again
    nodes_.clear();   // while the rest of the client is still whole
}

client::node& client::node_at(const core::endpoint& address) {
    std::lock_guard lock(nodes_mu_);
    return node_at_locked(address);
}

client::node& client::node_at_locked(const core::endpoint& address) {
    for (auto& n : nodes_)
        if (n->address == address) return *n;
    auto n = std::make_unique<node>();
    n->address = address;
    auto node_cfg = cfg_;
    node_cfg.host = address.host;
    node_cfg.port = address.port;
    for (int i = 0; i < std::max(1, opts_.connections_per_node); ++i)
        n->connections.push_back(std::make_unique<connection>(ioc_, node_cfg, opts_));
    nodes_.push_back(std::move(n));
    return *nodes_.back();
}

client::node& client::route(std::uint16_t slot) {
    if (!cfg_.clustered()) return *nodes_.front();
    std::lock_guard lock(nodes_mu_);
    node* owner = slot_owner_[slot];
    return owner != nullptr ? *owner : *nodes_.front();
}

void client::submit(const std::string& routing_key, std::vector<std::string> argv, bool durable,
                    handler_type done) {
    sent_.fetch_add(1, std::memory_order_relaxed);
    node& n = route(routing_key.empty() ? 0 : hash_slot(routing_key));
    if (cfg_.clustered()) return dispatch(n, std::move(argv), durable, false, 0, std::move(done));
    auto& conn = n.connections[n.next.fetch_add(1, std::memory_order_relaxed) % n.connections.size()];
    conn->submit(std::move(argv), durable, false, [this, done = std::move(done)](core::result<reply> r) {
        if (r && r->is_error())
            if (auto moved = parse_redirection(r->error_text())) {
                // A cluster answered, but CHAT_REDIS_NODES is not set: this client follows one Redis.
                redirections_.fetch_add(1, std::memory_order_relaxed);
                spdlog::warn(
                    "redis: redirected to {}:{} for slot {}; set CHAT_REDIS_NODES to follow a cluster",
                    moved->host, moved->port, moved->slot);
                return done(away());
            }
        done(std::move(r));
    });
}

void client::dispatch(node& n, std::vector<std::string> argv, bool durable, bool asking, int hop,
                      handler_type done) {
    auto& conn = n.connections[n.next.fetch_add(1, std::memory_order_relaxed) % n.connections.size()];
    auto again = std::make_shared<std::vector<std::string>>(argv);  // for a redirection
    conn->submit(std::move(argv), durable, asking,
                 [this, again, durable, hop, done = std::move(done)](core::result<reply> r) mutable {
                     if (closing_) return done(std::move(r));
                     if (!r) {
                         refresh_slots();  // the node may be gone and its slots served elsewhere
                         return done(std::move(r));
                     }
                     auto redirect = r->is_error() ? parse_redirection(r->error_text()) : std::nullopt;
                     if (!redirect) return done(std::move(r));
                     redirections_.fetch_add(1, std::memory_order_relaxed);
                     if (hop >= 4) return done(away());
                     bool ask = redirect->type == redirection::kind::ask;
                     if (!ask) refresh_slots();
                     node& target = node_at({redirect->host, redirect->port});
                     dispatch(target, std::move(*again), durable, ask, hop + 1, std::move(done));
                 });
}

void client::refresh_slots() {
    if (!cfg_.clustered() || closing_ || refreshing_.exchange(true)) return;
    auto candidates = std::make_shared<std::vector<core::endpoint>>();
    {
        std::lock_guard lock(nodes_mu_);
        for (const auto& n : nodes_) candidates->push_back(n->address);
    }
    try_refresh(std::move(candidates), 0);
}

void client::try_refresh(std::shared_ptr<std::vector<core::endpoint>> candidates, std::size_t next) {
    if (closing_ || next >= candidates->size()) {
        refreshing_ = false;
        return;
    }
    node& n = node_at((*candidates)[next]);
    std::vector<std::string> argv{"CLUSTER", "SLOTS"};
    n.connections.front()->submit(
        std::move(argv), false, false, [this, candidates, next](core::result<reply> r) {
            if (closing_) return;
            auto map = r ? slot_map::parse(*r, (*candidates)[next]) : std::nullopt;
            if (!map) return try_refresh(candidates, next + 1);
            {
                std::lock_guard lock(nodes_mu_);
                for (std::size_t slot = 0; slot < slot_count; ++slot) {
                    const auto* master = map->master_of(static_cast<std::uint16_t>(slot));
                    slot_owner_[slot] = master ? &node_at_locked(*master) : nullptr;
                }
            }
            refreshes_.fetch_add(1, std::memory_order_relaxed);
            refreshing_ = false;
        });
}

asio::awaitable<core::result<reply>> client::eval(const script& s, std::vector<std::string> keys,
                                                  std::vector<std::string> args, bool durable) {
    std::string key = keys.empty() ? std::string{} : keys.front();
    auto sha = s.sha1();
    if (sha.empty()) {
        // (GCC 12 cannot take a braced list inside a co_await expression.)
        std::vector<std::string> load{"SCRIPT", "LOAD", s.text()};
        auto loaded = co_await command(key, std::move(load));
        if (!loaded) co_return loaded.error();
        if (loaded->is_error()) {
            // A script that does not compile is our bug; anything else (LOADING after a restart, BUSY)
            // is an outage the client may retry.
            auto why = loaded->error_text();
            if (why.find("compiling") != std::string_view::npos)
                co_return internal("redis", "SCRIPT LOAD failed: " + clip(why));
            co_return unavailable("redis", storage_unavailable, "SCRIPT LOAD failed: " + clip(why));
        }
        auto text = loaded->as_string();
        if (!text) co_return unavailable("redis", storage_unavailable, "SCRIPT LOAD answered no SHA1");
        sha = std::string(*text);
        s.learn_sha1(sha);
    }
    std::vector<std::string> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv.push_back("EVALSHA");
    argv.push_back(sha);
    argv.push_back(std::to_string(keys.size()));
    for (auto& k : keys) argv.push_back(std::move(k));
    for (auto& a : args) argv.push_back(std::move(a));
    auto r = co_await initiate(key, argv, durable, asio::use_awaitable);
    if (r && r->is_error() && r->error_text().rfind("NOSCRIPT", 0) == 0) {
        // This node does not know the script (it restarted, failed over, or never ran it): EVAL runs
        // it and loads it there.
        argv[0] = "EVAL";
        argv[1] = s.text();
        r = co_await initiate(key, std::move(argv), durable, asio::use_awaitable);
    }
    co_return r;
}

}  // namespace chat::store::redis
