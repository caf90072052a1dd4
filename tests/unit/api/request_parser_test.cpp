#include "api/request_parser.hpp"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>

using namespace chat;
using core::errc;

namespace {

// Feeds `raw` to a parser the way the server does (all of it at once) and returns the parser.
struct parsed {
    api::request_parser parser{16 * 1024, 64 * 1024};
    boost::beast::error_code ec;
};

std::unique_ptr<parsed> parse(std::string_view raw) {
    auto p = std::make_unique<parsed>();
    p->parser.eager(true);
    std::size_t used = 0;
    while (used < raw.size() && !p->parser.is_done()) {
        auto n = p->parser.put(boost::asio::buffer(raw.data() + used, raw.size() - used), p->ec);
        if (p->ec) break;
        used += n;
        if (n == 0) break;
    }
    return p;
}

}  // namespace

TEST(transfer_encoding, chunked_last_is_the_only_framing_accepted) {
    EXPECT_FALSE(api::check_transfer_encoding(false, "", false, 11));
    EXPECT_FALSE(api::check_transfer_encoding(true, "chunked", false, 11));
    EXPECT_FALSE(api::check_transfer_encoding(true, "Chunked", false, 11));
    EXPECT_FALSE(api::check_transfer_encoding(true, " chunked ,", false, 11));
}

TEST(transfer_encoding, unknown_codings_are_not_implemented) {
    for (auto te : {"gzip", "xchunked", "identity", "gzip, chunked", "deflate,chunked"}) {
        auto e = api::check_transfer_encoding(true, te, false, 11);
        ASSERT_TRUE(e) << te;
        EXPECT_EQ(e->code, errc::not_implemented) << te;
    }
}

TEST(transfer_encoding, misplaced_or_malformed_chunked_is_bad_request) {
    for (auto te : {"chunked, gzip", "chunked, chunked", "\"chunked\"", ",", "chunked;q=1", "chu nked",
                    "chunked, x y"}) {
        auto e = api::check_transfer_encoding(true, te, false, 11);
        ASSERT_TRUE(e) << te;
        EXPECT_EQ(e->code, errc::bad_request) << te;
    }
    auto with_length = api::check_transfer_encoding(true, "chunked", true, 11);
    ASSERT_TRUE(with_length);
    EXPECT_EQ(with_length->code, errc::bad_request);
    auto http10 = api::check_transfer_encoding(true, "chunked", false, 10);
    ASSERT_TRUE(http10);
    EXPECT_EQ(http10->code, errc::bad_request);
}

TEST(host, syntax_of_rfc_3986) {
    for (auto h : {"localhost", "127.0.0.1", "127.0.0.1:8080", "[::1]", "[::1]:80", "a.b-c.example", "h:"})
        EXPECT_TRUE(api::is_valid_host(h)) << h;
    for (auto h : {"", "a b", "user@h", "h:x", "[::1", "h/path", "h?q", ":80", "h:80:81"})
        EXPECT_FALSE(api::is_valid_host(h)) << h;
}

TEST(origin_form, absolute_form_becomes_path_and_query) {
    EXPECT_EQ(*api::origin_form("/a?b=1"), "/a?b=1");
    EXPECT_EQ(*api::origin_form("http://h:8080/healthz"), "/healthz");
    EXPECT_EQ(*api::origin_form("HTTPS://h/a/b?x=1&y"), "/a/b?x=1&y");
    EXPECT_EQ(*api::origin_form("http://h"), "/");
    EXPECT_FALSE(api::origin_form("*"));
    EXPECT_FALSE(api::origin_form("h:80"));
    EXPECT_FALSE(api::origin_form("ftp://h/a"));
    EXPECT_FALSE(api::origin_form("http:///a"));
    EXPECT_FALSE(api::origin_form(""));
}

TEST(request_parser, parses_a_plain_request) {
    auto p = parse("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n{}");
    ASSERT_FALSE(p->ec) << p->ec.message();
    ASSERT_TRUE(p->parser.is_done());
    EXPECT_EQ(p->parser.get().body(), "{}");
    EXPECT_EQ(p->parser.get().target(), "/x");
}

TEST(request_parser, rejects_smuggling_before_the_body) {
    auto p = parse("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\nGET / HTTP/1.1\r\n\r\n");
    ASSERT_TRUE(p->ec);
    ASSERT_TRUE(p->parser.rejection());
    EXPECT_EQ(p->parser.error_for(p->ec).code, errc::not_implemented);
    EXPECT_TRUE(p->parser.get().body().empty());
}

TEST(request_parser, host_rules) {
    auto none = parse("GET / HTTP/1.1\r\n\r\n");
    ASSERT_TRUE(none->ec);
    ASSERT_TRUE(none->parser.rejection());
    EXPECT_EQ(none->parser.error_for(none->ec).code, errc::bad_request);
    auto two = parse("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(two->ec);
    ASSERT_TRUE(two->parser.rejection());
    EXPECT_EQ(two->parser.error_for(two->ec).code, errc::bad_request);
    auto none10 = parse("GET / HTTP/1.0\r\n\r\n");
    EXPECT_FALSE(none10->ec);
    EXPECT_TRUE(none10->parser.is_done());
}

TEST(request_parser, an_empty_transfer_encoding_is_no_framing_at_all) {
    auto p = parse("POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\nGET / HTTP/1.1\r\n\r\n");
    ASSERT_TRUE(p->ec);
    ASSERT_TRUE(p->parser.rejection());
    EXPECT_EQ(p->parser.error_for(p->ec).code, errc::bad_request);
}

TEST(request_parser, absolute_form_target_is_rewritten) {
    auto p = parse("GET http://h:1/healthz?a=b HTTP/1.1\r\nHost: other\r\n\r\n");
    ASSERT_FALSE(p->ec) << p->ec.message();
    EXPECT_EQ(p->parser.get().target(), "/healthz?a=b");
}

TEST(request_parser, trailers_are_dropped_and_bounded) {
    auto ok = parse(
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: 1\r\n\r\n");
    ASSERT_FALSE(ok->ec) << ok->ec.message();
    EXPECT_TRUE(ok->parser.is_done());
    EXPECT_EQ(ok->parser.get().body(), "{}");
    EXPECT_EQ(ok->parser.get().find("X-T"), ok->parser.get().end());
    // A trailer above the header limit (and above what basic_fields can hold) is an error, not a throw.
    std::string big =
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Big: " +
        std::string(200000, 'a') + "\r\n\r\n";
    auto p = parse(big);
    ASSERT_TRUE(p->ec);
    EXPECT_EQ(p->parser.error_for(p->ec).code, errc::headers_too_large);
}

TEST(request_parser, chunk_extensions_are_bounded) {
    std::string raw = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 40; ++i) raw += "1;" + std::string(1000, 'e') + "\r\nx\r\n";
    raw += "0\r\n\r\n";
    auto p = parse(raw);
    ASSERT_TRUE(p->ec);
    EXPECT_EQ(p->parser.error_for(p->ec).code, errc::headers_too_large);
}

TEST(request_parser, body_limit_by_content_length) {
    auto p = parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100000000\r\n\r\n");
    ASSERT_TRUE(p->ec);
    EXPECT_EQ(p->parser.error_for(p->ec).code, errc::payload_too_large);
}

TEST(expectation, only_100_continue_in_http11) {
    api::request r{boost::beast::http::verb::post, "/", 11};
    EXPECT_EQ(api::expectation_of(r), api::expectation::none);
    r.set(boost::beast::http::field::expect, "100-Continue");
    EXPECT_EQ(api::expectation_of(r), api::expectation::continue_100);
    r.set(boost::beast::http::field::expect, "teapot");
    EXPECT_EQ(api::expectation_of(r), api::expectation::unsupported);
    r.version(10);
    EXPECT_EQ(api::expectation_of(r), api::expectation::none);
}
