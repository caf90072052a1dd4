#include "store/elastic.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <limits>
#include <optional>

#include "domain/search_query.hpp"
#include "domain/search_terms.hpp"
#include "store/failure.hpp"

namespace chat::store {

namespace json = boost::json;
using core::errc;
using core::make_error;

namespace {
std::size_t collect(char* data, std::size_t size, std::size_t n, void* out) {
    static_cast<std::string*>(out)->append(data, size * n);
    return size * n;
}

constexpr std::string_view es = "elasticsearch";

// Numbers of an answer, read without throwing and without undefined conversions: an integer, or a
// double that is one (within range); nothing else.
std::optional<std::uint64_t> to_u64(const json::value* v) {
    if (v == nullptr) return std::nullopt;
    if (const auto* u = v->if_uint64()) return *u;
    if (const auto* i = v->if_int64()) {
        if (*i < 0) return std::nullopt;
        return static_cast<std::uint64_t>(*i);
    }
    if (const auto* d = v->if_double()) {
        // 2^64 exactly: the first double out of range (NaN fails every comparison).
        if (*d >= 0 && *d < 18446744073709551616.0 && std::floor(*d) == *d)
            return static_cast<std::uint64_t>(*d);
    }
    return std::nullopt;
}

std::optional<std::int64_t> to_i64(const json::value* v) {
    if (v == nullptr) return std::nullopt;
    if (const auto* i = v->if_int64()) return *i;
    if (const auto* u = v->if_uint64()) {
        if (*u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
        return static_cast<std::int64_t>(*u);
    }
    if (const auto* d = v->if_double()) {
        if (*d >= -9223372036854775808.0 && *d < 9223372036854775808.0 && std::floor(*d) == *d)
            return static_cast<std::int64_t>(*d);
    }
    return std::nullopt;
}

core::error unreadable(std::string what) {
    return make_error(errc::unavailable, std::move(what));
}

// The answer as a JSON object, or why not.
core::result<json::object> parse_object(std::string_view body, std::string_view what) {
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec) return unreadable(fmt::format("{} is not JSON ({})", what, ec.message()));
    auto* o = v.if_object();
    if (o == nullptr) return unreadable(fmt::format("{} is not a JSON object", what));
    return std::move(*o);
}

// "type: reason" of an item's error, clipped for the log.
std::string error_text(const json::value* err) {
    if (err == nullptr) return {};
    if (const auto* s = err->if_string()) return clip(*s);
    if (const auto* o = err->if_object()) {
        std::string out;
        if (const auto* t = o->if_contains("type"))
            if (const auto* ts = t->if_string()) out = std::string(*ts);
        if (const auto* r = o->if_contains("reason"))
            if (const auto* rs = r->if_string()) out += (out.empty() ? "" : ": ") + std::string(*rs);
        if (!out.empty()) return clip(out);
    }
    return clip(json::serialize(*err));
}
}  // namespace

core::result<bulk_outcome> parse_bulk_answer(std::string_view body) {
    auto answer = parse_object(body, "bulk answer");
    if (!answer) return answer.error();
    const auto* items_v = answer->if_contains("items");
    if (items_v == nullptr) return unreadable("bulk answer has no items");
    const auto* items = items_v->if_array();
    if (items == nullptr) return unreadable("bulk answer's items is not an array");
    bulk_outcome out;
    out.items = items->size();
    for (std::size_t i = 0; i < items->size(); ++i) {
        bulk_item_failure f;
        f.position = i;
        const auto* item = (*items)[i].if_object();
        if (item == nullptr || item->size() != 1) {
            f.reason = "item is not an object with one action";
            out.failures.push_back(std::move(f));
            continue;
        }
        const auto& [kind, action] = *item->begin();
        f.kind = std::string(kind);
        const auto* r = action.if_object();
        if (r == nullptr) {
            f.reason = "item's result is not an object";
            out.failures.push_back(std::move(f));
            continue;
        }
        auto status = to_i64(r->if_contains("status"));
        f.status = status.value_or(0);
        if (kind != "index") {
            f.reason = "unexpected item kind";
            out.failures.push_back(std::move(f));
            continue;
        }
        if (!status) {
            f.reason = "item has no integer status";
            out.failures.push_back(std::move(f));
            continue;
        }
        if (*status == 200 || *status == 201 || *status == 409) continue;  // 409: a newer version is stored
        f.reason = error_text(r->if_contains("error"));
        out.failures.push_back(std::move(f));
    }
    return out;
}

core::result<search_page> parse_search_answer(std::string_view body) {
    auto answer = parse_object(body, "search answer");
    if (!answer) return answer.error();
    // A page without the hits of a failed shard, or cut short by a timeout, would look complete: it is
    // an unavailable search instead, which the client may retry. (The request also asks for
    // allow_partial_search_results=false; this holds whatever a node's defaults are.)
    if (const auto* shards_v = answer->if_contains("_shards"))
        if (const auto* shards = shards_v->if_object())
            if (auto failed = to_u64(shards->if_contains("failed")); failed && *failed > 0)
                return unreadable(fmt::format("search answer is partial: {} shard(s) failed", *failed));
    if (const auto* timed_out = answer->if_contains("timed_out");
        timed_out && timed_out->is_bool() && timed_out->get_bool())
        return unreadable("search answer is partial: the search timed out");
    const auto* hits_v = answer->if_contains("hits");
    const auto* hits = hits_v ? hits_v->if_object() : nullptr;
    if (hits == nullptr) return unreadable("search answer has no hits object");
    search_page page;
    // {"value": n, "relation": "eq"} since 7.0; a plain number with rest_total_hits_as_int.
    const auto* total_v = hits->if_contains("total");
    std::optional<std::uint64_t> total;
    if (total_v != nullptr) {
        if (const auto* t = total_v->if_object())
            total = to_u64(t->if_contains("value"));
        else
            total = to_u64(total_v);
    }
    if (!total) return unreadable("search answer has no readable hits.total");
    page.total = *total;
    const auto* list_v = hits->if_contains("hits");
    const auto* list = list_v ? list_v->if_array() : nullptr;
    if (list == nullptr) return unreadable("search answer's hits.hits is not an array");
    page.hits.reserve(list->size());
    for (std::size_t i = 0; i < list->size(); ++i) {
        const auto* h = (*list)[i].if_object();
        if (h == nullptr) return unreadable(fmt::format("search hit {} is not an object", i));
        const auto* src_v = h->if_contains("_source");
        const auto* src = src_v ? src_v->if_object() : nullptr;
        if (src == nullptr) return unreadable(fmt::format("search hit {} has no _source object", i));
        search_hit hit;
        auto number = to_u64(src->if_contains("number"));
        if (!number) return unreadable(fmt::format("search hit {} has no readable number", i));
        hit.number = *number;
        const auto* body_v = src->if_contains("body");
        const auto* text = body_v ? body_v->if_string() : nullptr;
        if (text == nullptr) return unreadable(fmt::format("search hit {} has no body string", i));
        hit.body = std::string(*text);
        if (const auto* sender_v = src->if_contains("sender"))
            if (const auto* sender = sender_v->if_string()) hit.sender = std::string(*sender);
        for (auto [name, field] :
             {std::pair{"created_at", &hit.created_at_ms}, std::pair{"updated_at", &hit.updated_at_ms}}) {
            const auto* at = src->if_contains(name);
            if (at == nullptr) continue;
            auto ms = to_i64(at);
            if (!ms) return unreadable(fmt::format("search hit {} has an unreadable {}", i, name));
            *field = *ms;
        }
        if (const auto* hl_v = h->if_contains("highlight"))
            if (const auto* hl = hl_v->if_object())
                if (const auto* b_v = hl->if_contains("body"))
                    if (const auto* b = b_v->if_array(); b && !b->empty())
                        if (const auto* first = b->front().if_string()) hit.highlight = std::string(*first);
        page.hits.push_back(std::move(hit));
    }
    return page;
}

core::result<std::vector<std::string>> parse_alias_answer(std::string_view body) {
    auto answer = parse_object(body, "alias answer");
    if (!answer) return answer.error();
    std::vector<std::string> out;
    out.reserve(answer->size());
    for (const auto& [index, _] : *answer) out.emplace_back(index);
    std::sort(out.begin(), out.end());
    return out;
}

core::result<std::vector<index_version>> parse_mapping_versions(std::string_view body) {
    auto answer = parse_object(body, "mapping answer");
    if (!answer) return answer.error();
    std::vector<index_version> out;
    out.reserve(answer->size());
    for (const auto& [index, def] : *answer) {
        index_version v{std::string(index), 1};
        if (const auto* d = def.if_object())
            if (const auto* m = d->if_contains("mappings"))
                if (const auto* mo = m->if_object())
                    if (const auto* meta = mo->if_contains("_meta"))
                        if (const auto* meta_o = meta->if_object()) {
                            auto n = to_u64(meta_o->if_contains("mapping_version"));
                            if (n && *n >= 1 && *n <= 1000000) v.mapping_version = static_cast<int>(*n);
                        }
        out.push_back(std::move(v));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
    return out;
}

std::vector<std::string> split_node_urls(std::string_view urls) {
    std::vector<std::string> out;
    while (!urls.empty()) {
        auto comma = urls.find(',');
        auto url = urls.substr(0, comma);
        while (!url.empty() && url.front() == ' ') url.remove_prefix(1);
        while (!url.empty() && (url.back() == ' ' || url.back() == '/')) url.remove_suffix(1);
        if (!url.empty()) out.emplace_back(url);
        if (comma == std::string_view::npos) break;
        urls.remove_prefix(comma + 1);
    }
    return out;
}

elastic_client::elastic_client(std::string base_url, std::string alias, index_layout layout)
    : nodes_(split_node_urls(base_url)),
      alias_(std::move(alias)),
      layout_{std::max(layout.shards, 1), std::max(layout.replicas, 0)} {
    if (nodes_.empty()) nodes_.push_back(base_url);
}

std::string elastic_client::doc_id(std::uint64_t app_id, std::uint64_t chat_number, std::uint64_t number) {
    return fmt::format("{}:{}:{}", app_id, chat_number, number);
}

std::string elastic_client::routing(std::uint64_t app_id, std::uint64_t chat_number) {
    return fmt::format("{}:{}", app_id, chat_number);
}

namespace {
// Version 4's one addition: filtered on (search ?sender=) and returned, never scored.
json::object sender_field() {
    return {{"type", "keyword"}, {"norms", false}};
}
}  // namespace

std::string elastic_client::index_definition(const std::string& alias, bool with_aliases,
                                             index_layout layout) {
    // Computed terms, sent as one space-separated string and split by the whitespace analyzer: a
    // keyword array costs Elasticsearch a field per term (measured: an array of the same terms
    // indexed 13% slower and its queries took 1.7 times as long). Postings only (no frequencies,
    // positions or norms); not kept in _source (the body is).
    json::object term_field{
        {"type", "text"}, {"analyzer", "whitespace"}, {"index_options", "docs"}, {"norms", false}};
    json::object def{
        {"settings",
         {{"number_of_shards", std::max(layout.shards, 1)},
          {"number_of_replicas", std::max(layout.replicas, 0)},
          {"refresh_interval", "1s"}}},
        {"mappings",
         {{"dynamic", "strict"},
          {"_meta", {{"mapping_version", current_mapping_version}}},
          {"_routing", {{"required", true}}},
          {"_source", {{"excludes", json::array{"words", "suffixes"}}}},
          {"properties",
           {{"app_id", {{"type", "long"}}},
            {"chat_number", {{"type", "long"}}},
            {"number", {{"type", "long"}}},
            // "<app_id>:<chat_number>": one term whose postings are the chat's messages, the cheapest
            // filter to lead a conjunction with.
            {"chat", {{"type", "keyword"}, {"doc_values", false}}},
            // Returned and highlighted from _source; never searched (the terms below are).
            {"body", {{"type", "text"}, {"index", false}}},
            // domain/search_terms.hpp: folded whole words (ranking) and every suffix of each word,
            // led by "<chat>|" so that a fragment's prefix lookup walks only its chat's terms.
            {"words", term_field},
            {"suffixes", term_field},
            {"created_at", {{"type", "date"}, {"format", "epoch_millis"}}},
            {"updated_at", {{"type", "date"}, {"format", "epoch_millis"}}},
            {"sender", sender_field()}}}}},
        {"aliases", json::object{}}};
    if (with_aliases)
        def["aliases"] = json::object{{alias, json::object{}}, {alias + "_write", json::object{}}};
    return json::serialize(def);
}

namespace {
// What leads each suffix term of a chat in mapping version 3.
std::string suffix_key(std::uint64_t app_id, std::uint64_t chat_number) {
    return elastic_client::routing(app_id, chat_number) + "|";
}
}  // namespace

std::string document_source(const message_doc& doc, int mapping_version) {
    message_doc tombstone;
    if (doc.deleted) {
        tombstone = message_doc{doc.app_id,        doc.chat_number,   doc.number,   {},
                                doc.created_at_ms, doc.updated_at_ms, std::nullopt, true};
    }
    const message_doc& d = doc.deleted ? tombstone : doc;
    json::object source{
        {"app_id", d.app_id}, {"chat_number", d.chat_number},  {"number", d.number},
        {"body", d.body},     {"created_at", d.created_at_ms}, {"updated_at", d.updated_at_ms}};
    if (mapping_version >= 4 && d.sender) source["sender"] = *d.sender;
    if (mapping_version >= 3) {
        // A term never holds whitespace (words are letters, marks, digits or emoji) and stays far
        // below the whitespace tokenizer's 255-character limit (a 42-character key and 32 code points).
        auto terms = domain::compute_suffix_terms(d.body);
        const std::string key = suffix_key(d.app_id, d.chat_number);
        std::string words, suffixes;
        for (const auto& w : terms.words) words.append(words.empty() ? "" : " ").append(w);
        for (const auto& x : terms.suffixes)
            suffixes.append(suffixes.empty() ? "" : " ").append(key).append(x);
        source["chat"] = elastic_client::routing(d.app_id, d.chat_number);
        source["words"] = words;
        source["suffixes"] = suffixes;
    } else if (mapping_version == 2) {
        auto terms = domain::compute_index_terms(d.body);
        auto list = [](std::vector<std::string>& v) {
            json::array a;
            a.reserve(v.size());
            for (auto& t : v) a.emplace_back(std::move(t));
            return a;
        };
        source["chat"] = elastic_client::routing(d.app_id, d.chat_number);
        source["words"] = list(terms.words);
        source["grams"] = list(terms.grams);
        source["suffixes"] = list(terms.suffixes);
    }
    return json::serialize(source);
}

namespace {
json::value sort_of(search_order order) {
    auto by = [](const char* field, const char* dir) { return json::object{{field, dir}}; };
    switch (order) {
        case search_order::relevance:
            return json::array{by("_score", "desc"), by("number", "desc")};
        case search_order::newest:
            return json::array{by("created_at", "desc"), by("number", "desc")};
        case search_order::oldest:
            return json::array{by("created_at", "asc"), by("number", "asc")};
        case search_order::number:
            break;
    }
    return json::array{by("number", "asc")};
}

// since <= created_at < until, when either is given.
void add_time_filter(json::object& query, const search_options& options) {
    if (!options.since_ms && !options.until_ms) return;
    json::object range;
    if (options.since_ms) range["gte"] = *options.since_ms;
    if (options.until_ms) range["lt"] = *options.until_ms;
    query["bool"].as_object()["filter"].as_array().push_back(
        json::object{{"range", {{"created_at", std::move(range)}}}});
}

// Version 1: the body's standard-analyzer words, fragments as case-insensitive wildcards (their cost
// grows with the term dictionary of the whole shard; kept only until a reindex moves to version 2).
json::object query_v1(std::uint64_t app_id, std::uint64_t chat_number,
                      const std::vector<std::string>& fragments) {
    json::array must;
    for (const auto& f : fragments)
        must.push_back(json::object{
            {"wildcard", {{"body", {{"value", domain::wildcard_pattern(f)}, {"case_insensitive", true}}}}}});
    std::string words;
    for (const auto& f : fragments) words += (words.empty() ? "" : " ") + f;
    return json::object{{"bool",
                         {{"filter", json::array{{{"term", {{"app_id", app_id}}}},
                                                 {{"term", {{"chat_number", chat_number}}}}}},
                          {"must", must},
                          {"should", json::array{{{"match", {{"body", {{"query", words}}}}}}}}}}};
}

// Version 2: every clause that decides a match is a filter over one term (the chat, a gram) or a
// prefix of at least max_gram_chars + 1 code points among the suffixes; the score comes only from the
// whole words, so whole-word matches rank above fragments.
json::object query_v2(std::uint64_t app_id, std::uint64_t chat_number,
                      const std::vector<std::string>& fragments) {
    json::array filter{{{"term", {{"chat", elastic_client::routing(app_id, chat_number)}}}}};
    json::array should;
    for (const auto& f : fragments) {
        if (domain::lookup_for(f) == domain::fragment_lookup::gram)
            filter.push_back(json::object{{"term", {{"grams", f}}}});
        else
            filter.push_back(json::object{{"prefix", {{"suffixes", f}}}});
        should.push_back(json::object{{"term", {{"words", f}}}});
    }
    return json::object{{"bool", {{"filter", filter}, {"should", should}}}};
}
// Version 3: every fragment is a prefix of a suffix keyed by the chat, so the lookup walks only the
// chat's terms; the score comes only from whole words, so whole-word matches rank above fragments.
json::object query_v3(std::uint64_t app_id, std::uint64_t chat_number,
                      const std::vector<std::string>& fragments) {
    json::array filter{{{"term", {{"chat", elastic_client::routing(app_id, chat_number)}}}}};
    json::array should;
    const std::string key = suffix_key(app_id, chat_number);
    for (const auto& f : fragments) {
        filter.push_back(json::object{{"prefix", {{"suffixes", key + f}}}});
        should.push_back(json::object{{"term", {{"words", f}}}});
    }
    return json::object{{"bool", {{"filter", filter}, {"should", should}}}};
}
}  // namespace

std::string search_body(int mapping_version, std::uint64_t app_id, std::uint64_t chat_number,
                        const std::vector<std::string>& fragments, std::size_t from, std::size_t size,
                        const search_options& options) {
    auto query = mapping_version >= 3   ? query_v3(app_id, chat_number, fragments)
                 : mapping_version == 2 ? query_v2(app_id, chat_number, fragments)
                                        : query_v1(app_id, chat_number, fragments);
    add_time_filter(query, options);
    // Before version 4 no document has a sender: a sender filter matches nothing, as it should.
    if (options.sender)
        query["bool"].as_object()["filter"].as_array().push_back(
            json::object{{"term", {{"sender", *options.sender}}}});
    json::object q{{"query", std::move(query)},
                   {"sort", sort_of(options.order)},
                   {"from", from},
                   {"size", size},
                   {"track_total_hits", true}};
    return json::serialize(q);
}

core::result<http_response> elastic_client::request(const std::string& method, const std::string& path,
                                                    const std::string& body,
                                                    const std::string& content_type) {
    core::result<http_response> answer;
    for (std::size_t tried = 0; tried < nodes_.size(); ++tried) {
        auto at = (current_node_ + tried) % nodes_.size();
        bool not_connected = false;
        answer = request_on(nodes_[at], method, path, body, content_type, not_connected);
        if (!not_connected) {
            current_node_ = at;
            break;
        }
    }
    return answer;
}

core::result<http_response> elastic_client::request_on(const std::string& base_url, const std::string& method,
                                                       const std::string& path, const std::string& body,
                                                       const std::string& content_type, bool& not_connected) {
    if (!curl_) curl_.reset(curl_easy_init());
    CURL* c = curl_.get();
    if (c == nullptr) return unavailable(es, search_unavailable, "curl init failed");
    curl_easy_reset(c);
    std::string url = base_url + path;
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
    not_connected = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST;
    if (rc != CURLE_OK)
        return unavailable(es, search_unavailable,
                           fmt::format("{} {}: {}", method, path, curl_easy_strerror(rc)));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
    return resp;
}

core::result<void> elastic_client::ensure_index() {
    auto current = alias_indices(alias_);
    if (!current) return current.error();
    if (current->empty()) {
        auto created = request("PUT", "/" + alias_ + "_v1", index_definition(alias_, true, layout_));
        if (!created) return created.error();
        // 400 resource_already_exists: another worker won the race, which is fine.
        if (created->status != 200 &&
            created->body.find("resource_already_exists_exception") == std::string::npos)
            return unavailable(es, search_unavailable,
                               fmt::format("cannot create index {}_v1 ({}): {}", alias_, created->status,
                                           clip(created->body)));
    } else {
        // An index made before the write alias existed: give it one.
        auto writers = alias_indices(write_alias());
        if (!writers) return writers.error();
        if (writers->empty())
            if (auto ok = update_aliases({{"add", current->front(), write_alias()}}); !ok) return ok;
    }
    if (auto ok = upgrade_to_v4(); !ok) return ok;
    // A new index answers searches only once its primary shard is allocated.
    auto health = request("GET", "/_cluster/health/" + alias_ + "?wait_for_status=yellow&timeout=30s");
    if (!health) return health.error();
    if (health->status != 200)
        return unavailable(
            es, search_unavailable,
            fmt::format("index {} is not ready ({}): {}", alias_, health->status, clip(health->body)));
    return {};
}

core::result<void> elastic_client::upgrade_to_v4() {
    for (const auto& alias : {alias_, write_alias()}) {
        auto versions = alias_versions(alias);
        if (!versions) return versions.error();
        for (const auto& [index, version] : *versions) {
            if (version != 3) continue;
            // Adding a field to a strict mapping and replacing _meta are both allowed in place; a
            // second worker doing the same at the same moment changes nothing.
            json::object change{{"_meta", {{"mapping_version", 4}}},
                                {"properties", {{"sender", sender_field()}}}};
            auto resp = request("PUT", "/" + index + "/_mapping", json::serialize(change));
            if (!resp) return resp.error();
            if (resp->status != 200)
                return unavailable(es, search_unavailable,
                                   fmt::format("cannot upgrade the mapping of {} ({}): {}", index,
                                               resp->status, clip(resp->body)));
            spdlog::info("search index {}: mapping version 3 upgraded to 4 (sender)", index);
        }
    }
    write_targets_at_ = {};
    read_version_ = 0;
    return {};
}

core::result<std::vector<std::string>> elastic_client::alias_indices(const std::string& alias) {
    auto resp = request("GET", "/_alias/" + alias);
    if (!resp) return resp.error();
    if (resp->status == 404) return std::vector<std::string>{};
    if (resp->status != 200)
        return unavailable(
            es, search_unavailable,
            fmt::format("cannot read alias {} ({}): {}", alias, resp->status, clip(resp->body)));
    auto indices = parse_alias_answer(resp->body);
    if (!indices)
        return unavailable(es, search_unavailable,
                           fmt::format("cannot read alias {}: {}", alias, indices.error().message));
    return indices;
}

core::result<std::vector<index_version>> elastic_client::alias_versions(const std::string& alias) {
    // Through the alias: the mapping of each index behind it, in one request (404: no such alias).
    auto mapping = request("GET", "/" + alias + "/_mapping");
    if (!mapping) return mapping.error();
    if (mapping->status == 404) return std::vector<index_version>{};
    if (mapping->status != 200)
        return unavailable(es, search_unavailable,
                           fmt::format("cannot read the mapping of {} ({}): {}", alias, mapping->status,
                                       clip(mapping->body)));
    auto versions = parse_mapping_versions(mapping->body);
    if (!versions)
        return unavailable(es, search_unavailable,
                           fmt::format("cannot read the mapping of {}: {}", alias, versions.error().message));
    return versions;
}

core::result<void> elastic_client::update_aliases(const std::vector<std::array<std::string, 3>>& actions) {
    json::array list;
    for (const auto& [op, index, alias] : actions)
        list.push_back(json::object{{op, {{"index", index}, {"alias", alias}}}});
    auto resp = request("POST", "/_aliases", json::serialize(json::object{{"actions", list}}));
    if (!resp) return resp.error();
    if (resp->status != 200)
        return unavailable(es, search_unavailable,
                           fmt::format("alias update failed ({}): {}", resp->status, clip(resp->body)));
    write_targets_at_ = {};
    return {};
}

core::result<void> elastic_client::bulk_index(const std::vector<message_doc>& docs) {
    if (docs.empty()) return {};
    auto now = std::chrono::steady_clock::now();
    if (write_targets_.empty() || now - write_targets_at_ > std::chrono::seconds(2)) {
        auto targets = alias_versions(write_alias());
        if (!targets) return targets.error();
        // Never write to the alias name itself when it is missing: that would create an index with a
        // dynamic mapping. ensure_index() must have run.
        if (targets->empty()) return unavailable(es, search_unavailable, "no index behind " + write_alias());
        write_targets_ = std::move(*targets);
        write_targets_at_ = now;
    }
    return bulk_index_into(write_targets_, docs);
}

core::result<void> elastic_client::bulk_index_into(const std::vector<index_version>& indices,
                                                   const std::vector<message_doc>& docs) {
    if (docs.empty()) return {};
    std::string nd;
    nd.reserve(docs.size() * indices.size() * 256);
    for (const auto& [index, version] : indices)
        for (const auto& d : docs) {
            json::object action{{"index",
                                 {{"_index", index},
                                  {"_id", doc_id(d.app_id, d.chat_number, d.number)},
                                  {"routing", routing(d.app_id, d.chat_number)},
                                  {"version", d.updated_at_ms},
                                  {"version_type", "external_gte"}}}};
            nd += json::serialize(action);
            nd += '\n';
            nd += document_source(d, version);
            nd += '\n';
        }
    auto resp = request("POST", "/_bulk", nd, "application/x-ndjson");
    if (!resp) return resp.error();
    if (resp->status != 200)
        return unavailable(es, search_unavailable,
                           fmt::format("bulk failed ({}): {}", resp->status, clip(resp->body)));
    auto outcome = parse_bulk_answer(resp->body);
    if (!outcome) return unavailable(es, search_unavailable, outcome.error().message);
    const auto sent = docs.size() * indices.size();
    if (outcome->items != sent)
        return unavailable(es, search_unavailable,
                           fmt::format("bulk answer has {} items for {} actions", outcome->items, sent));
    if (!outcome->failures.empty()) {
        const auto& f = outcome->failures.front();
        return unavailable(
            es, search_unavailable,
            fmt::format("{} of {} bulk items failed; item {} ({} {}): {}", outcome->failures.size(), sent,
                        f.position, f.kind, f.status, f.reason));
    }
    return {};
}

core::result<search_page> elastic_client::search(std::uint64_t app_id, std::uint64_t chat_number,
                                                 const std::vector<std::string>& fragments, std::size_t from,
                                                 std::size_t size, const search_options& options) {
    auto body = [&]() -> core::result<std::string> {
        auto now = std::chrono::steady_clock::now();
        if (read_version_ == 0 || now - read_version_at_ > std::chrono::seconds(2)) {
            auto readers = alias_versions(alias_);
            if (!readers) return readers.error();
            if (readers->empty()) return unavailable(es, search_unavailable, "no index behind " + alias_);
            // Two indices behind the read alias are never our reindex's doing; the newer one wins.
            read_version_ =
                std::max_element(readers->begin(), readers->end(), [](const auto& a, const auto& b) {
                    return a.mapping_version < b.mapping_version;
                })->mapping_version;
            read_version_at_ = now;
        }
        return search_body(read_version_, app_id, chat_number, fragments, from, size, options);
    };
    const std::string path =
        "/" + alias_ + "/_search?allow_partial_search_results=false&routing=" + routing(app_id, chat_number);
    auto q = body();
    if (!q) return q.error();
    auto resp = request("POST", path, *q);
    // A 400 right after a reindex moved the read alias to another mapping version: ask again at once.
    if (resp && resp->status == 400) {
        read_version_ = 0;
        q = body();
        if (!q) return q.error();
        resp = request("POST", path, *q);
    }
    if (!resp) return resp.error();
    // The answer may carry the query and the application's id: they go to the log, never to a client.
    if (resp->status != 200)
        return unavailable(es, search_unavailable,
                           fmt::format("search in chat {} of application {} failed ({}): {}", chat_number,
                                       app_id, resp->status, clip(resp->body)));
    auto page = parse_search_answer(resp->body);
    if (!page)
        return unavailable(es, search_unavailable,
                           fmt::format("search in chat {} of application {}: {}", chat_number, app_id,
                                       page.error().message));
    // Highlighted here rather than by Elasticsearch: the words are folded as the index folds them.
    for (auto& h : page->hits) h.highlight = domain::highlight(h.body, fragments);
    return page;
}

}  // namespace chat::store
