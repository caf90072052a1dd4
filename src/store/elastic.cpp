#include "store/elastic.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>

#include "core/metrics.hpp"
#include "domain/search_query.hpp"

namespace chat::store {

namespace json = boost::json;
using core::errc;
using core::make_error;

namespace {
std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
}

std::uint64_t u64(const json::value* v) {
    if (v == nullptr) return 0;
    if (v->is_uint64()) return v->as_uint64();
    if (v->is_int64()) return static_cast<std::uint64_t>(v->as_int64());
    if (v->is_double()) return static_cast<std::uint64_t>(v->as_double());
    return 0;
}
}  // namespace

elastic_client::elastic_client(std::string base_url, std::string alias)
    : base_url_(std::move(base_url)), alias_(std::move(alias)) {}

std::string elastic_client::doc_id(std::uint64_t app_id, std::uint64_t chat_number, std::uint64_t number) {
    return fmt::format("{}:{}:{}", app_id, chat_number, number);
}

std::string elastic_client::routing(std::uint64_t app_id, std::uint64_t chat_number) {
    return fmt::format("{}:{}", app_id, chat_number);
}

std::string elastic_client::index_definition(const std::string& alias, bool with_aliases) {
    json::object def{
        {"settings", {{"number_of_shards", 1}, {"number_of_replicas", 0}, {"refresh_interval", "1s"}}},
        {"mappings",
         {{"dynamic", "strict"},
          {"_routing", {{"required", true}}},
          {"properties",
           {{"app_id", {{"type", "long"}}},
            {"chat_number", {{"type", "long"}}},
            {"number", {{"type", "long"}}},
            // The core distribution has no ngram analysis; the standard analyzer lowercases words and
            // fragments are found with case-insensitive wildcard queries on those words.
            {"body", {{"type", "text"}, {"analyzer", "standard"}}},
            {"created_at", {{"type", "date"}, {"format", "epoch_millis"}}},
            {"updated_at", {{"type", "date"}, {"format", "epoch_millis"}}}}}}},
        {"aliases", json::object{}}};
    if (with_aliases)
        def["aliases"] = json::object{{alias, json::object{}}, {alias + "_write", json::object{}}};
    return json::serialize(def);
}

core::result<http_response> elastic_client::request(const std::string& method, const std::string& path,
                                                    const std::string& body,
                                                    const std::string& content_type) {
    if (!curl_) curl_.reset(curl_easy_init());
    CURL* c = curl_.get();
    if (c == nullptr)
        return core::metrics::dependency_error("elasticsearch", "elasticsearch: curl init failed");
    curl_easy_reset(c);
    std::string url = base_url_ + path;
    http_response resp;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp.body);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    std::string ct = "Content-Type: " + content_type;
    curl_slist* headers = curl_slist_append(nullptr, ct.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (!body.empty() || method == "POST" || method == "PUT") {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    if (method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK)
        return core::metrics::dependency_error("elasticsearch",
                                               std::string("elasticsearch: ") + curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
    return resp;
}

core::result<void> elastic_client::ensure_index() {
    auto current = alias_indices(alias_);
    if (!current) return current.error();
    if (current->empty()) {
        auto created = request("PUT", "/" + alias_ + "_v1", index_definition(alias_));
        if (!created) return created.error();
        // 400 resource_already_exists: another worker won the race, which is fine.
        if (created->status != 200 &&
            created->body.find("resource_already_exists_exception") == std::string::npos)
            return core::metrics::dependency_error(
                "elasticsearch", fmt::format("elasticsearch: cannot create index ({}): {}", created->status,
                                             created->body.substr(0, 500)));
    } else {
        // An index made before the write alias existed: give it one.
        auto writers = alias_indices(write_alias());
        if (!writers) return writers.error();
        if (writers->empty())
            if (auto ok = update_aliases({{"add", current->front(), write_alias()}}); !ok) return ok;
    }
    // A new index answers searches only once its primary shard is allocated.
    auto health = request("GET", "/_cluster/health/" + alias_ + "?wait_for_status=yellow&timeout=30s");
    if (!health) return health.error();
    if (health->status != 200)
        return core::metrics::dependency_error("elasticsearch",
                                               "elasticsearch: index " + alias_ + " is not ready");
    return {};
}

core::result<std::vector<std::string>> elastic_client::alias_indices(const std::string& alias) {
    auto resp = request("GET", "/_alias/" + alias);
    if (!resp) return resp.error();
    std::vector<std::string> out;
    if (resp->status == 404) return out;
    boost::system::error_code ec;
    auto v = json::parse(resp->body, ec);
    if (resp->status != 200 || ec || !v.is_object())
        return core::metrics::dependency_error(
            "elasticsearch", fmt::format("elasticsearch: cannot read alias {} ({})", alias, resp->status));
    for (const auto& [index, _] : v.as_object()) out.emplace_back(index);
    std::sort(out.begin(), out.end());
    return out;
}

core::result<void> elastic_client::update_aliases(const std::vector<std::array<std::string, 3>>& actions) {
    json::array list;
    for (const auto& [op, index, alias] : actions)
        list.push_back(json::object{{op, {{"index", index}, {"alias", alias}}}});
    auto resp = request("POST", "/_aliases", json::serialize(json::object{{"actions", list}}));
    if (!resp) return resp.error();
    if (resp->status != 200)
        return core::metrics::dependency_error(
            "elasticsearch", fmt::format("elasticsearch: alias update failed ({}): {}", resp->status,
                                         resp->body.substr(0, 300)));
    write_targets_at_ = {};
    return {};
}

core::result<void> elastic_client::bulk_index(const std::vector<message_doc>& docs) {
    if (docs.empty()) return {};
    auto now = std::chrono::steady_clock::now();
    if (write_targets_.empty() || now - write_targets_at_ > std::chrono::seconds(2)) {
        auto targets = alias_indices(write_alias());
        if (!targets) return targets.error();
        // Never write to the alias name itself when it is missing: that would create an index with a
        // dynamic mapping. ensure_index() must have run.
        if (targets->empty())
            return core::metrics::dependency_error("elasticsearch",
                                                   "elasticsearch: no index behind " + write_alias());
        write_targets_ = std::move(*targets);
        write_targets_at_ = now;
    }
    return bulk_index_into(write_targets_, docs);
}

core::result<void> elastic_client::bulk_index_into(const std::vector<std::string>& indices,
                                                   const std::vector<message_doc>& docs) {
    if (docs.empty()) return {};
    std::string nd;
    nd.reserve(docs.size() * indices.size() * 256);
    for (const auto& index : indices)
        for (const auto& d : docs) {
            json::object action{{"index",
                                 {{"_index", index},
                                  {"_id", doc_id(d.app_id, d.chat_number, d.number)},
                                  {"routing", routing(d.app_id, d.chat_number)},
                                  {"version", d.updated_at_ms},
                                  {"version_type", "external_gte"}}}};
            json::object source{
                {"app_id", d.app_id}, {"chat_number", d.chat_number},  {"number", d.number},
                {"body", d.body},     {"created_at", d.created_at_ms}, {"updated_at", d.updated_at_ms}};
            nd += json::serialize(action);
            nd += '\n';
            nd += json::serialize(source);
            nd += '\n';
        }
    auto resp = request("POST", "/_bulk", nd, "application/x-ndjson");
    if (!resp) return resp.error();
    if (resp->status != 200)
        return core::metrics::dependency_error(
            "elasticsearch",
            fmt::format("elasticsearch: bulk failed ({}): {}", resp->status, resp->body.substr(0, 300)));
    boost::system::error_code ec;
    auto v = json::parse(resp->body, ec);
    if (ec || !v.is_object())
        return core::metrics::dependency_error("elasticsearch", "elasticsearch: unreadable bulk response");
    const auto* errors = v.as_object().if_contains("errors");
    if (errors && errors->is_bool() && !errors->as_bool()) return {};
    for (const auto& item : v.as_object().at("items").as_array()) {
        const auto& r = item.as_object().at("index").as_object();
        auto status = u64(r.if_contains("status"));
        if (status == 200 || status == 201 || status == 409) continue;  // 409: a newer version is stored
        return make_error(
            errc::unavailable,
            fmt::format("elasticsearch: bulk item failed ({}): {}", status,
                        r.contains("error") ? json::serialize(r.at("error")).substr(0, 300) : ""));
    }
    return {};
}

core::result<search_page> elastic_client::search(std::uint64_t app_id, std::uint64_t chat_number,
                                                 const std::vector<std::string>& fragments, std::size_t from,
                                                 std::size_t size, search_order order) {
    json::array must;
    for (const auto& f : fragments)
        must.push_back(json::object{
            {"wildcard", {{"body", {{"value", domain::wildcard_pattern(f)}, {"case_insensitive", true}}}}}});
    json::array sort;
    if (order == search_order::relevance) sort.push_back(json::object{{"_score", "desc"}});
    sort.push_back(json::object{{"number", order == search_order::relevance ? "desc" : "asc"}});
    // Fragments decide what matches (constant score); a match query on the same words adds relevance, so
    // whole-word and repeated matches rank above mere fragments. It is analyzed text, never query syntax.
    std::string words;
    for (const auto& f : fragments) words += (words.empty() ? "" : " ") + f;
    json::object q{
        {"query",
         {{"bool",
           {{"filter",
             json::array{{{"term", {{"app_id", app_id}}}}, {{"term", {{"chat_number", chat_number}}}}}},
            {"must", must},
            {"should", json::array{{{"match", {{"body", {{"query", words}}}}}}}}}}}},
        {"sort", sort},
        {"from", from},
        {"size", size},
        {"track_total_hits", true},
        {"highlight",
         {{"fields",
           {{"body", {{"number_of_fragments", 1}, {"fragment_size", 150}, {"no_match_size", 150}}}}},
          // The text around the tags is HTML-escaped so that a client may render the snippet as HTML
          // (a message containing markup cannot inject it).
          {"encoder", "html"},
          {"pre_tags", json::array{"<em>"}},
          {"post_tags", json::array{"</em>"}}}}};
    auto resp = request("POST", "/" + alias_ + "/_search?routing=" + routing(app_id, chat_number),
                        json::serialize(q));
    if (!resp) return resp.error();
    if (resp->status != 200)
        return core::metrics::dependency_error(
            "elasticsearch",
            fmt::format("elasticsearch: search failed ({}): {}", resp->status, resp->body.substr(0, 300)));
    boost::system::error_code ec;
    auto v = json::parse(resp->body, ec);
    if (ec || !v.is_object())
        return core::metrics::dependency_error("elasticsearch", "elasticsearch: unreadable search response");
    search_page page;
    const auto& hits = v.as_object().at("hits").as_object();
    page.total = u64(hits.at("total").as_object().if_contains("value"));
    for (const auto& h : hits.at("hits").as_array()) {
        const auto& ho = h.as_object();
        const auto& src = ho.at("_source").as_object();
        search_hit hit;
        hit.number = u64(src.if_contains("number"));
        hit.body = std::string(src.at("body").as_string());
        hit.created_at_ms = static_cast<std::int64_t>(u64(src.if_contains("created_at")));
        hit.updated_at_ms = static_cast<std::int64_t>(u64(src.if_contains("updated_at")));
        if (const auto* hl = ho.if_contains("highlight"))
            if (const auto* b = hl->as_object().if_contains("body"); b && !b->as_array().empty())
                hit.highlight = std::string(b->as_array().front().as_string());
        page.hits.push_back(std::move(hit));
    }
    return page;
}

}  // namespace chat::store
