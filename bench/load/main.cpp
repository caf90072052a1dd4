// chat_load: drives the chat API with a realistic mix of operations, reports throughput and latency
// percentiles, and with --verify proves in MariaDB and Elasticsearch that nothing acknowledged was lost,
// duplicated or left unsearchable. `chat_load --help` documents every option; README.md has examples.
#include <fmt/format.h>
#include <sys/resource.h>

#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>

#include "core/config.hpp"
#include "driver.hpp"
#include "options.hpp"
#include "recorder.hpp"
#include "verifier.hpp"

namespace {

namespace json = boost::json;
using namespace chat::load;

// Indented JSON: the report is read by people as much as by scripts.
void pretty(std::ostream& out, const json::value& v, int indent = 0) {
    auto pad = [&](int n) { out << std::string(static_cast<std::size_t>(n), ' '); };
    if (v.is_object()) {
        const auto& o = v.as_object();
        if (o.empty()) {
            out << "{}";
            return;
        }
        out << "{\n";
        std::size_t i = 0;
        for (const auto& [k, x] : o) {
            pad(indent + 2);
            out << json::serialize(json::string(k)) << ": ";
            pretty(out, x, indent + 2);
            out << (++i < o.size() ? ",\n" : "\n");
        }
        pad(indent);
        out << "}";
    } else if (v.is_array()) {
        const auto& a = v.as_array();
        if (a.empty()) {
            out << "[]";
            return;
        }
        out << "[\n";
        for (std::size_t i = 0; i < a.size(); ++i) {
            pad(indent + 2);
            pretty(out, a[i], indent + 2);
            out << (i + 1 < a.size() ? ",\n" : "\n");
        }
        pad(indent);
        out << "]";
    } else if (v.is_double()) {
        // Shortest round-trip form (512.4, not Boost.JSON's 5.124E2).
        out << fmt::format("{}", v.as_double());
    } else {
        out << json::serialize(v);
    }
}

bool write_json(const std::string& path, const json::object& report) {
    std::ofstream out(path, std::ios::trunc);
    pretty(out, report);
    out << "\n";
    out.flush();
    if (!out) std::fprintf(stderr, "chat_load: cannot write %s\n", path.c_str());
    return static_cast<bool>(out);
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    try {
        o = parse_options(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const usage_error& e) {
        std::fprintf(stderr, "chat_load: %s\n", e.what());
        return 2;
    }
    if (o.help) {
        std::fputs(help_text().c_str(), stdout);
        return 0;
    }
    if (o.seed == 0) o.seed = std::random_device{}() | 1;  // reported, so a run can be repeated
    // Each connection may hold a socket per target: the usual soft limit of 1024 descriptors would turn
    // a large --connections into connect_failed errors of our own making.
    if (rlimit lim{}; getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }

    // Verification reads the servers' own settings, so it looks where they write.
    const bool verifying = o.verify || !o.verify_only_path.empty();
    chat::core::config cfg;
    if (verifying) {
        try {
            cfg = chat::core::load_config_from_environment();
        } catch (const std::invalid_argument& e) {
            std::fprintf(stderr, "chat_load: invalid configuration: %s\n", e.what());
            return 2;
        }
    }
    verify_settings vs{o.drain_timeout,
                       o.count_timeout.value_or(std::chrono::seconds(cfg.count_refresh_interval_s * 2 + 30)),
                       o.es_sample, o.quiet};

    if (!o.verify_only_path.empty()) {
        run_record record;
        try {
            record = read_record(o.verify_only_path);
        } catch (const std::runtime_error& e) {
            std::fprintf(stderr, "chat_load: %s\n", e.what());
            return 2;
        }
        verifier v(cfg, vs);
        bool ok = v.run(record, nullptr);
        v.print(stdout);
        if (!o.json_path.empty() && !write_json(o.json_path, {{"verify", v.to_json()}})) return 1;
        return ok ? 0 : 1;
    }

    std::vector<resolved_target> targets;
    try {
        targets = resolve_targets(o.targets);
    } catch (const usage_error& e) {
        std::fprintf(stderr, "chat_load: %s\n", e.what());
        return 2;
    }
    std::unique_ptr<lag_sampler> sampler;
    ack_listener listener;
    if (o.verify && o.lag_sample > 0) {
        sampler = std::make_unique<lag_sampler>(cfg);
        sampler->start();
        listener = [s = sampler.get()](const std::string& token, std::uint64_t chat, std::uint64_t number,
                                       std::uint64_t) { s->offer(token, chat, number); };
    }

    bool failed = false;
    driver d(o, std::move(targets), listener);
    auto webhook_failure = [&] {
        std::fprintf(stderr,
                     "chat_load: setup failed: the --webhook endpoint %s could not be registered: %s\n"
                     "chat_load: (an http:// or loopback receiver needs the API server started with "
                     "CHAT_WEBHOOK_ALLOW_HTTP=1 CHAT_WEBHOOK_ALLOW_PRIVATE=1)\n",
                     o.webhook_url.c_str(), d.webhook_error().c_str());
    };
    if (d.setup()) {
        d.run();
    } else if (!d.webhook_error().empty()) {
        webhook_failure();
        return 2;
    } else {
        std::fprintf(stderr, "chat_load: setup failed: not one chat could be created (errors below)\n");
        failed = true;
    }
    auto results = d.results();
    auto summary = d.summary();
    print_report(stdout, results, summary);
    std::fflush(stdout);
    auto report = report_json(results, summary, o);
    if (results.bad_failures() > 0 || results.wrong_numbers() > 0) failed = true;
    if (!o.record_path.empty()) {
        try {
            write_record(o.record_path, results.record());
        } catch (const std::runtime_error& e) {
            std::fprintf(stderr, "chat_load: %s\n", e.what());
            failed = true;
        }
    }
    if (o.verify) {
        verifier v(cfg, vs);
        if (!v.run(results.record(), sampler.get())) failed = true;
        v.print(stdout);
        report["verify"] = v.to_json();
    }
    report["ok"] = !failed;
    if (!o.json_path.empty() && !write_json(o.json_path, report)) failed = true;
    // An application created during the run whose endpoint could not be registered: a setup error too.
    if (!d.webhook_error().empty()) {
        webhook_failure();
        return 2;
    }
    return failed ? 1 : 0;
}
