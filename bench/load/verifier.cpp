#include "verifier.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <iterator>
#include <random>
#include <set>
#include <stdexcept>

#include "store/amqp.hpp"
#include "store/elastic.hpp"
#include "store/mysql.hpp"
#include "store/numbering.hpp"

namespace chat::load {

namespace json = boost::json;
using clock_type = std::chrono::steady_clock;

gap_report find_gaps(const std::vector<std::uint64_t>& stored_sorted, std::uint64_t failed_creations) {
    gap_report g;
    std::uint64_t expect = 1;
    for (auto n : stored_sorted) {
        if (n < expect) continue;  // a repeated value (cannot happen under a primary key)
        for (; expect < n; ++expect) g.missing.push_back(expect);
        expect = n + 1;
    }
    g.allowed = g.missing.size() <= failed_creations;
    return g;
}

message_judgement judge_message(deletion d, const message_facts& f) {
    using doc = message_facts::doc;
    auto wrong = [](std::string check, std::string problem) {
        return message_judgement{message_fate::broken, std::move(check), std::move(problem)};
    };
    // A tombstone keeps the row: no row is a loss whatever the deletion did.
    if (!f.row)
        return d == deletion::acknowledged
                   ? wrong("delete",
                           ": deletion acknowledged, but its row is gone from MariaDB (a deleted "
                           "message stays as a tombstone)")
                   : wrong("stored", " acknowledged but not stored");
    const bool body_erased = f.row_hash == erased_body_hash;
    const bool body_kept = f.row_hash == f.acknowledged_hash;
    if (!body_erased && !body_kept)
        return wrong("stored", fmt::format(": the stored body differs from the acknowledged one (FNV-1a "
                                           "{:016x}, acknowledged {:016x})",
                                           f.row_hash, f.acknowledged_hash));
    // Half a deletion in MariaDB itself.
    const char* half_check = d == deletion::none ? "stored" : "delete";
    if (f.row_deleted && !body_erased)
        return wrong(half_check, ": deleted_at is set but the body is still stored");
    if (!f.row_deleted && body_erased)
        return wrong(half_check, ": the stored body is erased but deleted_at is not set");
    if (f.row_deleted && f.versions > 0)
        return wrong("delete",
                     fmt::format(": deleted, but {} versions of its edit history remain", f.versions));
    const auto fate = f.row_deleted ? message_fate::erased : message_fate::kept;
    if (d == deletion::none && fate == message_fate::erased)
        return wrong("stored",
                     ": erased in MariaDB (body '', deleted_at set) though the run never deleted it");
    if (d == deletion::acknowledged && fate == message_fate::kept)
        return wrong("delete", ": deletion acknowledged (204) but MariaDB still holds its body, not deleted");
    // Search, when looked at: the same fate as in MariaDB.
    if (f.search == doc::unchecked) return {fate, {}, {}};
    const bool doc_erased = f.search == doc::absent || f.doc_hash == erased_body_hash;
    const bool doc_kept = f.search == doc::found && f.doc_hash == f.acknowledged_hash;
    if (!doc_erased && !doc_kept)
        return wrong("search", ": the indexed body differs from the acknowledged one");
    if (fate == message_fate::erased && doc_kept)
        return wrong("delete", d == deletion::acknowledged
                                   ? ": deletion acknowledged and erased in MariaDB, but its body is still "
                                     "searchable"
                                   : ": an unanswered deletion erased it in MariaDB, but its body is still "
                                     "searchable");
    if (fate == message_fate::kept && doc_erased) {
        if (f.search == doc::absent) return wrong("search", " acknowledged but not in Elasticsearch");
        return d == deletion::unknown
                   ? wrong("delete",
                           ": an unanswered deletion erased it from search, but MariaDB still holds "
                           "its body")
                   : wrong("search", ": erased from search (a document without body) though never deleted");
    }
    return {fate, {}, {}};
}

std::optional<delivery_status> delivery_status_from(std::string_view text) {
    if (text == "pending") return delivery_status::pending;
    if (text == "delivered") return delivery_status::delivered;
    if (text == "failed") return delivery_status::failed;
    return std::nullopt;
}

void webhook_tally::add(const webhook_message& m, std::string_view name) {
    ++acknowledged;
    if (m.rows.empty()) {
        if (m.d != deletion::none) {
            ++deleted_unrecorded;
            return;
        }
        ++missing;
        if (missing_examples.size() < max_examples) missing_examples.emplace_back(name);
        return;
    }
    ++recorded;
    if (m.rows.size() > 1) {
        ++duplicated;
        if (duplicated_examples.size() < max_examples)
            duplicated_examples.push_back(fmt::format("{} ({} rows)", name, m.rows.size()));
    }
    auto has = [&](delivery_status s) { return std::find(m.rows.begin(), m.rows.end(), s) != m.rows.end(); };
    if (has(delivery_status::failed))
        ++failed;
    else if (has(delivery_status::pending))
        ++pending;
    else
        ++delivered;
}

std::vector<violation> webhook_tally::problems() const {
    auto listed = [](const std::vector<std::string>& names, std::uint64_t total) {
        std::string out;
        for (const auto& n : names) out += (out.empty() ? " (" : ", ") + n;
        if (!out.empty()) out += total > names.size() ? ", …)" : ")";
        return out;
    };
    std::vector<violation> out;
    if (missing > 0)
        out.push_back({"webhooks", fmt::format("{} acknowledged message creations have no message.created "
                                               "delivery for their endpoint{}",
                                               missing, listed(missing_examples, missing))});
    if (duplicated > 0)
        out.push_back({"webhooks", fmt::format("{} messages have more than one message.created delivery for "
                                               "their endpoint{}",
                                               duplicated, listed(duplicated_examples, duplicated))});
    if (failed > 0)
        out.push_back({"webhooks", fmt::format("{} messages' message.created deliveries failed (given up on: "
                                               "a 4xx answer, or the retry window passed)",
                                               failed)});
    if (pending > 0)
        out.push_back(
            {"webhooks", fmt::format("{} messages' message.created deliveries are still pending", pending)});
    return out;
}

namespace {

// Store calls that fail abort the verification with this (reported, exit 1).
struct store_failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::vector<store::row> query(store::mysql_connection& db, const std::string& sql) {
    auto rows = db.query(sql);
    if (!rows) throw store_failure("MariaDB: " + rows.error().message);
    return std::move(*rows);
}

std::string join(const std::vector<std::uint64_t>& v, std::size_t max = 20) {
    std::string out;
    for (std::size_t i = 0; i < v.size() && i < max; ++i) out += (i ? ", " : "") + std::to_string(v[i]);
    if (v.size() > max) out += fmt::format(" and {} more", v.size() - max);
    return out;
}

json::value parse_json(const store::http_response& r) {
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    return ec ? json::value() : v;
}

std::uint64_t u64(const json::value* v) {
    if (v == nullptr) return 0;
    if (v->is_uint64()) return v->as_uint64();
    if (v->is_int64()) return static_cast<std::uint64_t>(v->as_int64());
    return 0;
}

double seconds_since(clock_type::time_point t) {
    return std::chrono::duration<double>(clock_type::now() - t).count();
}

}  // namespace

// --- lag sampler ---------------------------------------------------------------------------------

lag_sampler::~lag_sampler() {
    if (thread_.joinable()) finish(clock_type::now());
}

void lag_sampler::start() {
    thread_ = std::thread([this] { loop(); });
}

void lag_sampler::offer(const std::string& token, std::uint64_t chat, std::uint64_t number) {
    std::lock_guard lock(mutex_);
    incoming_.push_back({token, 0, chat, number, clock_type::now(), false, false});
}

void lag_sampler::finish(clock_type::time_point deadline) {
    deadline_ns_ = deadline.time_since_epoch().count();
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
}

void lag_sampler::loop() {
    store::mysql_connection db(cfg_.mysql);
    store::elastic_client es(cfg_.es_url, cfg_.es_index);
    std::vector<sample> pending;
    std::map<std::string, std::uint64_t> app_ids;
    constexpr std::size_t batch = 200;
    for (;;) {
        auto tick = clock_type::now();
        {
            std::lock_guard lock(mutex_);
            sampled_ += incoming_.size();
            for (auto& s : incoming_) pending.push_back(std::move(s));
            incoming_.clear();
        }
        if (stopping_ && (pending.empty() || tick.time_since_epoch().count() >= deadline_ns_)) break;
        // Application ids (applications are stored before their creation is acknowledged).
        for (auto& s : pending) {
            if (s.app_id != 0) continue;
            if (auto it = app_ids.find(s.token); it != app_ids.end()) {
                s.app_id = it->second;
                continue;
            }
            auto quoted = db.quote(s.token);
            auto rows = quoted ? db.query("SELECT id FROM applications WHERE token = " + *quoted)
                               : core::result<std::vector<store::row>>(quoted.error());
            if (!rows) {
                last_error_ = rows.error().message;
                break;
            }
            if (!rows->empty()) s.app_id = app_ids[s.token] = store::to_u64(rows->front()[0]);
        }
        // MariaDB: one statement for up to `batch` samples, each a primary-key lookup.
        std::string where;
        std::size_t asked = 0;
        for (const auto& s : pending) {
            if (s.stored || s.app_id == 0 || asked == batch) continue;
            where += fmt::format("{}(application_id = {} AND chat_number = {} AND number = {})",
                                 asked ? " OR " : "", s.app_id, s.chat, s.number);
            ++asked;
        }
        if (asked > 0) {
            auto sent = clock_type::now();
            auto rows = db.query("SELECT application_id, chat_number, number FROM messages WHERE " + where);
            if (!rows) last_error_ = rows.error().message;
            std::set<std::string> found;
            if (rows)
                for (const auto& r : *rows) found.insert(fmt::format("{}:{}:{}", *r[0], *r[1], *r[2]));
            for (auto& s : pending)
                if (!s.stored && found.count(store::elastic_client::doc_id(s.app_id, s.chat, s.number))) {
                    s.stored = true;
                    stored_.record(static_cast<std::uint64_t>(
                        std::chrono::duration_cast<std::chrono::microseconds>(sent - s.acked).count()));
                }
        }
        // Elasticsearch: a search (not a real-time GET), so "found" means visible to searches.
        json::array ids;
        for (const auto& s : pending) {
            if (s.searchable || s.app_id == 0 || ids.size() == batch) continue;
            ids.push_back(json::string(store::elastic_client::doc_id(s.app_id, s.chat, s.number)));
        }
        if (!ids.empty()) {
            auto sent = clock_type::now();
            auto size = ids.size();
            json::object q{
                {"size", size}, {"_source", false}, {"query", {{"ids", {{"values", std::move(ids)}}}}}};
            auto resp = es.request("POST", "/" + cfg_.es_index + "/_search", json::serialize(q));
            std::set<std::string> found;
            if (!resp || resp->status != 200) {
                last_error_ =
                    resp ? fmt::format("Elasticsearch search: {}", resp->status) : resp.error().message;
            } else {
                auto v = parse_json(*resp);
                if (const auto* hits = v.is_object() ? v.as_object().if_contains("hits") : nullptr;
                    hits && hits->is_object())
                    if (const auto* list = hits->as_object().if_contains("hits"); list && list->is_array())
                        for (const auto& h : list->as_array())
                            if (h.is_object() && h.as_object().contains("_id"))
                                found.insert(std::string(h.as_object().at("_id").as_string()));
            }
            for (auto& s : pending)
                if (!s.searchable && found.count(store::elastic_client::doc_id(s.app_id, s.chat, s.number))) {
                    s.searchable = true;
                    searchable_.record(static_cast<std::uint64_t>(
                        std::chrono::duration_cast<std::chrono::microseconds>(sent - s.acked).count()));
                }
        }
        std::erase_if(pending, [](const sample& s) { return s.stored && s.searchable; });
        std::this_thread::sleep_until(tick + std::chrono::milliseconds(20));
    }
    unresolved_ = pending.size();
}

// --- verifier ------------------------------------------------------------------------------------

namespace {

struct chat_expect {
    std::map<std::uint64_t, std::uint64_t> acked;   // number -> body hash
    std::vector<std::uint64_t> not_seen;            // acknowledged numbers not found yet (drain)
    std::map<std::uint64_t, deletion> deletions;    // acknowledged numbers the run tried to delete
    std::vector<std::uint64_t> deletions_not_seen;  // acknowledged deletions not applied yet (drain)
    std::uint64_t failed = 0;
    bool acked_chat = false;
    std::uint64_t stored = 0;  // rows in MariaDB
};

struct app_expect {
    std::uint64_t id = 0;
    bool acked = false;
    std::uint64_t acked_chats = 0;
    std::uint64_t failed_chats = 0;
    std::map<std::uint64_t, chat_expect> chats;  // every chat the run touched
    std::set<std::uint64_t> chats_not_seen;      // acknowledged chats not found yet (drain)
};

struct webhook_outcome {
    webhook_tally tally;
    std::uint64_t endpoints = 0;
    bool settled = false;
    double seconds = 0;
    std::vector<violation> violations;  // beside the tally's
    histogram lag_us;                   // event -> delivered_at of every delivered message.created row
};

// Check 7: waits (within `timeout`) until every acknowledged message of the applications in `endpoints`
// has its message.created row at the application's endpoint and none is pending, then counts them.
// The rows are written in the transaction that stores the message, so after the drain only their
// status still changes: the wait reads them all until none is missing, then only counts the pending.
webhook_outcome check_webhooks(store::mysql_connection& db, const std::map<std::string, app_expect>& apps,
                               const std::map<std::string, std::string>& endpoints,
                               std::chrono::milliseconds timeout) {
    webhook_outcome out;
    const auto started = clock_type::now();
    const auto deadline = started + timeout;
    struct endpoint {
        std::string token;
        std::uint64_t app_id = 0, webhook_id = 0;
        const app_expect* app = nullptr;
    };
    std::vector<endpoint> list;
    for (const auto& [token, public_id] : endpoints) {
        auto it = apps.find(token);
        if (it == apps.end() || it->second.id == 0) continue;  // not acknowledged: nothing is expected
        auto quoted = db.quote(public_id);
        if (!quoted) throw store_failure("MariaDB: " + quoted.error().message);
        auto rows =
            query(db, fmt::format("SELECT id FROM webhooks WHERE application_id = {} AND public_id = {}",
                                  it->second.id, *quoted));
        if (rows.empty()) {
            out.violations.push_back(
                {"webhooks",
                 fmt::format("endpoint {} of application {} is not in MariaDB", public_id, token)});
            continue;
        }
        list.push_back({token, it->second.id, store::to_u64(rows[0][0]), &it->second});
    }
    out.endpoints = list.size();
    auto read_all = [&](histogram* lag) {
        webhook_tally t;
        for (const auto& e : list) {
            std::map<std::pair<std::uint64_t, std::uint64_t>, std::vector<delivery_status>> rows_of;
            for (std::uint64_t after = 0;;) {
                auto rows = query(
                    db, fmt::format("SELECT seq, chat_number, JSON_VALUE(payload, '$.data.number'), "
                                    "status, TIMESTAMPDIFF(MICROSECOND, created_at, delivered_at) FROM "
                                    "webhook_deliveries WHERE application_id = {} AND webhook_id = {} AND "
                                    "seq > {} AND event = 'message.created' ORDER BY seq LIMIT 5000",
                                    e.app_id, e.webhook_id, after));
                for (const auto& row : rows) {
                    after = store::to_u64(row[0]);
                    auto status = delivery_status_from(row[3].value_or(""));
                    if (!status) continue;
                    rows_of[{store::to_u64(row[1]), store::to_u64(row[2])}].push_back(*status);
                    if (lag && *status == delivery_status::delivered && row[4]) {
                        std::int64_t us = 0;
                        std::from_chars(row[4]->data(), row[4]->data() + row[4]->size(), us);
                        lag->record(static_cast<std::uint64_t>(std::max<std::int64_t>(us, 0)));
                    }
                }
                if (rows.size() < 5000) break;
            }
            for (const auto& [chat_number, c] : e.app->chats)
                for (const auto& [n, hash] : c.acked) {
                    webhook_message m;
                    if (auto d = c.deletions.find(n); d != c.deletions.end()) m.d = d->second;
                    if (auto it = rows_of.find({chat_number, n}); it != rows_of.end())
                        m.rows = std::move(it->second);
                    t.add(m, fmt::format("{}/{}/{}", e.token, chat_number, n));
                }
        }
        return t;
    };
    auto t = read_all(nullptr);
    while (t.missing > 0 && clock_type::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        t = read_all(nullptr);
    }
    for (;;) {
        std::uint64_t pending = 0;
        for (const auto& e : list) {
            auto rows =
                query(db, fmt::format("SELECT COUNT(*) FROM webhook_deliveries WHERE application_id = {} "
                                      "AND webhook_id = {} AND event = 'message.created' AND status = "
                                      "'pending'",
                                      e.app_id, e.webhook_id));
            pending += rows.empty() ? 0 : store::to_u64(rows[0][0]);
        }
        if (pending == 0 || clock_type::now() >= deadline) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    out.tally = read_all(&out.lag_us);
    out.settled = out.tally.settled();
    out.seconds = seconds_since(started);
    return out;
}

}  // namespace

bool verifier::run(const run_record& r, lag_sampler* lag) {
    lag_ = lag;
    const auto started = clock_type::now();
    auto say = [&](const std::string& what) {
        if (!s_.quiet)
            std::fprintf(stderr, "chat_load: verify %.1f s: %s\n", seconds_since(started), what.c_str());
    };
    std::map<std::string, app_expect> apps;
    std::uint64_t acked_apps = 0, acked_chats = 0, acked_messages = 0;
    for (const auto& a : r.acks) {
        auto& app = apps[a.token];
        switch (a.kind) {
            case ack_kind::app:
                app.acked = true;
                ++acked_apps;
                break;
            case ack_kind::chat:
                app.chats[a.chat].acked_chat = true;
                app.chats_not_seen.insert(a.chat);
                ++app.acked_chats;
                ++acked_chats;
                break;
            case ack_kind::message: {
                auto& c = app.chats[a.chat];
                c.acked[a.number] = a.hash;
                c.not_seen.push_back(a.number);
                ++acked_messages;
                break;
            }
        }
    }
    for (const auto& [k, n] : r.failed_messages) apps[k.first].chats[k.second].failed += n;
    for (const auto& [token, n] : r.failed_chats) apps[token].failed_chats += n;
    // Deletions of acknowledged messages (the run deletes no other); an acknowledged one wins over an
    // unanswered one of the same message.
    std::uint64_t stray_deletions = 0;
    for (const auto& d : r.deletes) {
        auto& c = apps[d.token].chats[d.chat];
        if (!c.acked.count(d.number)) {
            ++stray_deletions;
            continue;
        }
        auto& claim = c.deletions.try_emplace(d.number, deletion::none).first->second;
        if (d.acknowledged && claim != deletion::acknowledged) {
            claim = deletion::acknowledged;
            c.deletions_not_seen.push_back(d.number);
        } else if (!d.acknowledged && claim == deletion::none) {
            claim = deletion::unknown;
        }
    }
    if (stray_deletions > 0)
        fail("delete",
             fmt::format("{} deletions in the record name no acknowledged message", stray_deletions));

    store::mysql_connection db(cfg_.mysql);
    store::elastic_client es(cfg_.es_url, cfg_.es_index);
    try {
        // Application ids. Applications are written to MariaDB before their 201, so no waiting here.
        std::uint64_t stored_apps = 0;
        {
            std::vector<std::string> tokens;
            for (const auto& [t, _] : apps) tokens.push_back(t);
            for (std::size_t i = 0; i < tokens.size(); i += 500) {
                std::string in;
                for (std::size_t k = i; k < tokens.size() && k < i + 500; ++k) {
                    auto q = db.quote(tokens[k]);
                    if (!q) throw store_failure("MariaDB: " + q.error().message);
                    if (!in.empty()) in += ',';
                    in += *q;
                }
                for (const auto& row :
                     query(db, "SELECT id, token FROM applications WHERE token IN (" + in + ")"))
                    apps[*row[1]].id = store::to_u64(row[0]);
            }
            for (const auto& [token, app] : apps) {
                if (app.id != 0) {
                    stored_apps += app.acked;
                    continue;
                }
                fail("stored", fmt::format("application {} acknowledged but not in MariaDB", token));
            }
        }

        // 0. Drain: the queue is empty and every acknowledged chat and message is in MariaDB.
        store::amqp_session amqp(cfg_.amqp);
        std::int64_t depth = -1;  // -1: not readable
        std::string amqp_error;
        bool drained = false;
        const auto drain_deadline = started + s_.drain_timeout;
        std::uint64_t missing = 0, deletions_missing = 0;
        for (;;) {
            depth = -1;
            if (!amqp.is_open())
                if (auto ok = amqp.open(false, 0); !ok) amqp_error = ok.error().message;
            if (amqp.is_open()) {
                if (auto d = amqp.queue_depth(cfg_.amqp.queue); d) {
                    depth = *d;
                } else {
                    amqp_error = d.error().message;
                    amqp.close();
                }
            }
            missing = 0;
            deletions_missing = 0;
            for (auto& [token, app] : apps) {
                if (app.id == 0) continue;
                if (!app.chats_not_seen.empty()) {
                    for (const auto& row :
                         query(db, fmt::format("SELECT number FROM chats WHERE application_id = {}", app.id)))
                        app.chats_not_seen.erase(store::to_u64(row[0]));
                    missing += app.chats_not_seen.size();
                }
                for (auto& [number, chat] : app.chats) {
                    auto& ns = chat.not_seen;
                    std::set<std::uint64_t> seen;
                    for (std::size_t i = 0; i < ns.size(); i += 1000) {
                        std::string in;
                        for (std::size_t k = i; k < ns.size() && k < i + 1000; ++k) {
                            if (!in.empty()) in += ',';
                            in += std::to_string(ns[k]);
                        }
                        for (const auto& row :
                             query(db, fmt::format("SELECT number FROM messages WHERE application_id "
                                                   "= {} AND chat_number = {} AND number IN ({})",
                                                   app.id, number, in)))
                            seen.insert(store::to_u64(row[0]));
                    }
                    std::erase_if(ns, [&](std::uint64_t n) { return seen.count(n) > 0; });
                    missing += ns.size();
                    // Acknowledged deletions: applied once the row is a tombstone (deleted_at set).
                    auto& ds = chat.deletions_not_seen;
                    std::set<std::uint64_t> applied;
                    for (std::size_t i = 0; i < ds.size(); i += 1000) {
                        std::string in;
                        for (std::size_t k = i; k < ds.size() && k < i + 1000; ++k) {
                            if (!in.empty()) in += ',';
                            in += std::to_string(ds[k]);
                        }
                        for (const auto& row : query(
                                 db,
                                 fmt::format("SELECT number FROM messages WHERE application_id = {} AND "
                                             "chat_number = {} AND deleted_at IS NOT NULL AND number IN ({})",
                                             app.id, number, in)))
                            applied.insert(store::to_u64(row[0]));
                    }
                    std::erase_if(ds, [&](std::uint64_t n) { return applied.count(n) > 0; });
                    deletions_missing += ds.size();
                }
            }
            if (depth == 0 && missing == 0 && deletions_missing == 0) {
                drained = true;
                break;
            }
            if (clock_type::now() >= drain_deadline) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
        figures_["drain"] = {{"drained", drained},
                             {"seconds", seconds_since(started)},
                             {"queue_depth", depth >= 0 ? json::value(depth) : json::value(nullptr)},
                             {"acknowledged_not_stored", missing},
                             {"deletions_not_applied", deletions_missing}};
        if (!drained)
            fail("drain",
                 fmt::format(
                     "not drained after {:.0f} s: queue {} {}, {} acknowledged creations not in MariaDB{}",
                     seconds_since(started), cfg_.amqp.queue,
                     depth >= 0 ? fmt::format("holds {}", depth) : "unreadable (" + amqp_error + ")", missing,
                     deletions_missing > 0
                         ? fmt::format(", {} acknowledged deletions not applied", deletions_missing)
                         : std::string()));
        say(drained ? "drained" : "not drained");

        // 1 and 2. Stored once with the acknowledged body; numbered 1..N with explained holes only.
        // Messages the run tried to delete are judged by check 4 (their row may be a tombstone); here
        // only that no other row holds their body.
        struct touched_message {
            std::string token;
            std::uint64_t app_id, chat, number;
            deletion d;
            message_facts facts;
            message_judgement judgement;
        };
        std::vector<touched_message> touched;
        std::uint64_t stored_chats_ok = 0, stored_messages_ok = 0, stored_rows = 0;
        std::uint64_t chat_gaps = 0, message_gaps = 0;
        for (auto& [token, app] : apps) {
            if (app.id == 0) continue;
            std::vector<std::uint64_t> chat_numbers;
            for (const auto& row :
                 query(db, fmt::format("SELECT number FROM chats WHERE application_id = {} ORDER BY number",
                                       app.id)))
                chat_numbers.push_back(store::to_u64(row[0]));
            for (const auto& [n, c] : app.chats) {
                if (!c.acked_chat) continue;
                if (std::binary_search(chat_numbers.begin(), chat_numbers.end(), n))
                    ++stored_chats_ok;
                else
                    fail("stored", fmt::format("chat {}/{} acknowledged but not stored", token, n));
            }
            if (chat_numbers.size() > app.acked_chats + app.failed_chats)
                fail(
                    "stored",
                    fmt::format("application {}: {} chats stored for {} acknowledged and {} failed creations "
                                "(a creation stored twice?)",
                                token, chat_numbers.size(), app.acked_chats, app.failed_chats));
            if (auto g = find_gaps(chat_numbers, app.failed_chats); !g.missing.empty()) {
                auto text = fmt::format("chats of {}: {} missing ({}) with {} failed creations", token,
                                        g.missing.size(), join(g.missing), app.failed_chats);
                if (g.allowed) {
                    allowed_gaps_.push_back(text);
                    ++chat_gaps;
                } else {
                    fail("numbering", text);
                }
            }
            for (auto& [chat_number, c] : app.chats) {
                std::vector<std::uint64_t> numbers;
                std::map<std::uint64_t, std::pair<std::uint64_t, bool>> row_of;  // number -> hash, deleted
                std::map<std::uint64_t, std::vector<std::uint64_t>> numbers_of;  // hash -> numbers
                for (std::uint64_t after = 0;;) {
                    auto rows = query(
                        db, fmt::format("SELECT number, body, deleted_at IS NOT NULL FROM messages WHERE "
                                        "application_id = {} AND chat_number = {} AND number > {} ORDER BY "
                                        "number LIMIT 5000",
                                        app.id, chat_number, after));
                    for (const auto& row : rows) {
                        auto n = store::to_u64(row[0]);
                        auto h = store::fingerprint(row[1] ? *row[1] : std::string());
                        numbers.push_back(n);
                        row_of[n] = {h, row[2] && *row[2] == "1"};
                        numbers_of[h].push_back(n);
                        after = n;
                    }
                    if (rows.size() < 5000) break;
                }
                c.stored = numbers.size();
                stored_rows += numbers.size();
                for (const auto& [n, h] : c.acked) {
                    auto msg = fmt::format("message {}/{}/{}", token, chat_number, n);
                    message_facts f;
                    f.acknowledged_hash = h;
                    if (auto it = row_of.find(n); it != row_of.end())
                        f.row = true, f.row_hash = it->second.first, f.row_deleted = it->second.second;
                    auto claim = c.deletions.count(n) ? c.deletions.at(n) : deletion::none;
                    // Bodies are unique within the run: another row with this body is a second copy,
                    // deleted message or not.
                    const auto& copies = numbers_of[h];
                    bool copied = std::any_of(copies.begin(), copies.end(), [n](auto x) { return x != n; });
                    if (claim != deletion::none) {
                        if (copied)
                            fail("stored", fmt::format("{} is stored {} times (numbers {})", msg,
                                                       copies.size(), join(copies)));
                        else
                            touched.push_back({token, app.id, chat_number, n, claim, f, {}});
                        continue;
                    }
                    auto j = judge_message(deletion::none, f);
                    if (!j.check.empty())
                        fail(j.check, msg + j.problem);
                    else if (copied)
                        fail("stored", fmt::format("{} is stored {} times (numbers {})", msg, copies.size(),
                                                   join(copies)));
                    else
                        ++stored_messages_ok;
                }
                if (numbers.size() > c.acked.size() + c.failed)
                    fail("stored",
                         fmt::format("chat {}/{}: {} messages stored for {} acknowledged and {} failed "
                                     "creations (a creation stored twice?)",
                                     token, chat_number, numbers.size(), c.acked.size(), c.failed));
                if (auto g = find_gaps(numbers, c.failed); !g.missing.empty()) {
                    auto text =
                        fmt::format("messages of chat {}/{}: {} missing ({}) with {} failed creations", token,
                                    chat_number, g.missing.size(), join(g.missing), c.failed);
                    if (g.allowed) {
                        allowed_gaps_.push_back(text);
                        ++message_gaps;
                    } else {
                        fail("numbering", text);
                    }
                }
            }
        }
        figures_["apps"] = {{"acknowledged", acked_apps}, {"stored", stored_apps}};
        figures_["chats"] = {
            {"acknowledged", acked_chats}, {"stored", stored_chats_ok}, {"allowed_gaps", chat_gaps}};
        figures_["messages"] = {{"acknowledged", acked_messages},
                                {"stored", stored_messages_ok},
                                {"rows_in_touched_chats", stored_rows},
                                {"allowed_gaps", message_gaps}};
        say(fmt::format("stored: {}/{} chats, {}/{} messages", stored_chats_ok, acked_chats,
                        stored_messages_ok, acked_messages));

        // 3. Searchable: as many documents per chat (its routing) as rows, and a sample by document id.
        struct chat_ref {
            std::string token;
            std::uint64_t app_id, chat, rows, docs;
        };
        std::vector<chat_ref> unmatched;
        for (const auto& [token, app] : apps)
            if (app.id != 0)
                for (const auto& [n, c] : app.chats) unmatched.push_back({token, app.id, n, c.stored, 0});
        const auto chats_checked = unmatched.size();
        // Indexing follows storing (the worker's index catch-up), and search may still be coming
        // back from an outage: an unreachable Elasticsearch is "not yet" until the deadline.
        const auto search_deadline = clock_type::now() + s_.drain_timeout;
        std::string unreachable;
        for (;;) {
            std::vector<chat_ref> still;
            unreachable.clear();
            for (auto& c : unmatched) {
                if (!unreachable.empty()) {
                    still.push_back(c);
                    continue;
                }
                json::array filter{json::object{{"term", json::object{{"app_id", c.app_id}}}},
                                   json::object{{"term", json::object{{"chat_number", c.chat}}}}};
                json::object q{
                    {"query", json::object{{"bool", json::object{{"filter", std::move(filter)}}}}}};
                auto resp = es.request("POST",
                                       "/" + cfg_.es_index + "/_count?routing=" +
                                           store::elastic_client::routing(c.app_id, c.chat),
                                       json::serialize(q));
                if (!resp || resp->status != 200) {
                    unreachable = resp ? fmt::format("Elasticsearch _count: {} {}", resp->status,
                                                     resp->body.substr(0, 200))
                                       : resp.error().message;
                    still.push_back(c);
                    continue;
                }
                auto v = parse_json(*resp);
                c.docs = v.is_object() ? u64(v.as_object().if_contains("count")) : 0;
                if (c.docs != c.rows) still.push_back(c);
            }
            unmatched = std::move(still);
            if (unmatched.empty() || clock_type::now() >= search_deadline) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
        }
        if (!unreachable.empty()) throw store_failure(unreachable);
        for (const auto& c : unmatched)
            fail("search", fmt::format("chat {}/{}: {} messages in MariaDB, {} in Elasticsearch", c.token,
                                       c.chat, c.rows, c.docs));
        struct message_ref {
            std::string token;
            std::uint64_t app_id, chat, number, hash;
        };
        std::vector<message_ref> all;
        for (const auto& [token, app] : apps)
            if (app.id != 0)
                for (const auto& [n, c] : app.chats)
                    for (const auto& [m, h] : c.acked)
                        if (!c.deletions.count(m)) all.push_back({token, app.id, n, m, h});
        std::mt19937_64 rng(12345);
        std::vector<message_ref> sample;
        std::sample(all.begin(), all.end(), std::back_inserter(sample),
                    static_cast<std::size_t>(s_.es_sample), rng);
        std::uint64_t sample_ok = 0;
        for (const auto& m : sample) {
            auto resp =
                es.request("GET", fmt::format("/{}/_doc/{}?routing={}", cfg_.es_index,
                                              store::elastic_client::doc_id(m.app_id, m.chat, m.number),
                                              store::elastic_client::routing(m.app_id, m.chat)));
            if (!resp) throw store_failure(resp.error().message);
            auto v = parse_json(*resp);
            const json::value* source = v.is_object() ? v.as_object().if_contains("_source") : nullptr;
            const json::value* body =
                source && source->is_object() ? source->as_object().if_contains("body") : nullptr;
            if (resp->status == 404 || body == nullptr || !body->is_string())
                fail("search", fmt::format("message {}/{}/{} acknowledged but not in Elasticsearch", m.token,
                                           m.chat, m.number));
            else if (store::fingerprint(std::string_view(body->as_string())) != m.hash)
                fail("search",
                     fmt::format("message {}/{}/{}: the indexed body differs from the acknowledged one",
                                 m.token, m.chat, m.number));
            else
                ++sample_ok;
        }
        figures_["search"] = {{"chats_checked", chats_checked},
                              {"chats_matching", chats_checked - unmatched.size()},
                              {"documents_sampled", sample.size()},
                              {"documents_matching", sample_ok}};
        say(fmt::format("searchable: {}/{} chats match, {}/{} sampled documents",
                        chats_checked - unmatched.size(), chats_checked, sample_ok, sample.size()));

        // 4. Deletions: what the run tried to delete is erased in MariaDB and in search if the deletion
        // was acknowledged, erased in both or kept in both otherwise. Indexing follows storing (the
        // tombstone's document replaces the message's), so it is polled until the deadline.
        const auto deletions_started = clock_type::now();
        {
            const auto deadline = deletions_started + s_.drain_timeout;
            std::vector<touched_message*> unsettled;
            for (auto& m : touched) unsettled.push_back(&m);
            std::string es_error;
            constexpr std::size_t batch = 500;
            for (;;) {
                std::vector<touched_message*> still;
                es_error.clear();
                for (std::size_t i = 0; i < unsettled.size(); i += batch) {
                    std::vector<touched_message*> part(
                        unsettled.begin() + static_cast<std::ptrdiff_t>(i),
                        unsettled.begin() +
                            static_cast<std::ptrdiff_t>(std::min(i + batch, unsettled.size())));
                    std::map<std::string, touched_message*> by_id;
                    std::string keys;
                    json::array ids;
                    for (auto* m : part) {
                        auto id = store::elastic_client::doc_id(m->app_id, m->chat, m->number);
                        keys += fmt::format("{}({}, {}, {})", keys.empty() ? "" : ",", m->app_id, m->chat,
                                            m->number);
                        ids.push_back(json::string(id));
                        by_id[id] = m;
                        m->facts.row = false;
                        m->facts.row_deleted = false;
                        m->facts.row_hash = 0;
                        m->facts.versions = 0;
                        m->facts.search = message_facts::doc::unchecked;
                    }
                    auto id_of = [](const store::row& r) {
                        return fmt::format("{}:{}:{}", r[0].value_or(""), r[1].value_or(""),
                                           r[2].value_or(""));
                    };
                    for (const auto& row :
                         query(db,
                               "SELECT application_id, chat_number, number, body, deleted_at IS NOT NULL "
                               "FROM messages WHERE (application_id, chat_number, number) IN (" +
                                   keys + ")"))
                        if (auto it = by_id.find(id_of(row)); it != by_id.end()) {
                            auto& f = it->second->facts;
                            f.row = true;
                            f.row_hash = store::fingerprint(row[3] ? *row[3] : std::string());
                            f.row_deleted = row[4] && *row[4] == "1";
                        }
                    for (const auto& row : query(db,
                                                 "SELECT application_id, chat_number, number, COUNT(*) FROM "
                                                 "message_versions WHERE (application_id, chat_number, "
                                                 "number) IN (" +
                                                     keys + ") GROUP BY application_id, chat_number, number"))
                        if (auto it = by_id.find(id_of(row)); it != by_id.end())
                            it->second->facts.versions = store::to_u64(row[3]);
                    // A search (not a real-time GET by id): what searches see. A tombstone's document has
                    // an empty body, and its terms come from that body: nothing finds it.
                    if (es_error.empty()) {
                        auto size = ids.size();
                        json::object q{{"size", size},
                                       {"_source", json::array{"body"}},
                                       {"query", {{"ids", {{"values", std::move(ids)}}}}}};
                        auto resp = es.request("POST", "/" + cfg_.es_index + "/_search", json::serialize(q));
                        if (!resp || resp->status != 200) {
                            es_error = resp ? fmt::format("Elasticsearch search: {} {}", resp->status,
                                                          resp->body.substr(0, 200))
                                            : resp.error().message;
                        } else {
                            for (auto* m : part) m->facts.search = message_facts::doc::absent;
                            auto v = parse_json(*resp);
                            const json::value* hits =
                                v.is_object() ? v.as_object().if_contains("hits") : nullptr;
                            const json::value* list =
                                hits && hits->is_object() ? hits->as_object().if_contains("hits") : nullptr;
                            if (list && list->is_array())
                                for (const auto& h : list->as_array()) {
                                    if (!h.is_object()) continue;
                                    const auto* id = h.as_object().if_contains("_id");
                                    const auto* src = h.as_object().if_contains("_source");
                                    const auto* body = src && src->is_object()
                                                           ? src->as_object().if_contains("body")
                                                           : nullptr;
                                    if (!id || !id->is_string() || !body || !body->is_string()) continue;
                                    if (auto it = by_id.find(std::string(id->as_string()));
                                        it != by_id.end()) {
                                        it->second->facts.search = message_facts::doc::found;
                                        it->second->facts.doc_hash =
                                            store::fingerprint(std::string_view(body->as_string()));
                                    }
                                }
                        }
                    }
                    for (auto* m : part) {
                        m->judgement = judge_message(m->d, m->facts);
                        // Not settled: a violation (it may still be on its way), or search not read.
                        if (!m->judgement.check.empty() || m->facts.search == message_facts::doc::unchecked)
                            still.push_back(m);
                    }
                }
                unsettled = std::move(still);
                if (unsettled.empty() || clock_type::now() >= deadline) break;
                std::this_thread::sleep_for(std::chrono::milliseconds(500));
            }
            if (!es_error.empty()) throw store_failure(es_error);
        }
        std::uint64_t acked_deletions = 0, erased_ok = 0, unknown_deletions = 0, unknown_erased = 0,
                      unknown_kept = 0, deletion_violations = 0;
        for (const auto& m : touched) {
            const bool acked = m.d == deletion::acknowledged;
            acked_deletions += acked;
            unknown_deletions += !acked;
            if (!m.judgement.check.empty()) {
                ++deletion_violations;
                fail(m.judgement.check,
                     fmt::format("message {}/{}/{}{}", m.token, m.chat, m.number, m.judgement.problem));
                continue;
            }
            ++stored_messages_ok;  // accounted for: erased by its deletion, or kept with its body
            if (acked)
                ++erased_ok;
            else if (m.judgement.fate == message_fate::erased)
                ++unknown_erased;
            else
                ++unknown_kept;
        }
        figures_["messages"].as_object()["stored"] = stored_messages_ok;
        figures_["messages"].as_object()["erased_by_deletion"] = erased_ok + unknown_erased;
        figures_["deletions"] = {
            {"acknowledged", acked_deletions},
            {"erased", erased_ok},
            {"failed", unknown_deletions},
            {"failed_erased", unknown_erased},
            {"failed_kept", unknown_kept},
            {"violations", deletion_violations},
            {"seconds", std::chrono::duration<double>(clock_type::now() - deletions_started).count()}};
        if (!touched.empty())
            say(fmt::format("deletions: {}/{} acknowledged erased; {} unanswered: {} erased, {} kept",
                            erased_ok, acked_deletions, unknown_deletions, unknown_erased, unknown_kept));

        // 5. Count columns: messages_count and chats_count reach the real counts after their refresh
        // (deleted messages and chats are not counted).
        const auto count_started = clock_type::now();
        const auto count_deadline = count_started + s_.count_timeout;
        std::vector<std::string> mismatches;
        std::uint64_t apps_counted = 0, chats_counted = 0;
        for (;;) {
            mismatches.clear();
            apps_counted = chats_counted = 0;
            for (const auto& [token, app] : apps) {
                if (app.id == 0) continue;
                ++apps_counted;
                auto a = query(
                    db, fmt::format("SELECT chats_count, (SELECT COUNT(*) FROM chats WHERE application_id = "
                                    "{0} AND deleted_at IS NULL) FROM applications WHERE id = {0}",
                                    app.id));
                if (!a.empty() && store::to_u64(a[0][0]) != store::to_u64(a[0][1]))
                    mismatches.push_back(fmt::format("application {}: chats_count {}, {} chats stored", token,
                                                     *a[0][0], *a[0][1]));
                for (const auto& row :
                     query(db, fmt::format("SELECT c.number, c.messages_count, (SELECT COUNT(*) FROM "
                                           "messages m WHERE m.application_id = c.application_id AND "
                                           "m.chat_number = c.number AND m.deleted_at IS NULL) FROM chats c "
                                           "WHERE c.application_id = {}",
                                           app.id))) {
                    ++chats_counted;
                    if (store::to_u64(row[1]) != store::to_u64(row[2]))
                        mismatches.push_back(
                            fmt::format("chat {}/{}: messages_count {}, {} messages stored and not deleted",
                                        token, *row[0], *row[1], *row[2]));
                }
            }
            if (mismatches.empty() || clock_type::now() >= count_deadline) break;
            std::this_thread::sleep_for(std::chrono::seconds(1));
        }
        for (auto& m : mismatches) fail("counts", std::move(m));
        figures_["counts"] = {
            {"apps_checked", apps_counted},
            {"chats_checked", chats_counted},
            {"settled", mismatches.empty()},
            {"seconds", std::chrono::duration<double>(clock_type::now() - count_started).count()}};
        say(mismatches.empty() ? "count columns match" : "count columns do not match");

        // 7. Webhooks (--webhook): every acknowledged creation recorded once for its application's
        // endpoint, and delivered.
        if (!r.webhooks.empty()) {
            auto w = check_webhooks(db, apps, r.webhooks, s_.drain_timeout);
            for (auto& v : w.violations) fail(v.check, std::move(v.text));
            for (auto& v : w.tally.problems()) fail(v.check, std::move(v.text));
            webhook_lag_us_ = w.lag_us;
            const auto& t = w.tally;
            figures_["webhooks"] = {{"endpoints", w.endpoints},
                                    {"acknowledged", t.acknowledged},
                                    {"recorded", t.recorded},
                                    {"delivered", t.delivered},
                                    {"failed", t.failed},
                                    {"pending", t.pending},
                                    {"missing", t.missing},
                                    {"duplicated", t.duplicated},
                                    {"deleted_unrecorded", t.deleted_unrecorded},
                                    {"settled", w.settled},
                                    {"seconds", w.seconds},
                                    {"lag_ms", latency_json(w.lag_us)}};
            say(fmt::format(
                "webhooks: {}/{} recorded, {} delivered, {} pending, {} failed, {} missing, {} "
                "duplicated",
                t.recorded, t.acknowledged, t.delivered, t.pending, t.failed, t.missing, t.duplicated));
        }
    } catch (const store_failure& e) {
        fail("verifier", std::string("could not finish: ") + e.what());
    }
    // 6. Lag: every sample should long be resolved by now; a little grace for the last ones.
    if (lag_) lag->finish(clock_type::now() + std::chrono::seconds(5));
    return violations_.empty();
}

void verifier::print(std::FILE* out) const {
    auto fig = [&](const char* section, const char* field) -> std::string {
        const auto* s = figures_.if_contains(section);
        if (!s) return "-";
        const auto* f = s->as_object().if_contains(field);
        if (f == nullptr) return "-";
        return f->is_double() ? fmt::format("{:.2f}", f->as_double()) : json::serialize(*f);
    };
    std::fprintf(out, "\nverification\n");
    std::fprintf(out, "  drain        drained %s in %s s (queue depth %s)\n", fig("drain", "drained").c_str(),
                 fig("drain", "seconds").c_str(), fig("drain", "queue_depth").c_str());
    std::fprintf(out,
                 "  stored       applications %s/%s, chats %s/%s, messages %s/%s (stored/acknowledged)\n",
                 fig("apps", "stored").c_str(), fig("apps", "acknowledged").c_str(),
                 fig("chats", "stored").c_str(), fig("chats", "acknowledged").c_str(),
                 fig("messages", "stored").c_str(), fig("messages", "acknowledged").c_str());
    // Only when the run deleted, so that the output of runs without deletions is unchanged.
    if (const auto* d = figures_.if_contains("deletions");
        d && d->is_object() &&
        (fig("deletions", "acknowledged") != "0" || fig("deletions", "failed") != "0")) {
        std::fprintf(out, "               (%s of the stored messages are erased by their deletion)\n",
                     fig("messages", "erased_by_deletion").c_str());
        std::fprintf(out,
                     "  deletions    %s/%s acknowledged deletions erased in MariaDB and search; %s failed "
                     "deletions: %s erased, %s kept; %s violations\n",
                     fig("deletions", "erased").c_str(), fig("deletions", "acknowledged").c_str(),
                     fig("deletions", "failed").c_str(), fig("deletions", "failed_erased").c_str(),
                     fig("deletions", "failed_kept").c_str(), fig("deletions", "violations").c_str());
    }
    std::fprintf(out, "  numbering    allowed gaps: %s in chat numbers, %s in message numbers\n",
                 fig("chats", "allowed_gaps").c_str(), fig("messages", "allowed_gaps").c_str());
    std::fprintf(out,
                 "  search       %s/%s chats with as many documents as rows; %s/%s sampled documents match\n",
                 fig("search", "chats_matching").c_str(), fig("search", "chats_checked").c_str(),
                 fig("search", "documents_matching").c_str(), fig("search", "documents_sampled").c_str());
    std::fprintf(out, "  counts       %s applications, %s chats; settled %s after %s s\n",
                 fig("counts", "apps_checked").c_str(), fig("counts", "chats_checked").c_str(),
                 fig("counts", "settled").c_str(), fig("counts", "seconds").c_str());
    if (lag_) {
        auto row = [&](const char* name, const histogram& h) {
            std::fprintf(out, "  lag %-10s n=%llu p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n", name,
                         static_cast<unsigned long long>(h.count()),
                         static_cast<double>(h.percentile(50)) / 1000,
                         static_cast<double>(h.percentile(90)) / 1000,
                         static_cast<double>(h.percentile(99)) / 1000, static_cast<double>(h.max()) / 1000);
        };
        row("stored", lag_->stored_us());
        row("searchable", lag_->searchable_us());
        if (lag_->unresolved() > 0)
            std::fprintf(out, "  lag: %zu sampled messages never seen (%s)\n", lag_->unresolved(),
                         lag_->last_error().c_str());
    }
    if (figures_.contains("webhooks")) {
        std::fprintf(
            out,
            "  webhooks     %s/%s acknowledged creations recorded for %s endpoints (%s more, deleted "
            "before stored, have none); %s delivered, %s failed, %s pending; %s missing, %s duplicated; "
            "settled %s "
            "after %s s\n",
            fig("webhooks", "recorded").c_str(), fig("webhooks", "acknowledged").c_str(),
            fig("webhooks", "endpoints").c_str(), fig("webhooks", "deleted_unrecorded").c_str(),
            fig("webhooks", "delivered").c_str(), fig("webhooks", "failed").c_str(),
            fig("webhooks", "pending").c_str(), fig("webhooks", "missing").c_str(),
            fig("webhooks", "duplicated").c_str(), fig("webhooks", "settled").c_str(),
            fig("webhooks", "seconds").c_str());
        const auto& h = webhook_lag_us_;
        std::fprintf(out,
                     "  lag webhook  n=%llu p50 %.1f ms, p99 %.1f ms, max %.1f ms (event -> delivered)\n",
                     static_cast<unsigned long long>(h.count()), static_cast<double>(h.percentile(50)) / 1000,
                     static_cast<double>(h.percentile(99)) / 1000, static_cast<double>(h.max()) / 1000);
    }
    for (std::size_t i = 0; i < allowed_gaps_.size() && i < 10; ++i)
        std::fprintf(out, "  allowed gap: %s\n", allowed_gaps_[i].c_str());
    if (allowed_gaps_.size() > 10) std::fprintf(out, "  … %zu allowed gaps in all\n", allowed_gaps_.size());
    if (violations_.empty()) {
        std::fprintf(out, "  no violation\n");
        return;
    }
    std::map<std::string, std::size_t> by_check;
    for (const auto& v : violations_) ++by_check[v.check];
    std::fprintf(out, "  %zu VIOLATIONS:", violations_.size());
    for (const auto& [c, n] : by_check) std::fprintf(out, " %s %zu", c.c_str(), n);
    std::fprintf(out, "\n");
    for (std::size_t i = 0; i < violations_.size() && i < shown_violations; ++i)
        std::fprintf(out, "  [%s] %s\n", violations_[i].check.c_str(), violations_[i].text.c_str());
    if (violations_.size() > shown_violations)
        std::fprintf(out, "  … and %zu more\n", violations_.size() - shown_violations);
}

json::object verifier::to_json() const {
    json::object out = figures_;
    out["ok"] = violations_.empty();
    json::object by_check;
    for (const auto& v : violations_) {
        auto& n = by_check[v.check];
        n = n.is_null() ? 1 : n.as_int64() + 1;
    }
    json::array first;
    for (std::size_t i = 0; i < violations_.size() && i < shown_violations; ++i)
        first.push_back({{"check", violations_[i].check}, {"text", violations_[i].text}});
    out["violations"] = {{"total", violations_.size()}, {"by_check", by_check}, {"first", first}};
    json::array gaps;
    for (const auto& g : allowed_gaps_) gaps.push_back(json::string(g));
    out["allowed_gaps"] = gaps;
    if (lag_) {
        out["lag_ms"] = {{"sampled", lag_->sampled()},
                         {"unresolved", lag_->unresolved()},
                         {"stored", latency_json(lag_->stored_us())},
                         {"searchable", latency_json(lag_->searchable_us())}};
    }
    return out;
}

}  // namespace chat::load
