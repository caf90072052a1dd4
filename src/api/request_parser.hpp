#pragma once
// Reading one request: Beast's parser plus the framing rules of RFC 9110/9112 that Beast leaves to
// its user. Owns nothing but the request being parsed; used by one session at a time, on its strand.
//
// What this adds to Beast:
// - Transfer-Encoding: only `chunked`, as the final coding, never beside Content-Length and never in
//   HTTP/1.0 (RFC 9112 §6.1, §6.3). Anything else is refused before a byte of the body is read, so a
//   body can never be served as a second request (request smuggling).
// - Host: exactly one, of valid syntax, in every HTTP/1.1 request (RFC 9112 §3.2).
// - absolute-form targets (`GET http://host/path`) become origin-form (RFC 9112 §3.2.2).
// - Trailer fields and chunk extensions are bounded by the header limit and then discarded
//   (RFC 9110 §6.5.1 lets a recipient drop trailers; we use none), and a field Beast cannot hold is a
//   431, never an exception.
// The pure checks are exposed for unit tests; request_parser applies them while Beast parses.
#include <boost/beast/http.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace chat::api {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;

// RFC 9112 §6.1-6.3 for the combined Transfer-Encoding field value of a request: nothing when the
// framing is chunked-last (or there is no Transfer-Encoding), else the error to answer with before
// closing: 400 for a malformed list, chunked not last or repeated, Content-Length beside it or
// HTTP/1.0; 501 (not_implemented) for a coding we do not implement.
// `present`: the field was sent at all (an empty value is not the same as no field: it is malformed).
std::optional<core::error> check_transfer_encoding(bool present, std::string_view te, bool has_content_length,
                                                   unsigned version);
// RFC 9110 §7.2 / RFC 3986: uri-host [ ":" port ], non-empty, no userinfo.
bool is_valid_host(std::string_view host);
// The origin-form of a request target: origin-form as it is, absolute-form (http or https) reduced to
// path and query; an error for anything else (authority-form, asterisk-form, garbage).
core::result<std::string> origin_form(std::string_view target);
// The Expect field: none, 100-continue (HTTP/1.1 only; ignored in HTTP/1.0 as RFC 9110 §10.1.1
// says) or one we cannot meet (417).
enum class expectation { none, continue_100, unsupported };
expectation expectation_of(const request& req);

class request_parser : public http::basic_parser<true> {
  public:
    request_parser(std::size_t header_limit, std::size_t body_limit);

    request& get() { return req_; }
    request release() { return std::move(req_); }
    // When a parse step failed on one of our rules: the answer to send (then close).
    const std::optional<core::error>& rejection() const { return rejection_; }
    // The answer for a read that ended with `ec` (not a disconnect): our rejection if there is one,
    // else Beast's error mapped to 400, 413 or 431.
    core::error error_for(const boost::beast::error_code& ec) const;

  private:
    void on_request_impl(http::verb method, boost::beast::string_view method_str,
                         boost::beast::string_view target, int version,
                         boost::beast::error_code& ec) override;
    void on_response_impl(int, boost::beast::string_view, int, boost::beast::error_code& ec) override;
    void on_field_impl(http::field name, boost::beast::string_view name_str, boost::beast::string_view value,
                       boost::beast::error_code& ec) override;
    void on_header_impl(boost::beast::error_code& ec) override;
    void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                           boost::beast::error_code& ec) override;
    std::size_t on_body_impl(boost::beast::string_view body, boost::beast::error_code& ec) override;
    void on_chunk_header_impl(std::uint64_t size, boost::beast::string_view extensions,
                              boost::beast::error_code& ec) override;
    std::size_t on_chunk_body_impl(std::uint64_t remain, boost::beast::string_view body,
                                   boost::beast::error_code& ec) override;
    void on_finish_impl(boost::beast::error_code& ec) override;

    void reject(core::error err, boost::beast::error_code& ec);

    request req_;
    std::size_t header_limit_;
    std::size_t body_limit_;
    std::size_t extension_bytes_ = 0;  // chunk extensions and trailer fields seen so far
    bool in_trailer_ = false;          // the header is done: fields now are trailer fields
    int host_count_ = 0;
    std::string host_;
    bool has_transfer_encoding_ = false;
    std::string transfer_encoding_;  // all Transfer-Encoding lines, comma-joined
    bool has_content_length_ = false;
    std::optional<core::error> rejection_;
};

}  // namespace chat::api
