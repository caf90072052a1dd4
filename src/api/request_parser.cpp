#include "api/request_parser.hpp"

#include <spdlog/spdlog.h>

#include <boost/url/authority_view.hpp>
#include <boost/url/parse.hpp>
#include <stdexcept>

namespace chat::api {

namespace beast = boost::beast;
using core::errc;
using core::make_error;

namespace {

bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_tchar(c)) return false;
    return true;
}

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

std::optional<core::error> check_transfer_encoding(bool present, std::string_view te, bool has_content_length,
                                                   unsigned version) {
    if (!present) return std::nullopt;
    if (version < 11)
        return make_error(errc::bad_request, "Transfer-Encoding is not allowed in an HTTP/1.0 request");
    int codings = 0;
    int chunked_at = -1;
    bool chunked_twice = false;
    bool unknown = false;
    std::size_t i = 0;
    while (i <= te.size()) {
        auto comma = te.find(',', i);
        if (comma == std::string_view::npos) comma = te.size();
        auto element = trim_ows(te.substr(i, comma - i));
        i = comma + 1;
        if (element.empty()) continue;  // RFC 9110 §5.6.1: empty list elements are ignored
        auto name = trim_ows(element.substr(0, element.find(';')));
        if (!is_token(name)) return make_error(errc::bad_request, "Transfer-Encoding is malformed");
        if (beast::iequals(name, "chunked")) {
            // chunked takes no parameters (RFC 9112 §7.1)
            if (name.size() != element.size())
                return make_error(errc::bad_request, "Transfer-Encoding is malformed");
            chunked_twice = chunked_twice || chunked_at >= 0;
            chunked_at = codings;
        } else {
            unknown = true;
        }
        ++codings;
    }
    if (codings == 0) return make_error(errc::bad_request, "Transfer-Encoding is malformed");
    if (chunked_twice || (chunked_at >= 0 && chunked_at != codings - 1))
        return make_error(errc::bad_request, "chunked must be the final transfer coding, once");
    if (unknown) return make_error(errc::not_implemented, "only the chunked transfer coding is implemented");
    if (has_content_length)
        return make_error(errc::bad_request, "Content-Length and Transfer-Encoding must not both be sent");
    return std::nullopt;
}

bool is_valid_host(std::string_view host) {
    if (host.empty()) return false;
    auto a = boost::urls::parse_authority(host);
    if (!a || a->has_userinfo()) return false;
    return !a->encoded_host().empty();
}

core::result<std::string> origin_form(std::string_view target) {
    if (!target.empty() && target.front() == '/') return std::string(target);
    auto u = boost::urls::parse_absolute_uri(target);
    if (!u || !u->has_authority() || u->encoded_host().empty() ||
        (u->scheme_id() != boost::urls::scheme::http && u->scheme_id() != boost::urls::scheme::https))
        return make_error(errc::bad_request, "malformed request target");
    std::string out(u->encoded_path());
    if (out.empty()) out = "/";
    if (u->has_query()) {
        out += '?';
        out += u->encoded_query();
    }
    return out;
}

expectation expectation_of(const request& req) {
    auto it = req.find(http::field::expect);
    if (it == req.end()) return expectation::none;
    if (req.version() < 11) return expectation::none;
    if (beast::iequals(trim_ows(it->value()), "100-continue")) return expectation::continue_100;
    return expectation::unsupported;
}

request_parser::request_parser(std::size_t header_limit, std::size_t body_limit)
    : header_limit_(header_limit), body_limit_(body_limit) {
    this->header_limit(static_cast<std::uint32_t>(header_limit));
    this->body_limit(body_limit);
}

void request_parser::reject(core::error err, beast::error_code& ec) {
    rejection_ = std::move(err);
    ec = http::error::bad_value;  // any error stops Beast; the rejection says what to answer
}

void request_parser::on_request_impl(http::verb method, beast::string_view method_str,
                                     beast::string_view target, int version, beast::error_code& ec) {
    try {
        req_.method_string(method_str);
        req_.target(target);
    } catch (const std::length_error&) {
        return reject(make_error(errc::headers_too_large, "request line too long"), ec);
    }
    req_.version(version);
    (void)method;
}

void request_parser::on_response_impl(int, beast::string_view, int, beast::error_code& ec) {
    ec = http::error::bad_version;  // never called for a request parser
}

void request_parser::on_field_impl(http::field name, beast::string_view name_str, beast::string_view value,
                                   beast::error_code& ec) {
    if (in_trailer_) {
        // Trailer fields: bounded, then dropped.
        extension_bytes_ += name_str.size() + value.size() + 4;
        if (extension_bytes_ > header_limit_)
            return reject(make_error(errc::headers_too_large,
                                     "trailer fields exceed " + std::to_string(header_limit_) + " bytes"),
                          ec);
        return;
    }
    if (name == http::field::host) {
        ++host_count_;
        host_ = std::string(value);
    } else if (name == http::field::transfer_encoding) {
        has_transfer_encoding_ = true;
        if (!transfer_encoding_.empty()) transfer_encoding_ += ", ";
        transfer_encoding_ += value;
    } else if (name == http::field::content_length) {
        has_content_length_ = true;
    }
    try {
        req_.insert(name, name_str, value);
    } catch (const std::length_error&) {
        // basic_fields holds at most 64 KiB per field; only reachable with a header limit above that.
        return reject(make_error(errc::headers_too_large, "a header field is too large"), ec);
    }
}

void request_parser::on_header_impl(beast::error_code& ec) {
    in_trailer_ = true;
    if (auto err = check_transfer_encoding(has_transfer_encoding_, transfer_encoding_, has_content_length_,
                                           req_.version()))
        return reject(std::move(*err), ec);
    if (host_count_ > 1) return reject(make_error(errc::bad_request, "more than one Host header"), ec);
    if (req_.version() >= 11 && host_count_ == 0)
        return reject(make_error(errc::bad_request, "an HTTP/1.1 request needs a Host header"), ec);
    if (host_count_ == 1 && !is_valid_host(trim_ows(host_)))
        return reject(make_error(errc::bad_request, "the Host header is invalid"), ec);
    auto target = origin_form(req_.target());
    if (!target) return reject(target.error(), ec);
    if (*target != req_.target()) req_.target(*target);
}

void request_parser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                       beast::error_code&) {
    // Beast has checked content_length against the body limit already.
    if (content_length) req_.body().reserve(static_cast<std::size_t>(*content_length));
}

std::size_t request_parser::on_body_impl(beast::string_view body, beast::error_code&) {
    req_.body().append(body.data(), body.size());
    return body.size();
}

void request_parser::on_chunk_header_impl(std::uint64_t, beast::string_view extensions,
                                          beast::error_code& ec) {
    // Extensions are ignored (RFC 9112 §7.1.1) but bounded: the class of CVE-2024-22019.
    extension_bytes_ += extensions.size();
    if (extension_bytes_ > header_limit_)
        reject(make_error(errc::headers_too_large,
                          "chunk extensions exceed " + std::to_string(header_limit_) + " bytes"),
               ec);
}

std::size_t request_parser::on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) {
    req_.body().append(body.data(), body.size());
    return body.size();
}

void request_parser::on_finish_impl(beast::error_code&) {}

core::error request_parser::error_for(const beast::error_code& ec) const {
    if (rejection_) return *rejection_;
    if (ec == http::error::body_limit)
        return make_error(errc::payload_too_large, "body exceeds " + std::to_string(body_limit_) + " bytes");
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow)
        return make_error(errc::headers_too_large,
                          "header fields exceed " + std::to_string(header_limit_) + " bytes");
    if (ec == http::error::bad_transfer_encoding || ec == http::error::bad_content_length ||
        ec == http::error::multiple_content_length)
        return make_error(errc::bad_request, "conflicting or malformed message framing");
    // Beast's own wording stays in our logs (debug); the client reads a fixed sentence.
    spdlog::debug("malformed request: {}", ec.message());
    return make_error(errc::bad_request, "malformed HTTP request");
}

}  // namespace chat::api
