#include "domain/access.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>

#include "domain/validation.hpp"

namespace chat::domain {

namespace json = boost::json;
using core::errc;
using core::make_error;

std::string_view name_of(access_mode m) {
    return m == access_mode::restricted ? "restricted" : "open";
}

std::optional<access_mode> parse_access_mode(std::string_view text) {
    if (text == "open") return access_mode::open;
    if (text == "restricted") return access_mode::restricted;
    return std::nullopt;
}

result<std::string> validate_user_id(std::string_view raw) {
    if (raw.empty() || !is_valid_utf8(raw) || utf8_length(raw) > max_user_id_chars || !is_all_visible(raw))
        return make_error(errc::invalid_field,
                          "a user id is 1 to 128 visible characters (no spaces or control characters)");
    return std::string(raw);
}

namespace {

core::error unauthorized(std::string message) {
    return make_error(errc::unauthorized, std::move(message));
}

// A NumericDate (RFC 7519 §2: seconds since the epoch, maybe with a fraction) in milliseconds; nullopt
// unless a number between 0 and the year 9999.
std::optional<std::int64_t> numeric_date_ms(const json::value& v) {
    constexpr double max_s = 253402300799.0;  // 9999-12-31T23:59:59Z
    double s = 0;
    if (v.is_int64())
        s = static_cast<double>(v.as_int64());
    else if (v.is_uint64())
        s = static_cast<double>(v.as_uint64());
    else if (v.is_double())
        s = v.as_double();
    else
        return std::nullopt;
    if (!(s >= 0 && s <= max_s)) return std::nullopt;
    return static_cast<std::int64_t>(std::floor(s * 1000));
}

}  // namespace

result<std::string> read_credential(std::optional<std::string_view> authorization,
                                    std::optional<std::string_view> access_token) {
    std::string_view value;
    if (authorization) {
        // RFC 6750 §2.1: "Bearer" (case-insensitive, RFC 9110 §11.1) then one space and the token.
        constexpr std::string_view scheme = "bearer ";
        auto a = *authorization;
        if (a.size() <= scheme.size() ||
            !std::equal(scheme.begin(), scheme.end(), a.begin(),
                        [](char x, char y) { return x == (y >= 'A' && y <= 'Z' ? y - 'A' + 'a' : y); }))
            return unauthorized("Authorization must be \"Bearer <secret or user token>\"");
        value = a.substr(scheme.size());
    } else if (access_token) {
        value = *access_token;
        if (value.empty()) return unauthorized("access_token is empty");
    } else {
        return std::string{};
    }
    if (value.size() > max_credential_bytes) return unauthorized("the credential is too large");
    // token68 (RFC 9110 §11.2) plus the characters of base64url JWTs and our secrets.
    for (char c : value)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.' || c == '~' || c == '+' || c == '/' || c == '='))
            return unauthorized("the credential has characters no secret or token has");
    return std::string(value);
}

result<token_claims> parse_claims(std::string_view text) {
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec || !v.is_object()) return unauthorized("the token's claims are not a JSON object");
    const auto& o = v.as_object();
    token_claims c;
    const auto* sub = o.if_contains("sub");
    if (sub == nullptr || !sub->is_string()) return unauthorized("the token has no sub");
    auto user = validate_user_id(sub->as_string());
    if (!user) return unauthorized("the token's sub is not a valid user id");
    c.sub = std::move(*user);
    const auto* exp = o.if_contains("exp");
    auto exp_ms = exp ? numeric_date_ms(*exp) : std::nullopt;
    if (!exp_ms) return unauthorized("the token has no valid exp");
    c.expires_at_ms = *exp_ms;
    if (const auto* nbf = o.if_contains("nbf")) {
        c.not_before_ms = numeric_date_ms(*nbf);
        if (!c.not_before_ms) return unauthorized("the token's nbf is not a date");
    }
    if (const auto* iat = o.if_contains("iat")) {
        c.issued_at_ms = numeric_date_ms(*iat);
        if (!c.issued_at_ms) return unauthorized("the token's iat is not a date");
    }
    if (const auto* chats = o.if_contains("chats")) {
        if (!chats->is_array() || chats->as_array().size() > max_chats_claim)
            return unauthorized("the token's chats is not a list of at most 1000 chat numbers");
        std::vector<std::uint64_t> numbers;
        for (const auto& n : chats->as_array()) {
            std::uint64_t x = 0;
            if (n.is_uint64())
                x = n.as_uint64();
            else if (n.is_int64() && n.as_int64() > 0)
                x = static_cast<std::uint64_t>(n.as_int64());
            if (x == 0 || x > (1ULL << 53))
                return unauthorized("the token's chats holds something else than chat numbers");
            numbers.push_back(x);
        }
        c.chats = std::move(numbers);
    }
    return c;
}

result<void> check_claims(const token_claims& c, std::int64_t now_ms, std::int64_t revoked_before_ms) {
    if (now_ms >= c.expires_at_ms + clock_leeway_ms) return unauthorized("the user token has expired");
    if (c.not_before_ms && now_ms + clock_leeway_ms < *c.not_before_ms)
        return unauthorized("the user token is not valid yet");
    if (revoked_before_ms > 0 && (!c.issued_at_ms || *c.issued_at_ms < revoked_before_ms))
        return unauthorized("the user token was revoked");
    return {};
}

result<principal> authenticate_secret(const app_access& app, std::string_view secret) {
    auto presented = core::sha256(secret);
    // Every stored hash is compared, each in constant time: the time says nothing of which matched.
    const secret_record* found = nullptr;
    for (const auto& s : app.secrets)
        if (core::constant_time_equal(presented, s.hash)) found = &s;
    if (found == nullptr) return unauthorized("the credential is not valid for this application");
    principal p;
    p.who = principal::kind::secret;
    p.secret_id = found->id;
    return p;
}

result<verified_token> verify_user_token(const app_access& app, std::string_view jwt) {
    auto header = core::read_jwt_header(jwt);
    if (!header) return header.error();
    // The only algorithm we accept: none, RS256 (public-key confusion) and the rest are refused here,
    // before any key is used.
    if (header->alg != "HS256") return unauthorized("user tokens are signed with HS256");
    auto fail = unauthorized("the credential is not valid for this application");
    for (const auto& s : app.secrets) {
        if (!header->kid.empty() && header->kid != s.id) continue;
        auto claims_json = core::verify_hs256(jwt, s.hash);
        if (!claims_json) continue;
        auto claims = parse_claims(*claims_json);
        if (!claims) return claims.error();
        return verified_token{std::move(*claims), s.id};
    }
    return fail;
}

principal user_principal(const verified_token& token) {
    principal p;
    p.who = principal::kind::user;
    p.user = token.claims.sub;
    p.chats = token.claims.chats;
    p.secret_id = token.secret_id;
    p.issued_at_ms = token.claims.issued_at_ms.value_or(0);
    p.expires_at_ms = token.claims.expires_at_ms;
    return p;
}

std::string_view name_of(action a) {
    switch (a) {
        case action::read_app:
            return "read_app";
        case action::rename_app:
            return "rename_app";
        case action::configure_app:
            return "configure_app";
        case action::manage_secrets:
            return "manage_secrets";
        case action::manage_webhooks:
            return "manage_webhooks";
        case action::manage_users:
            return "manage_users";
        case action::create_chat:
            return "create_chat";
        case action::list_chats:
            return "list_chats";
        case action::read_chat:
            return "read_chat";
        case action::write_chat:
            return "write_chat";
        case action::manage_members:
            return "manage_members";
        case action::delete_chat:
            return "delete_chat";
    }
    return "unknown";
}

bool is_chat_action(action a) {
    return a == action::read_chat || a == action::write_chat || a == action::manage_members ||
           a == action::delete_chat;
}

namespace {
// What only the secret may do, in either mode.
bool secret_only(action a) {
    return a == action::configure_app || a == action::manage_secrets || a == action::manage_webhooks ||
           a == action::manage_users || a == action::manage_members;
}
}  // namespace

bool needs_membership(const principal& p, action a, access_mode mode) {
    return p.is_user() && mode == access_mode::restricted &&
           (a == action::read_chat || a == action::write_chat);
}

verdict decide(const principal& p, action a, access_mode mode, std::optional<std::uint64_t> chat,
               bool member) {
    switch (p.who) {
        case principal::kind::secret:
            return verdict::allow;
        case principal::kind::anonymous:
            // Open: the reference API, unchanged; what only the secret may do asks for it.
            if (mode == access_mode::restricted || secret_only(a)) return verdict::unauthorized;
            return verdict::allow;
        case principal::kind::user:
            break;
    }
    // A chat's deletion erases every member's messages: the application's to decide, not a user's.
    if (secret_only(a) || a == action::rename_app || a == action::delete_chat) return verdict::forbidden;
    // A token limited to some chats works in those; it does not make new ones.
    if (a == action::create_chat) return p.chats ? verdict::forbidden : verdict::allow;
    if (a != action::read_chat && a != action::write_chat) return verdict::allow;
    if (mode == access_mode::open) return verdict::allow;
    bool in_claim =
        !p.chats || (chat && std::find(p.chats->begin(), p.chats->end(), *chat) != p.chats->end());
    // Not reachable looks exactly like not there.
    return in_claim && member ? verdict::allow : verdict::not_found;
}

core::error refusal(verdict v, std::string_view not_found_message) {
    switch (v) {
        case verdict::unauthorized:
            return make_error(errc::unauthorized,
                              "this needs a credential of the application: Authorization: Bearer <its secret "
                              "or a user token>");
        case verdict::forbidden:
            return make_error(errc::forbidden, "this credential may not do that");
        case verdict::not_found:
        case verdict::allow:
            break;
    }
    return make_error(errc::not_found, std::string(not_found_message));
}

verdict may_change_message(const principal& p, const std::optional<std::string>& sender) {
    if (!p.is_user()) return verdict::allow;
    return sender && *sender == p.user ? verdict::allow : verdict::forbidden;
}

namespace {
std::string_view name_of(access_event::kind k) {
    switch (k) {
        case access_event::kind::member:
            return "member";
        case access_event::kind::user:
            return "user";
        case access_event::kind::app:
            break;
    }
    return "app";
}
}  // namespace

std::string encode(const access_event& e) {
    json::object o{{"kind", name_of(e.what)}, {"token", e.token}, {"app_id", e.app_id}};
    if (e.what == access_event::kind::member) {
        o["chat"] = e.chat;
        o["user"] = e.user;
        o["removed"] = e.removed;
    } else if (e.what == access_event::kind::user) {
        o["user"] = e.user;
        o["before"] = e.before_ms;
    } else {
        o["restricted"] = e.restricted;
        if (!e.secret_id.empty()) o["secret_id"] = e.secret_id;
    }
    return json::serialize(o);
}

result<access_event> decode_access_event(std::string_view text) {
    auto bad = make_error(errc::bad_request, "not an access event");
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    const auto* o = ec ? nullptr : v.if_object();
    if (o == nullptr) return bad;
    auto string_of = [&](std::string_view k) -> std::optional<std::string> {
        const auto* f = o->if_contains(k);
        if (f == nullptr || !f->is_string()) return std::nullopt;
        return std::string(f->as_string());
    };
    auto u64_of = [&](std::string_view k) -> std::optional<std::uint64_t> {
        const auto* f = o->if_contains(k);
        if (f && f->is_uint64()) return f->as_uint64();
        if (f && f->is_int64() && f->as_int64() >= 0) return static_cast<std::uint64_t>(f->as_int64());
        return std::nullopt;
    };
    access_event e;
    auto kind = string_of("kind");
    auto token = string_of("token");
    auto app_id = u64_of("app_id");
    if (!kind || !token || !app_id) return bad;
    e.token = std::move(*token);
    e.app_id = *app_id;
    if (*kind == "app") {
        e.what = access_event::kind::app;
        e.secret_id = string_of("secret_id").value_or("");
        const auto* restricted = o->if_contains("restricted");
        if (restricted == nullptr || !restricted->is_bool()) return bad;
        e.restricted = restricted->as_bool();
    } else if (*kind == "member") {
        e.what = access_event::kind::member;
        auto chat = u64_of("chat");
        auto user = string_of("user");
        const auto* removed = o->if_contains("removed");
        if (!chat || !user || removed == nullptr || !removed->is_bool()) return bad;
        e.chat = *chat;
        e.user = std::move(*user);
        e.removed = removed->as_bool();
    } else if (*kind == "user") {
        e.what = access_event::kind::user;
        auto user = string_of("user");
        const auto* before = o->if_contains("before");
        if (!user || before == nullptr || !before->is_int64()) return bad;
        e.user = std::move(*user);
        e.before_ms = before->as_int64();
    } else {
        return bad;
    }
    return e;
}

bool ends_connection(const access_event& e, const principal& p, std::uint64_t chat) {
    switch (e.what) {
        case access_event::kind::app:
            // A deleted secret ends what it authenticated or signed; a restricted application keeps
            // nothing that came without a credential.
            if (!e.secret_id.empty() && p.secret_id == e.secret_id) return true;
            return e.restricted && p.who == principal::kind::anonymous;
        case access_event::kind::member:
            return e.removed && p.is_user() && p.user == e.user && chat == e.chat;
        case access_event::kind::user:
            return p.is_user() && p.user == e.user && p.issued_at_ms < e.before_ms;
    }
    return false;
}

}  // namespace chat::domain
