#pragma once
// A blocking Elasticsearch client over libcurl, owned by one thread at a time (keeps its connection
// alive between requests). Searches read the alias `messages`; writes go to every index behind the
// alias `messages_write` (one index normally, two while a reindex builds the next version). Indices
// are versioned (`messages_v1`, `messages_v2`…) and created here with an explicit mapping; documents
// are routed by chat so one chat lives on one shard.
#include <curl/curl.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace chat::store {

struct http_response {
    long status = 0;
    std::string body;
};

struct message_doc {
    std::uint64_t app_id = 0;
    std::uint64_t chat_number = 0;
    std::uint64_t number = 0;
    std::string body;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;  // also the document's external version: an older edit never wins
    std::optional<std::string> sender = {};
    // A tombstone (the message was deleted): the document keeps no body, no sender and no terms, so
    // nothing finds it; its version (the row's updated_at, moved by the deletion) keeps older ones out.
    bool deleted = false;
};

struct search_hit {
    std::uint64_t number = 0;
    std::string body;
    std::int64_t created_at_ms = 0;
    std::int64_t updated_at_ms = 0;
    std::string highlight;
    std::optional<std::string> sender = {};
};

struct search_page {
    std::uint64_t total = 0;
    std::vector<search_hit> hits;
};

// relevance: score, then newest; newest / oldest: by created_at (then number); number: number order.
enum class search_order { relevance, newest, oldest, number };

// How hits are ordered and which creation times they may have: since <= created_at < until.
struct search_options {
    search_order order = search_order::relevance;
    std::optional<std::int64_t> since_ms;
    std::optional<std::int64_t> until_ms;
    std::optional<std::string> sender;  // only the messages of this sender (mapping version 4)
    search_options() = default;
    search_options(search_order o) : order(o) {}  // NOLINT: an order alone is a complete option set
};

// The mapping this code creates indices with (see the file comment). Version 4 is version 3 with the
// message's sender (a keyword): ensure_index() upgrades a version 3 index in place, since adding a
// field is all it takes (documents stored before have no sender, as their messages had none).
inline constexpr int current_mapping_version = 4;

struct index_version {
    std::string index;
    int mapping_version = 1;
    bool operator==(const index_version&) const = default;
};

// One item of a _bulk answer that is neither stored nor superseded by a newer version.
struct bulk_item_failure {
    std::size_t position = 0;  // in the answer's items
    std::string kind;          // the item's action ("index"…), empty when the item has none
    std::int64_t status = 0;   // 0 when missing or not an integer
    std::string reason;        // the item's error (type: reason, clipped), for the log only
};

struct bulk_outcome {
    std::size_t items = 0;  // items in the answer (one per action sent)
    std::vector<bulk_item_failure> failures;
};

// Readers of Elasticsearch answers, pure and unit-tested (tests/unit/store/elastic_parse_test.cpp).
// They never throw: an answer of any shape (not JSON, another version's format, a proxy's page) gives
// a defined result. An answer they cannot read is errc::unavailable (retried); its message says what
// is wrong with the answer, for the log. Callers answer clients with a fixed sentence instead.
//
// A _bulk answer: every item is read ("errors" is not trusted either way). Only "index" items are
// expected (we send nothing else); one succeeds with status 200 or 201, or 409 (external versions: a
// newer edit is already stored). Any other item (another kind, no status, an error) is a failure.
core::result<bulk_outcome> parse_bulk_answer(std::string_view body);
// A _search answer: hits.total as {"value": n} or n, hits.hits an array whose _source has number and
// body (created_at and updated_at are 0 when absent). A highlight of any other shape than
// {"body": ["…"]} is ignored (an empty highlight).
core::result<search_page> parse_search_answer(std::string_view body);
// A GET _alias/<alias> answer: the names of the indices (the object's keys), sorted.
core::result<std::vector<std::string>> parse_alias_answer(std::string_view body);
// A GET <alias>/_mapping answer: each index (sorted) with its mappings._meta.mapping_version (1 when
// absent or not a positive integer).
core::result<std::vector<index_version>> parse_mapping_versions(std::string_view body);
// The _bulk source of a document for an index of the given mapping version.
std::string document_source(const message_doc& d, int mapping_version);
// The _search body (without routing) for an index of the given mapping version.
std::string search_body(int mapping_version, std::uint64_t app_id, std::uint64_t chat_number,
                        const std::vector<std::string>& fragments, std::size_t from, std::size_t size,
                        const search_options& options);

// The nodes of CHAT_ES_URL: "http://a:9200,http://b:9200" -> each URL without its trailing '/'.
std::vector<std::string> split_node_urls(std::string_view urls);

// The shape of an index this code creates (ensure_index, chat_ctl reindex): CHAT_ES_SHARDS primary
// shards, each with CHAT_ES_REPLICAS copies on other nodes.
struct index_layout {
    int shards = 1;
    int replicas = 0;
};

class elastic_client {
  public:
    // `base_url`: one node's URL, or a cluster's nodes separated by commas. A request goes to the
    // node that answered last; a node that refuses the connection is passed over for the next one
    // (nothing was sent to it, so even a non-idempotent request may go on).
    // `layout`: the shape of the indices this client creates.
    elastic_client(std::string base_url, std::string alias, index_layout layout = {});
    elastic_client(const elastic_client&) = delete;
    elastic_client& operator=(const elastic_client&) = delete;

    core::result<http_response> request(const std::string& method, const std::string& path,
                                        const std::string& body = {},
                                        const std::string& content_type = "application/json");
    // Creates <alias>_v1 with our mapping behind both aliases, unless the read alias exists; upgrades a
    // version 3 index behind either alias to version 4.
    core::result<void> ensure_index();
    // Indexes (or re-indexes) the documents into every index behind the write alias, with one _bulk
    // request. Fails unless every document is stored (a version conflict means a newer edit is
    // already there, which counts as stored).
    core::result<void> bulk_index(const std::vector<message_doc>& docs);
    // The same into named indices (used by the reindex, which fills an index no alias points at yet).
    core::result<void> bulk_index_into(const std::vector<index_version>& indices,
                                       const std::vector<message_doc>& docs);
    // The indices behind an alias with their mapping versions (empty when the alias does not exist).
    core::result<std::vector<index_version>> alias_versions(const std::string& alias);
    // The indices behind an alias (empty when the alias does not exist).
    core::result<std::vector<std::string>> alias_indices(const std::string& alias);
    // Atomic alias changes: {"add"|"remove", index, alias}.
    core::result<void> update_aliases(const std::vector<std::array<std::string, 3>>& actions);
    core::result<search_page> search(std::uint64_t app_id, std::uint64_t chat_number,
                                     const std::vector<std::string>& fragments, std::size_t from,
                                     std::size_t size, const search_options& options);

    static std::string doc_id(std::uint64_t app_id, std::uint64_t chat_number, std::uint64_t number);
    static std::string routing(std::uint64_t app_id, std::uint64_t chat_number);
    // The JSON of an index (settings, mapping, and when with_aliases both aliases), in one place.
    static std::string index_definition(const std::string& alias, bool with_aliases = true,
                                        index_layout layout = {});
    index_layout layout() const { return layout_; }
    const std::string& alias() const { return alias_; }
    std::string write_alias() const { return alias_ + "_write"; }

  private:
    core::result<void> upgrade_to_v4();
    core::result<http_response> request_on(const std::string& base_url, const std::string& method,
                                           const std::string& path, const std::string& body,
                                           const std::string& content_type, bool& not_connected);

    std::vector<std::string> nodes_;
    std::size_t current_node_ = 0;
    std::string alias_;
    index_layout layout_;
    // Indices behind the write alias, re-read at most every two seconds (see docs/architecture.md).
    std::vector<index_version> write_targets_;
    std::chrono::steady_clock::time_point write_targets_at_{};
    // The mapping version of the index behind the read alias, re-read at most every two seconds.
    int read_version_ = 0;
    std::chrono::steady_clock::time_point read_version_at_{};
    std::unique_ptr<CURL, void (*)(CURL*)> curl_{nullptr, curl_easy_cleanup};
};

}  // namespace chat::store
