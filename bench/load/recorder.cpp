#include "recorder.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <charconv>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace chat::load {

namespace json = boost::json;

void recorder::op_done(op_kind op, bool measured, bool ok, int attempts, std::uint64_t latency_us) {
    if (!measured) return;
    auto& s = ops_[index_of(op)];
    ++s.count;
    (ok ? s.ok : s.failed) += 1;
    s.retries += static_cast<std::uint64_t>(attempts > 1 ? attempts - 1 : 0);
    s.latency_us.record(latency_us);
}

void recorder::attempt_error(op_kind op, const std::string& kind) {
    ++errors_[{kind, op}].attempts;
}

void recorder::final_error(op_kind op, const std::string& kind) {
    ++errors_[{kind, op}].final;
}

void recorder::bad(op_kind op, const std::string& kind, std::string detail, std::string target,
                   std::string request_id) {
    (kind == "wrong_number" ? wrong_numbers_ : bad_failures_) += 1;
    if (samples_.size() < max_samples)
        samples_.push_back(
            {std::string(op_name(op)), kind, std::move(detail), std::move(target), std::move(request_id)});
}

void recorder::merge(recorder&& o) {
    for (std::size_t i = 0; i < op_count; ++i) {
        auto& a = ops_[i];
        const auto& b = o.ops_[i];
        a.latency_us.merge(b.latency_us);
        a.count += b.count;
        a.ok += b.ok;
        a.failed += b.failed;
        a.retries += b.retries;
    }
    for (const auto& [k, v] : o.errors_) {
        errors_[k].attempts += v.attempts;
        errors_[k].final += v.final;
    }
    for (auto& s : o.samples_)
        if (samples_.size() < max_samples) samples_.push_back(std::move(s));
    bad_failures_ += o.bad_failures_;
    wrong_numbers_ += o.wrong_numbers_;
    auto& acks = record_.acks;
    acks.insert(acks.end(), std::make_move_iterator(o.record_.acks.begin()),
                std::make_move_iterator(o.record_.acks.end()));
    for (const auto& [k, n] : o.record_.failed_messages) record_.failed_messages[k] += n;
    for (const auto& [k, n] : o.record_.failed_chats) record_.failed_chats[k] += n;
    auto& deletes = record_.deletes;
    deletes.insert(deletes.end(), std::make_move_iterator(o.record_.deletes.begin()),
                   std::make_move_iterator(o.record_.deletes.end()));
    for (auto& [token, id] : o.record_.webhooks) record_.webhooks[token] = std::move(id);
}

// --- the record file ---------------------------------------------------------------------------
// Tab-separated lines, one fact each, so a person can read it and a test can alter one entry:
//   app <token> <ack_ms> | chat <token> <chat> <ack_ms> | message <token> <chat> <number> <hash> <ack_ms>
//   failed_message <token> <chat> <count> | failed_chat <token> <count>
//   deleted <token> <chat> <number> <at_ms>         (a deletion answered 204)
//   delete_failed <token> <chat> <number> <at_ms>   (a deletion never answered 204: may have happened)
//   webhook <token> <endpoint id>                   (--webhook: the endpoint registered for the app)
// The hash is FNV-1a 64 of the body in 16 hex digits.

void write_record(const std::string& path, const run_record& r) {
    std::ofstream out(path, std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write " + path);
    out << "# chat_load record v1\n";
    for (const auto& a : r.acks) {
        switch (a.kind) {
            case ack_kind::app:
                out << fmt::format("app\t{}\t{}\n", a.token, a.ack_ms);
                break;
            case ack_kind::chat:
                out << fmt::format("chat\t{}\t{}\t{}\n", a.token, a.chat, a.ack_ms);
                break;
            case ack_kind::message:
                out << fmt::format("message\t{}\t{}\t{}\t{:016x}\t{}\n", a.token, a.chat, a.number, a.hash,
                                   a.ack_ms);
                break;
        }
    }
    for (const auto& [k, n] : r.failed_messages)
        out << fmt::format("failed_message\t{}\t{}\t{}\n", k.first, k.second, n);
    for (const auto& [k, n] : r.failed_chats) out << fmt::format("failed_chat\t{}\t{}\n", k, n);
    for (const auto& d : r.deletes)
        out << fmt::format("{}\t{}\t{}\t{}\t{}\n", d.acknowledged ? "deleted" : "delete_failed", d.token,
                           d.chat, d.number, d.at_ms);
    for (const auto& [token, id] : r.webhooks) out << fmt::format("webhook\t{}\t{}\n", token, id);
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + path);
}

run_record read_record(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path);
    run_record r;
    std::string line;
    std::size_t line_no = 0;
    auto fail = [&](const std::string& why) {
        throw std::runtime_error(fmt::format("{}:{}: {}", path, line_no, why));
    };
    auto number = [&](const std::string& text, int base = 10) {
        std::uint64_t v = 0;
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v, base);
        if (ec != std::errc{} || p != text.data() + text.size()) fail("'" + text + "' is not a number");
        return v;
    };
    while (std::getline(in, line)) {
        ++line_no;
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> f;
        std::stringstream ss(line);
        for (std::string field; std::getline(ss, field, '\t');) f.push_back(field);
        auto need = [&](std::size_t n) {
            if (f.size() != n) fail(fmt::format("{} expects {} fields, got {}", f[0], n, f.size()));
        };
        if (f[0] == "app") {
            need(3);
            r.acks.push_back({ack_kind::app, f[1], 0, 0, 0, static_cast<std::int64_t>(number(f[2]))});
        } else if (f[0] == "chat") {
            need(4);
            r.acks.push_back(
                {ack_kind::chat, f[1], number(f[2]), 0, 0, static_cast<std::int64_t>(number(f[3]))});
        } else if (f[0] == "message") {
            need(6);
            r.acks.push_back({ack_kind::message, f[1], number(f[2]), number(f[3]), number(f[4], 16),
                              static_cast<std::int64_t>(number(f[5]))});
        } else if (f[0] == "failed_message") {
            need(4);
            r.failed_messages[{f[1], number(f[2])}] += number(f[3]);
        } else if (f[0] == "failed_chat") {
            need(3);
            r.failed_chats[f[1]] += number(f[2]);
        } else if (f[0] == "deleted" || f[0] == "delete_failed") {
            need(5);
            r.deletes.push_back({f[1], number(f[2]), number(f[3]), f[0] == "deleted",
                                 static_cast<std::int64_t>(number(f[4]))});
        } else if (f[0] == "webhook") {
            need(3);
            r.webhooks[f[1]] = f[2];
        } else {
            fail("unknown entry '" + f[0] + "'");
        }
    }
    return r;
}

// --- the report --------------------------------------------------------------------------------

std::pair<std::uint64_t, std::uint64_t> deletion_counts(const run_record& r) {
    std::uint64_t acked = 0;
    for (const auto& d : r.deletes) acked += d.acknowledged;
    return {acked, r.deletes.size() - acked};
}

namespace {

double ms(std::uint64_t us) {
    return static_cast<double>(us) / 1000.0;
}

}  // namespace

json::object latency_json(const histogram& h) {
    return {{"p50", ms(h.percentile(50))}, {"p90", ms(h.percentile(90))},
            {"p99", ms(h.percentile(99))}, {"p99_9", ms(h.percentile(99.9))},
            {"max", ms(h.max())},          {"mean", h.mean() / 1000.0},
            {"min", ms(h.min())},          {"count", h.count()}};
}

namespace {

op_stats total_of(const recorder& r) {
    op_stats t;
    for (const auto& s : r.ops()) {
        t.latency_us.merge(s.latency_us);
        t.count += s.count;
        t.ok += s.ok;
        t.failed += s.failed;
        t.retries += s.retries;
    }
    return t;
}

void print_row(std::FILE* out, std::string_view name, const op_stats& s, double window_s) {
    const auto& h = s.latency_us;
    std::fprintf(out, "%-15s %9llu %10.1f %8llu %8llu %9.2f %9.2f %9.2f %9.2f %9.2f\n",
                 std::string(name).c_str(), static_cast<unsigned long long>(s.count),
                 window_s > 0 ? static_cast<double>(s.count) / window_s : 0,
                 static_cast<unsigned long long>(s.failed), static_cast<unsigned long long>(s.retries),
                 ms(h.percentile(50)), ms(h.percentile(90)), ms(h.percentile(99)), ms(h.percentile(99.9)),
                 ms(h.max()));
}

}  // namespace

void print_report(std::FILE* out, const recorder& r, const run_summary& s) {
    std::fprintf(out, "\n%s loop, measured window %.1f s; latency in ms%s\n", s.open_loop ? "open" : "closed",
                 s.window_s, s.open_loop ? " from the scheduled send time" : "");
    std::fprintf(out, "%-15s %9s %10s %8s %8s %9s %9s %9s %9s %9s\n", "operation", "count", "ops/s", "errors",
                 "retries", "p50", "p90", "p99", "p99.9", "max");
    for (std::size_t i = 0; i < op_count; ++i) {
        const auto& st = r.ops()[i];
        if (st.count == 0) continue;
        print_row(out, op_name(static_cast<op_kind>(i)), st, s.window_s);
    }
    print_row(out, "total", total_of(r), s.window_s);
    if (s.open_loop)
        std::fprintf(out, "largest backlog %llu requests; not sent at the end %llu\n",
                     static_cast<unsigned long long>(s.max_backlog),
                     static_cast<unsigned long long>(s.not_sent));
    if (!r.errors().empty()) {
        std::fprintf(out, "\nerrors (whole run, setup included)\n%-28s %-15s %9s %9s\n", "kind", "operation",
                     "attempts", "final");
        for (const auto& [k, c] : r.errors())
            std::fprintf(out, "%-28s %-15s %9llu %9llu\n", k.first.c_str(),
                         std::string(op_name(k.second)).c_str(), static_cast<unsigned long long>(c.attempts),
                         static_cast<unsigned long long>(c.final));
    }
    for (const auto& f : r.samples())
        std::fprintf(out, "  %s %s on %s (request id %s): %s\n", f.kind.c_str(), f.op.c_str(),
                     f.target.c_str(), f.request_id.c_str(), f.detail.c_str());
    std::size_t apps = 0, chats = 0, messages = 0;
    for (const auto& a : r.record().acks) {
        apps += a.kind == ack_kind::app;
        chats += a.kind == ack_kind::chat;
        messages += a.kind == ack_kind::message;
    }
    std::uint64_t failed_messages = 0, failed_chats = 0;
    for (const auto& [k, n] : r.record().failed_messages) failed_messages += n;
    for (const auto& [k, n] : r.record().failed_chats) failed_chats += n;
    std::fprintf(out,
                 "\nacknowledged (whole run): %zu applications, %zu chats, %zu messages; failed creations: "
                 "%llu chats, %llu messages\n",
                 apps, chats, messages, static_cast<unsigned long long>(failed_chats),
                 static_cast<unsigned long long>(failed_messages));
    // Only when the run deleted: the output of runs without --delete-percent is unchanged.
    if (!r.record().deletes.empty()) {
        auto [acked, failed] = deletion_counts(r.record());
        std::fprintf(out,
                     "deletions (whole run): %llu acknowledged (204), %llu failed (may or may not have "
                     "happened)\n",
                     static_cast<unsigned long long>(acked), static_cast<unsigned long long>(failed));
    }
    if (!r.record().webhooks.empty())
        std::fprintf(out, "webhook endpoints registered: %zu\n", r.record().webhooks.size());
    std::fprintf(out, "bad failures %llu, wrong numbers %llu\n",
                 static_cast<unsigned long long>(r.bad_failures()),
                 static_cast<unsigned long long>(r.wrong_numbers()));
}

json::object report_json(const recorder& r, const run_summary& s, const options& o) {
    auto op_json = [&](const op_stats& st) {
        return json::object{{"count", st.count},
                            {"ok", st.ok},
                            {"errors", st.failed},
                            {"retries", st.retries},
                            {"throughput", s.window_s > 0 ? static_cast<double>(st.count) / s.window_s : 0.0},
                            {"latency_ms", latency_json(st.latency_us)}};
    };
    json::object ops;
    for (std::size_t i = 0; i < op_count; ++i)
        if (r.ops()[i].count > 0) ops[op_name(static_cast<op_kind>(i))] = op_json(r.ops()[i]);
    json::array errors;
    for (const auto& [k, c] : r.errors())
        errors.push_back({{"kind", k.first},
                          {"operation", op_name(k.second)},
                          {"attempts", c.attempts},
                          {"final", c.final}});
    json::array samples;
    for (const auto& f : r.samples())
        samples.push_back({{"kind", f.kind},
                           {"operation", f.op},
                           {"detail", f.detail},
                           {"target", f.target},
                           {"request_id", f.request_id}});
    std::uint64_t apps = 0, chats = 0, messages = 0, failed_messages = 0, failed_chats = 0;
    for (const auto& a : r.record().acks) {
        apps += a.kind == ack_kind::app;
        chats += a.kind == ack_kind::chat;
        messages += a.kind == ack_kind::message;
    }
    for (const auto& [k, n] : r.record().failed_messages) failed_messages += n;
    for (const auto& [k, n] : r.record().failed_chats) failed_chats += n;
    auto [deletes_acked, deletes_failed] = deletion_counts(r.record());
    json::array targets;
    for (const auto& t : o.targets) targets.push_back(json::string(t.url));
    json::object mix;
    for (std::size_t i = 0; i < mix_op_count; ++i)
        if (o.mix[i] > 0) mix[op_name(static_cast<op_kind>(i))] = o.mix[i];
    return {{"settings",
             {{"targets", targets},
              {"mode", s.open_loop ? "open" : "closed"},
              {"rate", o.rate},
              {"connections", o.connections},
              {"threads", o.threads},
              {"duration_s", static_cast<double>(o.duration.count()) / 1000},
              {"warmup_s", static_cast<double>(o.warmup.count()) / 1000},
              {"retries", o.retries},
              {"mix", mix},
              {"apps", o.apps},
              {"chats_per_app", o.chats},
              {"hot_fraction", o.hot_fraction},
              {"hot_share", o.hot_share},
              {"delete_percent", o.delete_percent},
              {"webhook", o.webhook_url.empty() ? json::value(nullptr) : json::value(o.webhook_url)},
              {"seed", o.seed}}},
            {"window_s", s.window_s},
            {"operations", ops},
            {"total", op_json(total_of(r))},
            {"errors", errors},
            {"failure_samples", samples},
            {"bad_failures", r.bad_failures()},
            {"wrong_numbers", r.wrong_numbers()},
            {"backlog", {{"max", s.max_backlog}, {"not_sent", s.not_sent}}},
            {"acknowledged", {{"apps", apps}, {"chats", chats}, {"messages", messages}}},
            {"failed_creations", {{"chats", failed_chats}, {"messages", failed_messages}}},
            {"deletions", {{"acknowledged", deletes_acked}, {"failed", deletes_failed}}},
            {"webhooks", {{"endpoints", r.record().webhooks.size()}}}};
}

}  // namespace chat::load
