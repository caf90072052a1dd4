#include "worker/reindex.hpp"

#include <fmt/format.h>

#include <charconv>
#include <thread>

#include "core/time.hpp"
#include "store/failure.hpp"
#include "store/scan_store.hpp"

namespace chat::worker {

using core::errc;
using core::make_error;

std::string next_index_name(const std::string& alias, const std::string& current) {
    auto pos = current.rfind("_v");
    if (pos != std::string::npos && pos + 2 < current.size()) {
        std::uint64_t v = 0;
        const char* first = current.data() + pos + 2;
        const char* last = current.data() + current.size();
        auto [end, ec] = std::from_chars(first, last, v);
        // An odd name (no number, a number too large to increment) falls back to _v2.
        if (ec == std::errc{} && end == last && v < UINT64_MAX) return fmt::format("{}_v{}", alias, v + 1);
    }
    return alias + "_v2";
}

core::result<reindex_report> reindex(store::mysql_connection& db, store::elastic_client& es,
                                     const reindex_options& opts,
                                     const std::function<void(const std::string&)>& progress) {
    if (auto ok = es.ensure_index(); !ok) return ok.error();
    auto readers = es.alias_indices(es.alias());
    if (!readers) return readers.error();
    if (readers->size() != 1)
        return make_error(errc::conflict, fmt::format("alias {} points at {} indices; expected one",
                                                      es.alias(), readers->size()));
    auto writers = es.alias_indices(es.write_alias());
    if (!writers) return writers.error();
    if (writers->size() != 1)
        return make_error(errc::conflict, "another reindex seems to be running (the write alias has " +
                                              std::to_string(writers->size()) + " indices)");
    reindex_report report{readers->front(), next_index_name(es.alias(), readers->front()), 0};

    progress(fmt::format("creating {} (current: {})", report.new_index, report.old_index));
    auto created = es.request("PUT", "/" + report.new_index,
                              store::elastic_client::index_definition(es.alias(), false, es.layout()));
    if (!created) return created.error();
    if (created->status != 200)
        return store::unavailable("elasticsearch", store::search_unavailable,
                                  fmt::format("reindex: cannot create {} ({}): {}", report.new_index,
                                              created->status, store::clip(created->body)));
    auto health =
        es.request("GET", "/_cluster/health/" + report.new_index + "?wait_for_status=yellow&timeout=30s");
    if (!health) return health.error();
    if (auto ok = es.update_aliases({{"add", report.new_index, es.write_alias()}}); !ok) return ok.error();
    progress(fmt::format("workers now write to both; waiting {} ms for them to notice",
                         static_cast<long long>(opts.settle.count())));
    std::this_thread::sleep_for(opts.settle);

    auto expected = store::count_messages(db);
    if (!expected) return expected.error();
    store::message_key last{0, 0, 0};
    auto started = std::chrono::steady_clock::now();
    while (true) {
        auto docs = store::message_docs_after(db, last, static_cast<int>(opts.page));
        if (!docs) return docs.error();
        if (docs->empty()) break;
        last = {docs->back().app_id, docs->back().chat_number, docs->back().number};
        // External versions: a copy older than what a worker already wrote (an edit) is ignored.
        if (auto ok = es.bulk_index_into({{report.new_index, store::current_mapping_version}}, *docs); !ok)
            return ok.error();
        report.copied += docs->size();
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        progress(fmt::format("copied {} / ~{} messages ({:.0f}/s)", report.copied, *expected,
                             static_cast<double>(report.copied) / std::max(secs, 0.001)));
    }
    (void)es.request("POST", "/" + report.new_index + "/_refresh");
    // One atomic change: searches move to the new index, the old one stops receiving writes.
    if (auto ok = es.update_aliases({{"remove", report.old_index, es.alias()},
                                     {"add", report.new_index, es.alias()},
                                     {"remove", report.old_index, es.write_alias()}});
        !ok)
        return ok.error();
    progress(fmt::format("searches now use {}", report.new_index));
    if (opts.delete_old) {
        // Workers may still hold the old index in their write-target cache for a moment.
        std::this_thread::sleep_for(opts.settle);
        auto deleted = es.request("DELETE", "/" + report.old_index);
        if (!deleted) return deleted.error();
        progress("deleted " + report.old_index);
    } else {
        progress(fmt::format("kept {}; delete it with: curl -XDELETE <es>/{}", report.old_index,
                             report.old_index));
    }
    return report;
}

}  // namespace chat::worker
