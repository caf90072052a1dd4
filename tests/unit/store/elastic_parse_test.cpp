// The readers of Elasticsearch answers never throw: every shape gives a defined result, and an answer
// they cannot read is a retryable `unavailable`. (The worker once ended with std::terminate on an
// answer of an unexpected shape: nothing there catches.)
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "store/elastic.hpp"
#include "store/failure.hpp"

using namespace chat::store;
using chat::core::errc;

namespace {

// Each reader, called so that a throw fails the test with the input that caused it.
template <class F>
auto no_throw(F f, std::string_view body) {
    try {
        return f(body);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "threw " << e.what() << " on: " << body;
        throw;
    }
}

chat::core::result<bulk_outcome> bulk(std::string_view body) {
    return no_throw(parse_bulk_answer, body);
}
chat::core::result<search_page> search(std::string_view body) {
    return no_throw(parse_search_answer, body);
}
chat::core::result<std::vector<std::string>> aliases(std::string_view body) {
    return no_throw(parse_alias_answer, body);
}

void expect_unreadable(const chat::core::error& e) {
    EXPECT_EQ(e.code, errc::unavailable);
    EXPECT_FALSE(e.message.empty());
}

// Inputs that are not a JSON object, for every reader.
const std::vector<std::string> not_objects = {
    "",
    "   ",
    "not json",
    "<html><body>502 Bad Gateway</body></html>",
    "{",
    "{\"items\": [",
    "[]",
    "[{\"index\": {\"status\": 201}}]",
    "null",
    "true",
    "42",
    "\"a string\"",
    "{\"a\":1} trailing",
    std::string(100, '[') + std::string(100, ']'),  // deeper than the parser allows
    "\xff\xfe{}",
};

std::string hit(std::string source, std::string extra = "") {
    return "{\"_index\":\"messages_v1\",\"_id\":\"1:1:1\",\"_score\":1.0,\"_source\":" + source + extra + "}";
}

std::string search_answer(std::string total, std::string hits) {
    return "{\"took\":1,\"timed_out\":false,\"hits\":{\"total\":" + total +
           ",\"max_score\":1.0,\"hits\":" + hits + "}}";
}

const std::string good_source =
    R"({"app_id":7,"chat_number":1,"number":3,"body":"hello","created_at":1700000000000,"updated_at":1700000000001})";

}  // namespace

TEST(elastic_parse, nothing_but_a_json_object_is_read) {
    for (const auto& body : not_objects) {
        auto b = bulk(body);
        ASSERT_FALSE(b) << body;
        expect_unreadable(b.error());
        auto s = search(body);
        ASSERT_FALSE(s) << body;
        expect_unreadable(s.error());
        auto a = aliases(body);
        ASSERT_FALSE(a) << body;
        expect_unreadable(a.error());
    }
}

TEST(elastic_parse, bulk_all_stored) {
    auto b = bulk(R"({"took":3,"errors":false,"items":[
        {"index":{"_index":"messages_v1","_id":"1:1:1","_version":5,"result":"created","status":201}},
        {"index":{"_index":"messages_v1","_id":"1:1:2","_version":6,"result":"updated","status":200}}]})");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->items, 2u);
    EXPECT_TRUE(b->failures.empty());
}

TEST(elastic_parse, bulk_version_conflict_means_a_newer_edit_is_stored) {
    auto b = bulk(R"({"errors":true,"items":[
        {"index":{"_id":"1:1:1","status":409,"error":{"type":"version_conflict_engine_exception",
                  "reason":"[1:1:1]: version conflict, current version [9] is higher"}}},
        {"index":{"_id":"1:1:2","status":201}}]})");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->items, 2u);
    EXPECT_TRUE(b->failures.empty());
}

TEST(elastic_parse, bulk_failed_items_are_reported_with_their_error) {
    auto b = bulk(R"({"errors":true,"items":[
        {"index":{"_id":"1:1:1","status":201}},
        {"index":{"_id":"1:1:2","status":429,"error":{"type":"es_rejected_execution_exception",
                  "reason":"rejected execution"}}},
        {"index":{"_id":"1:1:3","status":400,"error":"a plain string error"}},
        {"index":{"_id":"1:1:4","status":500,"error":{"caused_by":{"type":"x"}}}},
        {"index":{"_id":"1:1:5","status":503}}]})");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->items, 5u);
    ASSERT_EQ(b->failures.size(), 4u);
    EXPECT_EQ(b->failures[0].position, 1u);
    EXPECT_EQ(b->failures[0].kind, "index");
    EXPECT_EQ(b->failures[0].status, 429);
    EXPECT_EQ(b->failures[0].reason, "es_rejected_execution_exception: rejected execution");
    EXPECT_EQ(b->failures[1].status, 400);
    EXPECT_EQ(b->failures[1].reason, "a plain string error");
    EXPECT_EQ(b->failures[2].status, 500);
    EXPECT_NE(b->failures[2].reason.find("caused_by"), std::string::npos);
    EXPECT_EQ(b->failures[3].status, 503);
    EXPECT_EQ(b->failures[3].reason, "");
}

TEST(elastic_parse, bulk_items_of_other_kinds_are_failures) {
    // We send only "index" actions: an answer about anything else is not an answer to our request.
    for (std::string kind : {"create", "update", "delete", "unknown", ""}) {
        auto b = bulk(R"({"errors":true,"items":[{")" + kind +
                      R"(":{"_id":"1:1:1","status":201}},{"index":{"status":201}}]})");
        ASSERT_TRUE(b) << kind;
        EXPECT_EQ(b->items, 2u);
        ASSERT_EQ(b->failures.size(), 1u) << kind;
        EXPECT_EQ(b->failures[0].position, 0u);
        EXPECT_EQ(b->failures[0].kind, kind);
        EXPECT_EQ(b->failures[0].status, 201);
    }
    // Also when the answer claims there were no errors: items are read either way.
    auto b = bulk(R"({"errors":false,"items":[{"delete":{"status":200}}]})");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->failures.size(), 1u);
}

TEST(elastic_parse, bulk_items_without_a_readable_status_are_failures) {
    for (std::string status :
         {"", R"(,"status":"201")", R"(,"status":null)", R"(,"status":true)", R"(,"status":201.5)",
          R"(,"status":[201])", R"(,"status":{"code":201})", R"(,"status":99999999999999999999999)",
          R"(,"status":1e400)", R"(,"status":-201)", R"(,"status":18446744073709551615)"}) {
        auto b = bulk(R"({"errors":true,"items":[{"index":{"_id":"1:1:1")" + status + "}}]}");
        if (!b) {  // a number the parser itself refuses (1e400) makes the whole answer unreadable
            expect_unreadable(b.error());
            continue;
        }
        EXPECT_EQ(b->items, 1u) << status;
        ASSERT_EQ(b->failures.size(), 1u) << status;
        EXPECT_NE(b->failures[0].status, 201) << status;
    }
    // A status written as a whole double is still a status.
    auto b = bulk(R"({"items":[{"index":{"status":201.0}}]})");
    ASSERT_TRUE(b);
    EXPECT_TRUE(b->failures.empty());
}

TEST(elastic_parse, bulk_items_of_odd_shapes_are_failures) {
    auto b = bulk(R"({"errors":true,"items":[
        42, "index", null, [], {}, {"index":{"status":201},"create":{"status":201}},
        {"index":"201"}, {"index":null}, {"index":[{"status":201}]}]})");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->items, 9u);
    ASSERT_EQ(b->failures.size(), 9u);
    for (std::size_t i = 0; i < 9; ++i) EXPECT_EQ(b->failures[i].position, i);
}

TEST(elastic_parse, bulk_answer_without_items_is_unreadable) {
    for (const char* body : {R"({})", R"({"errors":false})", R"({"errors":true})", R"({"items":null})",
                             R"({"items":{"index":{"status":201}}})", R"({"items":"[]"})",
                             R"({"error":{"type":"illegal_argument_exception"},"status":400})"}) {
        auto b = bulk(body);
        ASSERT_FALSE(b) << body;
        expect_unreadable(b.error());
    }
    auto empty = bulk(R"({"errors":false,"items":[]})");
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->items, 0u);
}

TEST(elastic_parse, bulk_huge_error_is_clipped) {
    std::string reason(10000, 'x');
    auto b = bulk(R"({"items":[{"index":{"status":400,"error":")" + reason + "\"}}]}");
    ASSERT_TRUE(b);
    ASSERT_EQ(b->failures.size(), 1u);
    EXPECT_LE(b->failures[0].reason.size(), max_logged_detail + 3);
}

TEST(elastic_parse, search_reads_hits_total_and_highlight) {
    auto s =
        search(search_answer(R"({"value":2,"relation":"eq"})",
                             "[" + hit(good_source, R"(,"highlight":{"body":["<em>hello</em>"]})") + "," +
                                 hit(R"({"number":4,"body":"again","created_at":5,"updated_at":6})") + "]"));
    ASSERT_TRUE(s);
    EXPECT_EQ(s->total, 2u);
    ASSERT_EQ(s->hits.size(), 2u);
    EXPECT_EQ(s->hits[0].number, 3u);
    EXPECT_EQ(s->hits[0].body, "hello");
    EXPECT_EQ(s->hits[0].created_at_ms, 1700000000000);
    EXPECT_EQ(s->hits[0].updated_at_ms, 1700000000001);
    EXPECT_EQ(s->hits[0].highlight, "<em>hello</em>");
    EXPECT_EQ(s->hits[1].number, 4u);
    EXPECT_EQ(s->hits[1].highlight, "");
    EXPECT_EQ(s->hits[1].created_at_ms, 5);
}

TEST(elastic_parse, search_total_as_object_or_number) {
    auto as_number = search(search_answer("7", "[]"));
    ASSERT_TRUE(as_number);
    EXPECT_EQ(as_number->total, 7u);
    EXPECT_TRUE(as_number->hits.empty());
    auto gte = search(search_answer(R"({"value":10000,"relation":"gte"})", "[]"));
    ASSERT_TRUE(gte);
    EXPECT_EQ(gte->total, 10000u);
    auto big = search(search_answer("18446744073709551615", "[]"));
    ASSERT_TRUE(big);
    EXPECT_EQ(big->total, 18446744073709551615ULL);
    auto whole_double = search(search_answer("3.0", "[]"));
    ASSERT_TRUE(whole_double);
    EXPECT_EQ(whole_double->total, 3u);
    for (std::string total :
         {"-1", "1.5", "\"3\"", "null", "true", "[]", "{}", R"({"value":"3"})", R"({"value":-3})",
          R"({"relation":"eq"})", "99999999999999999999999", "1.8446744073709552e19", "1e300", "1e400"}) {
        auto s = search(search_answer(total, "[]"));
        ASSERT_FALSE(s) << total;
        expect_unreadable(s.error());
    }
    auto missing = search(R"({"hits":{"hits":[]}})");
    ASSERT_FALSE(missing);
    expect_unreadable(missing.error());
}

TEST(elastic_parse, search_without_a_hits_list_is_unreadable) {
    for (
        const char* body :
        {R"({})", R"({"hits":null})", R"({"hits":[]})", R"({"hits":"none"})", R"({"hits":{"total":1}})",
         R"({"hits":{"total":1,"hits":{}}})", R"({"hits":{"total":1,"hits":"[]"}})",
         R"({"hits":{"total":1,"hits":null}})",
         R"({"error":{"type":"search_phase_execution_exception","reason":"all shards failed"},"status":400})"}) {
        auto s = search(body);
        ASSERT_FALSE(s) << body;
        expect_unreadable(s.error());
    }
}

TEST(elastic_parse, search_hits_without_a_readable_source_are_unreadable) {
    for (std::string h : {std::string("42"),
                          std::string("null"),
                          std::string("[]"),
                          std::string("\"hit\""),
                          std::string(R"({"_id":"1:1:1"})"),
                          hit("null"),
                          hit("[]"),
                          hit("\"src\""),
                          hit(R"({"body":"no number"})"),
                          hit(R"({"number":3})"),
                          hit(R"({"number":"3","body":"x"})"),
                          hit(R"({"number":-3,"body":"x"})"),
                          hit(R"({"number":3.5,"body":"x"})"),
                          hit(R"({"number":1e30,"body":"x"})"),
                          hit(R"({"number":3,"body":null})"),
                          hit(R"({"number":3,"body":42})"),
                          hit(R"({"number":3,"body":["x"]})"),
                          hit(R"({"number":3,"body":"x","created_at":"yesterday"})"),
                          hit(R"({"number":3,"body":"x","updated_at":{}})"),
                          hit(R"({"number":3,"body":"x","created_at":18446744073709551615})"),
                          hit(R"({"number":3,"body":"x","created_at":1e300})")}) {
        auto s = search(search_answer("1", "[" + h + "]"));
        ASSERT_FALSE(s) << h;
        expect_unreadable(s.error());
    }
}

TEST(elastic_parse, search_source_without_timestamps_reads_zero) {
    auto s = search(search_answer("1", "[" + hit(R"({"number":3,"body":"x"})") + "]"));
    ASSERT_TRUE(s);
    ASSERT_EQ(s->hits.size(), 1u);
    EXPECT_EQ(s->hits[0].created_at_ms, 0);
    EXPECT_EQ(s->hits[0].updated_at_ms, 0);
    auto negative = search(search_answer("1", "[" + hit(R"({"number":3,"body":"x","created_at":-5})") + "]"));
    ASSERT_TRUE(negative);
    EXPECT_EQ(negative->hits[0].created_at_ms, -5);
    auto big = search(search_answer("1", "[" + hit(R"({"number":18446744073709551615,"body":""})") + "]"));
    ASSERT_TRUE(big);
    EXPECT_EQ(big->hits[0].number, 18446744073709551615ULL);
    EXPECT_EQ(big->hits[0].body, "");
}

TEST(elastic_parse, search_highlight_of_another_shape_is_ignored) {
    for (std::string hl :
         {R"(,"highlight":null)", R"(,"highlight":"<em>x</em>")", R"(,"highlight":[])", R"(,"highlight":{})",
          R"(,"highlight":{"body":null})", R"(,"highlight":{"body":"<em>x</em>"})",
          R"(,"highlight":{"body":[]})", R"(,"highlight":{"body":[42]})",
          R"(,"highlight":{"body":[["<em>x</em>"]]})", R"(,"highlight":{"body":{"0":"<em>x</em>"}})",
          R"(,"highlight":{"other":["x"]})"}) {
        auto s = search(search_answer("1", "[" + hit(good_source, hl) + "]"));
        ASSERT_TRUE(s) << hl;
        ASSERT_EQ(s->hits.size(), 1u);
        EXPECT_EQ(s->hits[0].highlight, "") << hl;
        EXPECT_EQ(s->hits[0].body, "hello");
    }
    auto second =
        search(search_answer("1", "[" + hit(good_source, R"(,"highlight":{"body":["a","b"]})") + "]"));
    ASSERT_TRUE(second);
    EXPECT_EQ(second->hits[0].highlight, "a");
}

TEST(elastic_parse, search_unknown_members_are_ignored) {
    auto s = search(R"({"_shards":{"total":1,"failed":0},"hits":{"total":{"value":1},"hits":[)" +
                    hit(R"({"number":3,"body":"x","extra":{"deep":[1,2,3]},"app_id":"whatever"})",
                        R"(,"sort":[1.0,3],"_routing":"7:1")") +
                    R"(],"unknown":true},"aggregations":null})");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->total, 1u);
    ASSERT_EQ(s->hits.size(), 1u);
    EXPECT_EQ(s->hits[0].number, 3u);
}

TEST(elastic_parse, search_partial_answers_are_unavailable_not_short_pages) {
    const std::string hits = ",\"hits\":{\"total\":{\"value\":1},\"hits\":[" + hit(good_source) + "]}}";
    auto failed = search(R"({"timed_out":false,"_shards":{"total":2,"successful":1,"failed":1})" + hits);
    ASSERT_FALSE(failed);
    expect_unreadable(failed.error());
    EXPECT_NE(failed.error().message.find("1 shard(s) failed"), std::string::npos) << failed.error().message;

    auto timed_out = search(R"({"timed_out":true,"_shards":{"total":1,"successful":1,"failed":0})" + hits);
    ASSERT_FALSE(timed_out);
    expect_unreadable(timed_out.error());

    // A whole answer, and members of other shapes (not ours to judge), read as before.
    for (const std::string head : {R"({"timed_out":false,"_shards":{"total":1,"successful":1,"failed":0})",
                                   R"({"timed_out":"no","_shards":{"failed":"none"})", R"({"_shards":[1])"}) {
        auto whole = search(head + hits);
        ASSERT_TRUE(whole) << head;
        EXPECT_EQ(whole->hits.size(), 1u);
    }
}

TEST(elastic_parse, alias_answer_lists_the_indices_sorted) {
    auto a = aliases(R"({"messages_v2":{"aliases":{"messages":{}}},"messages_v1":{"aliases":{}}})");
    ASSERT_TRUE(a);
    EXPECT_EQ(*a, (std::vector<std::string>{"messages_v1", "messages_v2"}));
    auto none = aliases("{}");
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->empty());
    auto odd = aliases(R"({"messages_v1":null,"messages_v3":42})");
    ASSERT_TRUE(odd);
    EXPECT_EQ(odd->size(), 2u);
}

TEST(elastic_parse, unreadable_messages_carry_no_answer_text) {
    // The description is ours: nothing of the answer (which may hold a query or an id) is copied.
    auto s = search(R"({"hits":{"total":1,"hits":[{"_source":{"number":"secret-app-id-12345"}}]}})");
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().message.find("secret"), std::string::npos);
    auto b = bulk(R"({"query":"secret-query"})");
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error().message.find("secret"), std::string::npos);
}

TEST(elastic_parse, mapping_versions_default_to_one) {
    auto v = chat::store::parse_mapping_versions(
        R"({"messages_v3":{"mappings":{"_meta":{"mapping_version":2},"properties":{}}},)"
        R"("messages_v1":{"mappings":{"properties":{}}},"odd":{"mappings":{"_meta":{"mapping_version":"2"}}},)"
        R"("neg":{"mappings":{"_meta":{"mapping_version":-4}}},"null":null})");
    ASSERT_TRUE(v);
    using iv = chat::store::index_version;
    EXPECT_EQ(*v,
              (std::vector<iv>{{"messages_v1", 1}, {"messages_v3", 2}, {"neg", 1}, {"null", 1}, {"odd", 1}}));
    EXPECT_FALSE(chat::store::parse_mapping_versions("[1]"));
    EXPECT_FALSE(chat::store::parse_mapping_versions("<html>"));
}

TEST(elastic_parse, document_shape_follows_the_mapping_version) {
    chat::store::message_doc d{7, 3, 12, "Un CAFÉ noir", 1000, 2000};
    auto v1 = boost::json::parse(chat::store::document_source(d, 1)).as_object();
    EXPECT_FALSE(v1.contains("grams"));
    EXPECT_FALSE(v1.contains("chat"));
    EXPECT_EQ(v1.at("body").as_string(), "Un CAFÉ noir");
    auto v2 = boost::json::parse(chat::store::document_source(d, 2)).as_object();
    EXPECT_EQ(v2.at("chat").as_string(), "7:3");
    EXPECT_EQ(v2.at("body").as_string(), "Un CAFÉ noir");
    auto has = [&](const char* field, const char* term) {
        for (const auto& t : v2.at(field).as_array())
            if (t.as_string() == term) return true;
        return false;
    };
    EXPECT_TRUE(has("words", "cafe"));
    EXPECT_TRUE(has("grams", "af"));
    EXPECT_FALSE(has("grams", "é"));
    EXPECT_EQ(v2.at("suffixes").as_array().size(), 0u);
    // Version 3: the terms as one space-separated string each; every suffix keyed by the chat.
    auto v3 = boost::json::parse(chat::store::document_source(d, 3)).as_object();
    EXPECT_EQ(v3.at("chat").as_string(), "7:3");
    EXPECT_FALSE(v3.contains("grams"));
    EXPECT_EQ(v3.at("words").as_string(), "cafe noir un");
    EXPECT_EQ(v3.at("suffixes").as_string(),
              "7:3|afe 7:3|cafe 7:3|e 7:3|fe 7:3|ir 7:3|n 7:3|noir 7:3|oir 7:3|r 7:3|un");
}

TEST(elastic_parse, search_body_v2_is_term_lookups_only) {
    auto body = chat::store::search_body(2, 7, 3, {"ell", "internation"}, 20, 10,
                                         chat::store::search_order::relevance);
    EXPECT_EQ(body.find("wildcard"), std::string::npos);
    EXPECT_NE(body.find(R"({"term":{"chat":"7:3"}})"), std::string::npos);
    EXPECT_NE(body.find(R"({"term":{"grams":"ell"}})"), std::string::npos);
    EXPECT_NE(body.find(R"({"prefix":{"suffixes":"internation"}})"), std::string::npos);
    EXPECT_NE(body.find(R"({"term":{"words":"ell"}})"), std::string::npos);
    auto v1 = chat::store::search_body(1, 7, 3, {"ell"}, 0, 10, chat::store::search_order::number);
    EXPECT_NE(v1.find(R"("value":"*ell*")"), std::string::npos);
    EXPECT_NE(v1.find(R"({"number":"asc"})"), std::string::npos);
}

TEST(elastic_parse, search_body_v3_is_prefixes_among_the_chats_own_suffixes) {
    auto body = chat::store::search_body(3, 7, 3, {"ell", "internation"}, 20, 10,
                                         chat::store::search_order::relevance);
    EXPECT_EQ(body.find("wildcard"), std::string::npos);
    EXPECT_EQ(body.find("grams"), std::string::npos);
    EXPECT_NE(body.find(R"({"term":{"chat":"7:3"}})"), std::string::npos);
    EXPECT_NE(body.find(R"({"prefix":{"suffixes":"7:3|ell"}})"), std::string::npos);
    EXPECT_NE(body.find(R"({"prefix":{"suffixes":"7:3|internation"}})"), std::string::npos);
    EXPECT_NE(body.find(R"({"term":{"words":"ell"}})"), std::string::npos);
}

TEST(elastic_parse, index_definition_records_the_mapping_version) {
    auto def = boost::json::parse(chat::store::elastic_client::index_definition("messages")).as_object();
    const auto& m = def.at("mappings").as_object();
    EXPECT_EQ(m.at("_meta").at("mapping_version").to_number<int>(), chat::store::current_mapping_version);
    EXPECT_TRUE(def.at("aliases").as_object().contains("messages_write"));
}

TEST(elastic_parse, search_body_orders_and_time_bounds) {
    using chat::store::search_order;
    chat::store::search_options o{search_order::newest};
    o.since_ms = 1000;
    o.until_ms = 2000;
    auto body = chat::store::search_body(2, 7, 3, {"ell"}, 0, 10, o);
    EXPECT_NE(body.find(R"({"range":{"created_at":{"gte":1000,"lt":2000}}})"), std::string::npos);
    EXPECT_NE(body.find(R"("sort":[{"created_at":"desc"},{"number":"desc"}])"), std::string::npos);
    chat::store::search_options only_until{search_order::oldest};
    only_until.until_ms = 5;
    body = chat::store::search_body(1, 7, 3, {"ell"}, 0, 10, only_until);
    EXPECT_NE(body.find(R"({"range":{"created_at":{"lt":5}}})"), std::string::npos);
    EXPECT_NE(body.find(R"("sort":[{"created_at":"asc"},{"number":"asc"}])"), std::string::npos);
    body = chat::store::search_body(2, 7, 3, {"ell"}, 0, 10, search_order::relevance);
    EXPECT_EQ(body.find("range"), std::string::npos);
    EXPECT_NE(body.find(R"("sort":[{"_score":"desc"},{"number":"desc"}])"), std::string::npos);
}

TEST(elastic_parse, index_definition_takes_the_shard_and_replica_counts) {
    auto def = boost::json::parse(chat::store::elastic_client::index_definition("messages", false, {4, 1}))
                   .as_object();
    EXPECT_EQ(def.at("settings").at("number_of_shards").to_number<int>(), 4);
    EXPECT_EQ(def.at("settings").at("number_of_replicas").to_number<int>(), 1);
    auto single = boost::json::parse(chat::store::elastic_client::index_definition("messages")).as_object();
    EXPECT_EQ(single.at("settings").at("number_of_replicas").to_number<int>(), 0);
    EXPECT_TRUE(def.at("mappings").at("_routing").at("required").as_bool());
}

TEST(elastic_nodes, a_url_list_is_split_into_nodes) {
    using chat::store::split_node_urls;
    EXPECT_EQ(split_node_urls("http://a:9200/"), (std::vector<std::string>{"http://a:9200"}));
    EXPECT_EQ(split_node_urls("http://a:9200, http://b:9201/,,"),
              (std::vector<std::string>{"http://a:9200", "http://b:9201"}));
    EXPECT_TRUE(split_node_urls("").empty());
}
