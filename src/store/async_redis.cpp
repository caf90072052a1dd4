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

    void submit(std::vector<std::string> argv, client::handler_type done) {
        asio::post(strand_, [this, argv = std::move(argv), done = std::move(done)]() mutable {
            send(argv, std::move(done));
        });
    }

  private:
    struct op {
        client::handler_type done;
        clock::time_point deadline;
    };

    void send(const std::vector<std::string>& argv, client::handler_type done) {
        if (ac_ == nullptr && !connect()) return done(away());
        auto* o = new op{std::move(done), clock::now() + opts_.command_timeout};
        if (!queue_command(argv, o)) {
            auto d = std::move(o->done);
            delete o;
            return d(away());
        }
        arm_timer();
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
        delete o;
        if (raw == nullptr) return done(away());
        done(reply::from_hiredis(static_cast<redisReply*>(raw)));
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
    bool timer_armed_ = false;
    clock::time_point retry_at_{};
    std::chrono::milliseconds backoff_;
};

client::client(asio::io_context& ioc, core::redis_config cfg, client_options opts)
    : cfg_(std::move(cfg)), opts_(opts) {
    auto n = std::make_unique<node>();
    for (int i = 0; i < std::max(1, opts_.connections_per_node); ++i)
        n->connections.push_back(std::make_unique<connection>(ioc, cfg_, opts_));
    nodes_.push_back(std::move(n));
}

client::~client() = default;

client::node& client::route(std::uint16_t /*slot*/) {
    return *nodes_.front();
}

void client::submit(const std::string& routing_key, std::vector<std::string> argv, handler_type done) {
    sent_.fetch_add(1, std::memory_order_relaxed);
    node& n = route(routing_key.empty() ? 0 : hash_slot(routing_key));
    auto& conn = n.connections[n.next.fetch_add(1, std::memory_order_relaxed) % n.connections.size()];
    conn->submit(std::move(argv), [this, done = std::move(done)](core::result<reply> r) {
        if (r && r->is_error())
            if (auto moved = parse_redirection(r->error_text())) {
                // A cluster answered: following it needs the slot map (see route()).
                redirections_.fetch_add(1, std::memory_order_relaxed);
                spdlog::warn("redis: redirected to {}:{} for slot {}; this client follows no cluster yet",
                             moved->host, moved->port, moved->slot);
                return done(away());
            }
        done(std::move(r));
    });
}

asio::awaitable<core::result<reply>> client::eval(const script& s, std::vector<std::string> keys,
                                                  std::vector<std::string> args) {
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
    auto r = co_await command(key, argv);
    if (r && r->is_error() && r->error_text().rfind("NOSCRIPT", 0) == 0) {
        // Redis restarted and forgot its scripts: EVAL runs it and loads it again.
        argv[0] = "EVAL";
        argv[1] = s.text();
        r = co_await command(key, std::move(argv));
    }
    co_return r;
}

}  // namespace chat::store::redis
