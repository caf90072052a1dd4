#include "driver.hpp"

#include <fmt/format.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cstdio>
#include <deque>
#include <map>
#include <thread>

#include "core/time.hpp"
#include "store/numbering.hpp"

namespace chat::load {

namespace json = boost::json;
using clock_type = std::chrono::steady_clock;

namespace {

std::uint64_t elapsed_us(clock_type::time_point since) {
    auto d = clock_type::now() - since;
    return d.count() < 0
               ? 0
               : static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
}

// A positive integer field of a JSON object, 0 when absent or of another type.
std::uint64_t number_field(const json::value& v, std::string_view name) {
    if (!v.is_object()) return 0;
    const auto* f = v.as_object().if_contains(name);
    if (f == nullptr) return 0;
    if (f->is_uint64()) return f->as_uint64();
    if (f->is_int64() && f->as_int64() > 0) return static_cast<std::uint64_t>(f->as_int64());
    return 0;
}

std::string_view string_field(const json::value& v, std::string_view name) {
    if (!v.is_object()) return {};
    const auto* f = v.as_object().if_contains(name);
    return f != nullptr && f->is_string() ? std::string_view(f->as_string()) : std::string_view{};
}

bool array_field(const json::value& v, std::string_view name) {
    return v.is_object() && v.as_object().contains(name) && v.as_object().at(name).is_array();
}

// Built outside the coroutines: GCC 12 rejects braced initializers with string literals inside them.
std::vector<connection_set::header> creation_headers(const std::string& key, const std::string& request_id,
                                                     const std::string& credential) {
    std::vector<connection_set::header> h;
    h.push_back({"Idempotency-Key", key});
    h.push_back({"X-Request-Id", request_id});
    if (!credential.empty()) h.push_back({"Authorization", credential});
    return h;
}

std::vector<connection_set::header> read_headers(const std::string& request_id,
                                                 const std::string& credential) {
    std::vector<connection_set::header> h;
    h.push_back({"X-Request-Id", request_id});
    if (!credential.empty()) h.push_back({"Authorization", credential});
    return h;
}

// The body of an endpoint's registration: every event, to `url`.
std::string webhook_registration(const std::string& url) {
    json::array events;
    events.push_back(json::string("*"));
    json::object body;
    body["url"] = url;
    body["events"] = std::move(events);
    return json::serialize(body);
}

std::string random_run_id() {
    std::random_device rd;
    return fmt::format("{:08x}", rd());
}

}  // namespace

struct driver::slot {
    slot(asio::any_io_executor ex, const std::vector<resolved_target>& targets, std::size_t home_)
        : conns(std::move(ex), targets), home(home_) {}
    connection_set conns;
    std::size_t home;  // the target of first attempts; retries go to the next ones
};

struct driver::pending_delete {
    std::string token;
    std::uint64_t chat = 0;
    std::uint64_t number = 0;
    std::string credential;
};

struct driver::lane {
    lane(std::size_t index_, std::uint64_t seed) : index(index_), rng(seed) {}
    std::size_t index;
    asio::io_context ioc{1};
    recorder rec;
    std::mt19937_64 rng;
    std::vector<std::unique_ptr<slot>> slots;
    std::uint64_t seq = 0;  // makes idempotency keys and request ids unique within the lane
    // Open loop: scheduled send times waiting for a free connection, and the connections waiting for work.
    std::deque<clock_type::time_point> queue;
    std::deque<asio::steady_timer*> idle;
    bool schedule_done = false;
    std::uint64_t max_backlog = 0;
    std::uint64_t not_sent = 0;
    // --delete-percent: messages of this lane's creations waiting for their deletion, by due time.
    std::multimap<clock_type::time_point, pending_delete> deletes;
    // Progress, read by the main thread.
    std::atomic<std::uint64_t> done{0};
    std::atomic<std::uint64_t> failed{0};

    void wake_one() {
        if (idle.empty()) return;
        idle.front()->cancel();
        idle.pop_front();
    }
    void wake_all() {
        while (!idle.empty()) wake_one();
    }
};

struct driver::replay_plan {
    op_kind of;
    std::string path;
    std::string body;
    std::string key;
    std::size_t answered_by;
    std::uint64_t number;
    std::string credential;
};

struct driver::creation {
    bool ok = false;
    int attempts = 0;
    std::size_t answered_by = 0;
    json::value json;
};

driver::driver(const options& o, std::vector<resolved_target> targets, ack_listener on_sampled_ack)
    : o_(o),
      targets_(std::move(targets)),
      on_sampled_ack_(std::move(on_sampled_ack)),
      run_id_(random_run_id()),
      mix_(o.mix) {
    std::uint64_t seed =
        o.seed ? o.seed : static_cast<std::uint64_t>(clock_type::now().time_since_epoch().count());
    // The search benchmark's vocabulary (same seed, same words), so both exercise the same text.
    std::mt19937_64 vocab_rng(42);
    vocab_ = std::make_unique<bench::vocabulary>(vocab_rng, 20000);
    // More threads than connections would leave a thread (and its share of an open-loop timeline)
    // without a connection.
    auto lanes = static_cast<std::size_t>(std::min(o.threads, o.connections));
    std::size_t global_slot = 0;
    for (std::size_t i = 0; i < lanes; ++i) {
        auto l = std::make_unique<lane>(i, seed + i * 0x9E3779B97F4A7C15ULL);
        auto count = static_cast<std::size_t>(o.connections) / lanes +
                     (i < static_cast<std::size_t>(o.connections) % lanes);
        for (std::size_t k = 0; k < count; ++k)
            l->slots.push_back(
                std::make_unique<slot>(l->ioc.get_executor(), targets_, global_slot++ % targets_.size()));
        lanes_.push_back(std::move(l));
    }
    summary_.open_loop = o.rate > 0;
}

driver::~driver() = default;

void driver::run_lanes(const char* phase) {
    std::vector<std::thread> threads;
    std::atomic<std::size_t> running{lanes_.size()};
    for (auto& l : lanes_)
        threads.emplace_back([&l, &running] {
            l->ioc.run();
            --running;
        });
    auto started = clock_type::now();
    auto next_report = started + std::chrono::seconds(5);
    while (running > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (o_.quiet || clock_type::now() < next_report) continue;
        next_report += std::chrono::seconds(5);
        std::uint64_t done = 0, failed = 0;
        for (auto& l : lanes_) done += l->done, failed += l->failed;
        std::fprintf(stderr, "chat_load: %s %.0f s: %llu operations, %llu failed\n", phase,
                     std::chrono::duration<double>(clock_type::now() - started).count(),
                     static_cast<unsigned long long>(done), static_cast<unsigned long long>(failed));
    }
    for (auto& t : threads) t.join();
    for (auto& l : lanes_) l->ioc.restart();
}

bool driver::setup() {
    if (!o_.static_path.empty()) return true;  // a ceiling measurement: nothing to create
    auto started = clock_type::now();
    // Three waves (applications, then their chats, then first messages), each spread over every
    // connection; a shared counter hands out the next task.
    auto wave = [&](op_kind op, std::size_t tasks, std::function<std::size_t(std::size_t)> subject) {
        std::atomic<std::size_t> next{0};
        for (auto& l : lanes_)
            for (auto& s : l->slots)
                asio::co_spawn(
                    l->ioc,
                    [this, &l, &s, &next, tasks, op, &subject]() -> asio::awaitable<void> {
                        for (std::size_t i; (i = next++) < tasks;)
                            co_await execute(*l, *s, op, clock_type::now(), false, subject(i));
                    },
                    asio::detached);
        run_lanes("setup");
    };
    auto apps = static_cast<std::size_t>(o_.apps);
    wave(op_kind::create_app, apps, [](std::size_t) { return npos; });
    // A webhook that cannot be registered (e.g. the server refuses a loopback http URL) is a setup
    // error: the run stops here (main exits 2).
    if (!webhook_error().empty()) return false;
    auto created_apps = world_.app_count();
    auto per_app = static_cast<std::size_t>(o_.chats);
    wave(op_kind::create_chat, created_apps * per_app, [per_app](std::size_t i) { return i / per_app; });
    auto chats = world_.chat_count();
    auto per_chat = static_cast<std::size_t>(o_.setup_messages);
    wave(op_kind::create_message, chats * per_chat, [per_chat](std::size_t i) { return i / per_chat; });
    std::mt19937_64 rng(o_.seed + 7);
    world_.set_hot(o_.hot_fraction, o_.hot_share, rng);
    if (!o_.quiet)
        std::fprintf(stderr,
                     "chat_load: setup: %zu applications, %zu chats, %zu messages per chat in %.1f s\n",
                     created_apps, chats, per_chat,
                     std::chrono::duration<double>(clock_type::now() - started).count());
    return chats > 0;
}

void driver::run() {
    auto t0 = clock_type::now() + std::chrono::milliseconds(20);  // every lane starts on the same timeline
    auto warm_end = t0 + o_.warmup;
    auto end = warm_end + o_.duration;
    if (o_.rate <= 0) {
        for (auto& l : lanes_)
            for (auto& s : l->slots)
                asio::co_spawn(
                    l->ioc,
                    [this, &l, &s, warm_end, end]() -> asio::awaitable<void> {
                        for (auto now = clock_type::now(); now < end; now = clock_type::now())
                            co_await execute(*l, *s, mix_.pick(l->rng), now, now >= warm_end);
                    },
                    asio::detached);
    } else {
        // Lane k of K sends requests i = k, k+K, k+2K… at t0 + i/rate: together, one timeline.
        const double interval_ns = 1e9 / o_.rate;
        const auto lanes = lanes_.size();
        // Requests still queued this long after the end are dropped (and reported): the backlog of an
        // overloaded target must not keep the run going forever.
        const auto give_up = end + o_.timeout;
        for (auto& l : lanes_) {
            asio::co_spawn(
                l->ioc,
                [&l, t0, end, interval_ns, lanes]() -> asio::awaitable<void> {
                    asio::steady_timer timer(l->ioc);
                    for (std::uint64_t i = l->index;; i += lanes) {
                        auto at = t0 + std::chrono::nanoseconds(
                                           static_cast<std::int64_t>(static_cast<double>(i) * interval_ns));
                        if (at >= end) break;
                        if (at > clock_type::now()) {
                            timer.expires_at(at);
                            co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
                        }
                        l->queue.push_back(at);
                        l->max_backlog = std::max<std::uint64_t>(l->max_backlog, l->queue.size());
                        l->wake_one();
                    }
                    l->schedule_done = true;
                    l->wake_all();
                },
                asio::detached);
            for (auto& s : l->slots)
                asio::co_spawn(
                    l->ioc,
                    [this, &l, &s, warm_end, give_up]() -> asio::awaitable<void> {
                        asio::steady_timer wake(l->ioc);
                        for (;;) {
                            while (l->queue.empty()) {
                                if (l->schedule_done) co_return;
                                l->idle.push_back(&wake);
                                wake.expires_at(clock_type::time_point::max());
                                co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
                            }
                            if (clock_type::now() > give_up) {
                                l->not_sent += l->queue.size();
                                l->queue.clear();
                                continue;
                            }
                            auto at = l->queue.front();
                            l->queue.pop_front();
                            co_await execute(*l, *s, mix_.pick(l->rng), at, at >= warm_end);
                        }
                    },
                    asio::detached);
        }
    }
    run_lanes("run");
    summary_.window_s = std::chrono::duration<double>(o_.duration).count();
    for (auto& l : lanes_) {
        summary_.max_backlog += l->max_backlog;
        summary_.not_sent += l->not_sent;
    }
    drain_deletes();
}

void driver::drain_deletes() {
    std::size_t left = 0;
    for (auto& l : lanes_) left += l->deletes.size();
    if (left == 0) return;
    // Each connection takes the lane's earliest deletion and sends it at its time (outside the measured
    // window: in the report's errors and the record, not in the latency figures).
    for (auto& l : lanes_)
        for (auto& s : l->slots)
            asio::co_spawn(
                l->ioc,
                [this, &l, &s]() -> asio::awaitable<void> {
                    asio::steady_timer wait(l->ioc);
                    while (!l->deletes.empty()) {
                        auto first = l->deletes.begin();
                        auto due = first->first;
                        auto d = std::move(first->second);
                        l->deletes.erase(first);
                        if (due > clock_type::now()) {
                            wait.expires_at(due);
                            co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
                        }
                        co_await delete_message(*l, *s, d, false);
                    }
                },
                asio::detached);
    if (!o_.quiet) std::fprintf(stderr, "chat_load: %zu deletions left to send after the run\n", left);
    run_lanes("deletions");
}

recorder driver::results() {
    recorder all;
    for (auto& l : lanes_) all.merge(std::move(l->rec));
    lanes_.clear();
    return all;
}

run_summary driver::summary() const {
    return summary_;
}

// --- creations -------------------------------------------------------------------------------------

// The target of a retried request's `attempt` (0, 1, …): the slot's home target first, then the others
// in turn; once every target was tried, a growing pause before going round again.
asio::awaitable<std::size_t> driver::target_for(lane& l, const slot& s, int attempt) {
    const auto targets = targets_.size();
    if (static_cast<std::size_t>(attempt) >= targets) {
        asio::steady_timer pause(l.ioc,
                                 std::chrono::milliseconds(100 * (attempt - static_cast<int>(targets) + 1)));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return (s.home + static_cast<std::size_t>(attempt)) % targets;
}

asio::awaitable<driver::creation> driver::create(lane& l, slot& s, op_kind op, const std::string& path,
                                                 const std::string& body, const std::string& key,
                                                 const std::string& credential) {
    creation c;
    std::string last_error;
    for (int attempt = 0; attempt <= o_.retries; ++attempt) {
        auto target = co_await target_for(l, s, attempt);
        ++c.attempts;
        auto rid = fmt::format("{}.{}", key, attempt);
        auto headers = creation_headers(key, rid, credential);
        auto r = co_await s.conns.send(target, http::verb::post, path, body, std::move(headers), o_.timeout);
        auto v = judge(r, 201);
        if (v.what == verdict::kind::ok) {
            // The answer must carry what a client needs: a number (chats, messages) or a token (apps).
            bool shaped = op == op_kind::create_app ? !string_field(v.json, "token").empty()
                                                    : number_field(v.json, "number") > 0;
            if (!shaped) {
                v = failure("bad_failure", true, "201 without the expected field: " + r.body.substr(0, 200));
            } else {
                c.ok = true;
                c.answered_by = target;
                c.json = std::move(v.json);
                co_return c;
            }
        }
        l.rec.attempt_error(op, v.error);
        if (v.bad) l.rec.bad(op, v.error, v.detail, targets_[target].where.url, rid);
        last_error = v.error;
        if (v.what == verdict::kind::failed) break;
    }
    l.rec.final_error(op, last_error);
    co_return c;
}

// Sends an acknowledged creation again, with its key, to another target: the answer must be the same
// number, marked as a replay. Anything else means a retry could have created a second copy.
asio::awaitable<void> driver::replay(lane& l, slot& s, const replay_plan& p, bool measured) {
    auto start = clock_type::now();
    auto target = (p.answered_by + 1) % targets_.size();
    auto rid = p.key + ".replay";
    auto number = p.number;
    auto of = p.of;
    auto headers = creation_headers(p.key, rid, p.credential);
    auto r = co_await s.conns.send(target, http::verb::post, p.path, p.body, std::move(headers), o_.timeout);
    auto v = judge(r, 201);
    bool ok = v.what == verdict::kind::ok;
    if (ok) {
        auto got = number_field(v.json, "number");
        if (got != number) {
            ok = false;
            v = failure("wrong_number", true,
                        fmt::format("{} acknowledged as {} was replayed as {}", op_name(of), number, got));
        } else if (!r.replayed) {
            ok = false;
            v = failure("bad_failure", true,
                        fmt::format("replay of {} {} answered without Idempotent-Replayed: true", op_name(of),
                                    number));
        }
    }
    if (!ok) {
        l.rec.attempt_error(op_kind::replay, v.error);
        l.rec.final_error(op_kind::replay, v.error);
        if (v.bad) l.rec.bad(op_kind::replay, v.error, v.detail, targets_[target].where.url, rid);
    }
    l.rec.op_done(op_kind::replay, measured, ok, 1, elapsed_us(start));
}

// A deletion is idempotent (204 again once done), so every retryable failure is retried, on the next
// target, as a creation is. Without a 204 it may or may not have happened: recorded as failed, which
// the verifier accepts either way as long as the message is erased everywhere or kept everywhere.
asio::awaitable<void> driver::delete_message(lane& l, slot& s, const pending_delete& d, bool measured) {
    const auto start = clock_type::now();
    const auto op = op_kind::delete_message;
    const auto path = fmt::format("/api/v1/apps/{}/chats/{}/messages/{}", d.token, d.chat, d.number);
    const auto id = fmt::format("{}-d{}-{}", run_id_, l.index, ++l.seq);
    bool ok = false;
    int attempts = 0;
    std::string last_error;
    for (int attempt = 0; attempt <= o_.retries; ++attempt) {
        auto target = co_await target_for(l, s, attempt);
        ++attempts;
        auto rid = fmt::format("{}.{}", id, attempt);
        auto headers = read_headers(rid, d.credential);
        auto r = co_await s.conns.send(target, http::verb::delete_, path, "", std::move(headers), o_.timeout);
        auto v = judge_no_content(r);
        if (v.what == verdict::kind::ok) {
            ok = true;
            break;
        }
        l.rec.attempt_error(op, v.error);
        if (v.bad) l.rec.bad(op, v.error, v.detail, targets_[target].where.url, rid);
        last_error = v.error;
        if (v.what == verdict::kind::failed) break;
    }
    if (!ok) l.rec.final_error(op, last_error);
    l.rec.deletion(delete_record{d.token, d.chat, d.number, ok, core::now_ms()});
    l.rec.op_done(op, measured, ok, attempts, elapsed_us(start));
    ++l.done;
    if (!ok) ++l.failed;
}

asio::awaitable<bool> driver::create_message(lane& l, slot& s, std::size_t chat, int& attempts,
                                             std::optional<replay_plan>& then) {
    auto t = chat == npos ? world_.pick_chat(l.rng, false) : world_.chat_at(chat);
    if (!t) co_return false;
    std::string body;
    std::uint64_t hash = 0;
    // Bodies are unique within the run, so a body found twice in MariaDB is one creation stored twice.
    do {
        body = make_body(l.rng, *vocab_, message_length(l.rng));
        hash = store::fingerprint(body);  // FNV-1a 64, as the server fingerprints requests
    } while (!world_.claim_body(hash));
    auto key = fmt::format("{}-m{}-{}", run_id_, l.index, ++l.seq);
    auto path = fmt::format("/api/v1/apps/{}/chats/{}/messages", t->token, t->chat);
    auto payload = json::serialize(json::object{{"body", body}});
    auto credential = world_.credential_of(t->token);
    auto c = co_await create(l, s, op_kind::create_message, path, payload, key, credential);
    attempts = c.attempts;
    if (c.ok && (string_field(c.json, "body") != body || number_field(c.json, "chat_number") != t->chat)) {
        c.ok = false;
        l.rec.final_error(op_kind::create_message, "bad_failure");
        l.rec.bad(op_kind::create_message, "bad_failure", "201 with another body or chat than sent",
                  targets_[c.answered_by].where.url, key);
    }
    if (!c.ok) {
        l.rec.failed_message(t->token, t->chat);
        co_return false;
    }
    auto number = number_field(c.json, "number");
    l.rec.ack({ack_kind::message, t->token, t->chat, number, hash, core::now_ms()});
    if (on_sampled_ack_ && o_.lag_sample > 0 && std::bernoulli_distribution(o_.lag_sample)(l.rng))
        on_sampled_ack_(t->token, t->chat, number, hash);
    // --delete-percent, for the run's creations (not the setup's, which reads start from): a message to
    // be deleted never joins the world, so no read aims at it (a GET would rightly answer 410) and no
    // replay races its deletion.
    if (chat == npos && o_.delete_percent > 0 &&
        std::bernoulli_distribution(o_.delete_percent / 100)(l.rng)) {
        auto delay = std::uniform_int_distribution<std::int64_t>(0, o_.delete_delay_max.count())(l.rng);
        l.deletes.emplace(clock_type::now() + std::chrono::milliseconds(delay),
                          pending_delete{t->token, t->chat, number, credential});
        co_return true;
    }
    world_.add_message(t->index, number, hash, body);
    if (o_.replay > 0 && std::bernoulli_distribution(o_.replay)(l.rng))
        then = replay_plan{op_kind::create_message, path, payload, key, c.answered_by, number, credential};
    co_return true;
}

asio::awaitable<bool> driver::create_chat(lane& l, slot& s, std::size_t app, int& attempts,
                                          std::optional<replay_plan>& then) {
    std::optional<std::pair<std::size_t, std::string>> a;
    if (app == npos)
        a = world_.pick_app(l.rng);
    else
        a = world_.app_at(app);
    if (!a) co_return false;
    auto key = fmt::format("{}-c{}-{}", run_id_, l.index, ++l.seq);
    auto path = fmt::format("/api/v1/apps/{}/chats", a->second);
    auto credential = world_.credential_of(a->second);
    auto c = co_await create(l, s, op_kind::create_chat, path, "", key, credential);
    attempts = c.attempts;
    if (!c.ok) {
        l.rec.failed_chat(a->second);
        co_return false;
    }
    auto number = number_field(c.json, "number");
    world_.add_chat(a->first, number);
    l.rec.ack({ack_kind::chat, a->second, number, 0, 0, core::now_ms()});
    if (o_.replay > 0 && std::bernoulli_distribution(o_.replay)(l.rng))
        then = replay_plan{op_kind::create_chat, path, "", key, c.answered_by, number, credential};
    co_return true;
}

// Application creation takes no Idempotency-Key on the server (it is not numbered); the key is sent
// anyway, like every creation. A retry after a lost answer may leave an unused application behind.
asio::awaitable<bool> driver::create_app(lane& l, slot& s, int& attempts) {
    auto key = fmt::format("{}-a{}-{}", run_id_, l.index, ++l.seq);
    auto payload = json::serialize(json::object{{"name", fmt::format("chat_load {} {}", run_id_, key)}});
    auto c = co_await create(l, s, op_kind::create_app, "/api/v1/apps", payload, key);
    attempts = c.attempts;
    if (!c.ok) co_return false;
    auto token = std::string(string_field(c.json, "token"));
    auto secret = std::string(string_field(c.json, "secret"));
    // The endpoint first: every message of the application comes after it, so each one is recorded.
    std::string webhook;
    if (!o_.webhook_url.empty()) {
        webhook = co_await register_webhook(l, s, token, secret);
        if (webhook.empty()) co_return false;
    }
    std::string credential;
    if (o_.user_tokens) {
        credential = co_await restrict(l, s, token, secret);
        if (credential.empty()) co_return false;
    }
    if (!webhook.empty()) l.rec.webhook(token, webhook);
    world_.add_app(token, credential);
    l.rec.ack({ack_kind::app, token, 0, 0, 0, core::now_ms()});
    co_return true;
}

asio::awaitable<std::string> driver::restrict(lane& l, slot& s, const std::string& token,
                                              const std::string& secret) {
    std::vector<connection_set::header> as_secret;
    as_secret.push_back({"Authorization", "Bearer " + secret});
    auto restricted = co_await s.conns.send(s.home, http::verb::put, fmt::format("/api/v1/apps/{}", token),
                                            R"({"access":"restricted"})", as_secret, o_.timeout);
    if (restricted.status != 200) {
        l.rec.final_error(op_kind::create_app, "restrict_failed");
        co_return std::string();
    }
    auto minted = co_await s.conns.send(s.home, http::verb::post,
                                        fmt::format("/api/v1/apps/{}/users/chat_load/tokens", token),
                                        R"({"ttl":86400})", as_secret, o_.timeout);
    auto v = judge(minted, 201);
    auto jwt = std::string(string_field(v.json, "token"));
    if (v.what != verdict::kind::ok || jwt.empty()) {
        l.rec.final_error(op_kind::create_app, "token_failed");
        co_return std::string();
    }
    co_return "Bearer " + jwt;
}

// Retried like a creation on 5xx and transport failures (an endpoint registered twice after a lost
// answer only adds deliveries to an endpoint the verifier does not look at).
asio::awaitable<std::string> driver::register_webhook(lane& l, slot& s, const std::string& token,
                                                      const std::string& secret) {
    const auto path = fmt::format("/api/v1/apps/{}/webhooks", token);
    const auto body = webhook_registration(o_.webhook_url);
    const auto id = fmt::format("{}-w{}-{}", run_id_, l.index, ++l.seq);
    std::string why;
    for (int attempt = 0; attempt <= o_.retries; ++attempt) {
        auto target = co_await target_for(l, s, attempt);
        auto rid = fmt::format("{}.{}", id, attempt);
        auto headers = read_headers(rid, "Bearer " + secret);
        auto r = co_await s.conns.send(target, http::verb::post, path, body, std::move(headers), o_.timeout);
        auto v = judge(r, 201);
        if (v.what == verdict::kind::ok) {
            auto endpoint = std::string(string_field(v.json, "id"));
            if (!endpoint.empty()) co_return endpoint;
            v = failure("bad_failure", true, "201 without an id");
        }
        l.rec.attempt_error(op_kind::create_app, "webhook " + v.error);
        why = r.what == attempt_result::outcome::answered
                  ? fmt::format("answered {}: {}", r.status, r.body.substr(0, 300))
                  : fmt::format("{} ({})", v.error, r.error_text);
        why = fmt::format("POST {}{} (request id {}) {}", targets_[target].where.url, path, rid, why);
        if (v.what == verdict::kind::failed) break;
    }
    l.rec.final_error(op_kind::create_app, "webhook_failed");
    std::lock_guard lock(webhook_mutex_);
    if (webhook_error_.empty()) webhook_error_ = std::move(why);
    co_return std::string();
}

std::string driver::webhook_error() const {
    std::lock_guard lock(webhook_mutex_);
    return webhook_error_;
}

// --- reads ---------------------------------------------------------------------------------------

// One attempt on the connection's home target (reads are not retried: their errors are the figure).
// `check` returns why a 200 answer is wrong, or an empty string.
asio::awaitable<bool> driver::read(lane& l, slot& s, op_kind op, const std::string& path,
                                   const std::function<std::string(const json::value&)>& check,
                                   const std::string& credential) {
    auto rid = fmt::format("{}-r{}-{}", run_id_, l.index, ++l.seq);
    auto headers = read_headers(rid, credential);
    auto r = co_await s.conns.send(s.home, http::verb::get, path, "", std::move(headers), o_.timeout);
    auto v = judge(r, 200);
    if (v.what == verdict::kind::ok) {
        auto why = check(v.json);
        if (why.empty()) co_return true;
        v = failure("bad_failure", true, why + ": " + r.body.substr(0, 200));
    }
    l.rec.attempt_error(op, v.error);
    l.rec.final_error(op, v.error);
    if (v.bad) l.rec.bad(op, v.error, v.detail, targets_[s.home].where.url, rid);
    co_return false;
}

asio::awaitable<void> driver::execute(lane& l, slot& s, op_kind op, clock_type::time_point start,
                                      bool measured, std::size_t subject) {
    bool ok = false;
    int attempts = 1;
    std::optional<replay_plan> then;
    std::optional<chat_target> t;
    // Reads aim at acknowledged messages; a chat without one yet gets a message instead.
    if (op == op_kind::get_message || op == op_kind::list_messages || op == op_kind::search) {
        t = world_.pick_chat(l.rng, true);
        if (!t || (op == op_kind::search && t->word.empty())) op = op_kind::create_message;
    }
    switch (op) {
        case op_kind::create_message:
            ok = co_await create_message(l, s, subject, attempts, then);
            break;
        case op_kind::create_chat:
            ok = co_await create_chat(l, s, subject, attempts, then);
            break;
        case op_kind::create_app:
            ok = co_await create_app(l, s, attempts);
            break;
        case op_kind::get_message: {
            auto path = fmt::format("/api/v1/apps/{}/chats/{}/messages/{}", t->token, t->chat, t->message);
            auto n = t->message;
            auto h = t->message_hash;
            auto credential = world_.credential_of(t->token);
            ok = co_await read(
                l, s, op, path,
                [n, h](const json::value& v) -> std::string {
                    if (number_field(v, "number") != n) return "GET returned another message";
                    if (store::fingerprint(string_field(v, "body")) != h)
                        return fmt::format("GET of acknowledged message {} returned another body", n);
                    return {};
                },
                credential);
            break;
        }
        case op_kind::list_messages: {
            auto after = t->message > 10 ? t->message - 10 : 0;
            auto path =
                fmt::format("/api/v1/apps/{}/chats/{}/messages?limit=20&after={}", t->token, t->chat, after);
            auto credential = world_.credential_of(t->token);
            ok = co_await read(
                l, s, op, path,
                [](const json::value& v) -> std::string {
                    return array_field(v, "messages") ? "" : "no messages array";
                },
                credential);
            break;
        }
        case op_kind::search: {
            // A fragment (3 letters or more) of a word known to be in the chat.
            const auto& w = t->word;
            auto len = std::uniform_int_distribution<std::size_t>(std::min<std::size_t>(3, w.size()),
                                                                  w.size())(l.rng);
            auto at = std::uniform_int_distribution<std::size_t>(0, w.size() - len)(l.rng);
            auto path = fmt::format("/api/v1/apps/{}/chats/{}/messages/search?q={}&limit=20", t->token,
                                    t->chat, w.substr(at, len));
            auto credential = world_.credential_of(t->token);
            ok = co_await read(
                l, s, op, path,
                [](const json::value& v) -> std::string {
                    return array_field(v, "hits") && v.as_object().contains("total")
                               ? ""
                               : "no hits array or total";
                },
                credential);
            break;
        }
        case op_kind::get_chat: {
            auto c = world_.pick_chat(l.rng, false);
            if (!c) break;
            auto path = fmt::format("/api/v1/apps/{}/chats/{}", c->token, c->chat);
            auto n = c->chat;
            auto credential = world_.credential_of(c->token);
            ok = co_await read(
                l, s, op, path,
                [n](const json::value& v) -> std::string {
                    return number_field(v, "number") == n ? "" : "GET returned another chat";
                },
                credential);
            break;
        }
        case op_kind::static_get:
            ok =
                co_await read(l, s, op, o_.static_path, [](const json::value&) -> std::string { return {}; });
            break;
        case op_kind::replay:
        case op_kind::delete_message:
            break;
    }
    l.rec.op_done(op, measured, ok, attempts, elapsed_us(start));
    ++l.done;
    if (!ok) ++l.failed;
    // After the operation's own latency was taken: the replay is an extra request of its own.
    if (then) co_await replay(l, s, *then, measured);
    // At most one due deletion of the lane per operation (creations come at most one per operation too,
    // so the deletions keep up); an extra request, on its own report row.
    if (!l.deletes.empty() && l.deletes.begin()->first <= clock_type::now()) {
        auto d = std::move(l.deletes.begin()->second);
        l.deletes.erase(l.deletes.begin());
        co_await delete_message(l, s, d, measured);
    }
}

}  // namespace chat::load
