#include "api/handlers.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/pct_string_view.hpp>
#include <cctype>

#include "api/demo_page.hpp"
#include "api/openapi.hpp"
#include "api/views.hpp"
#include "core/crypto.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/random.hpp"
#include "core/time.hpp"
#include "domain/access.hpp"
#include "domain/lifecycle.hpp"
#include "domain/search_query.hpp"
#include "domain/validation.hpp"
#include "domain/webhook.hpp"

namespace chat::api {

namespace asio = boost::asio;
namespace json = boost::json;
using core::errc;
using core::make_error;
using core::result;

namespace {

constexpr int default_page_size = 20;

response json_response(http::status status, const json::value& body, const request& req) {
    response res{status, req.version()};
    res.set(http::field::content_type, "application/json");
    res.body() = json::serialize(body);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

// The request body as a JSON object. A missing Content-Type is tolerated (the reference accepted
// it); any other media type than JSON is refused.
result<json::object> json_body(const request& req) {
    auto ct = req[http::field::content_type];
    if (!ct.empty()) {
        auto media = ct.substr(0, ct.find(';'));
        while (!media.empty() && media.back() == ' ') media.remove_suffix(1);
        bool is_json = boost::beast::iequals(media, "application/json") ||
                       (media.size() > 5 && boost::beast::iequals(media.substr(media.size() - 5), "+json"));
        if (!is_json)
            return make_error(errc::unsupported_media_type, "Content-Type must be application/json");
    }
    boost::system::error_code ec;
    auto v = json::parse(req.body(), ec);
    if (ec) return make_error(errc::bad_request, "body is not valid JSON");
    if (!v.is_object()) return make_error(errc::bad_request, "body must be a JSON object");
    return std::move(v.as_object());
}

// A required string field.
result<std::string> string_field(const json::object& o, std::initializer_list<std::string_view> names) {
    for (auto name : names) {
        if (const auto* v = o.if_contains(name)) {
            if (!v->is_string())
                return make_error(errc::invalid_field, std::string(name) + " must be a string");
            return std::string(v->as_string());
        }
    }
    return make_error(errc::invalid_field, std::string(*names.begin()) + " is required");
}

std::optional<std::string_view> query_param(const request_context& ctx, std::string_view name) {
    auto it = ctx.query.find(name);
    if (it == ctx.query.end()) return std::nullopt;
    return std::string_view(it->second);
}

result<std::optional<std::string>> idempotency_key(const request& req) {
    auto it = req.find("Idempotency-Key");
    if (it == req.end()) return std::optional<std::string>{};
    auto k = domain::validate_idempotency_key(it->value());
    if (!k) return k.error();
    return std::optional<std::string>{*k};
}

json::object app_json(const store::app_row& a) {
    return {{"token", a.token},
            {"name", a.name},
            {"access", domain::name_of(a.access)},
            {"retention_days", a.retention_days ? json::value(*a.retention_days) : json::value(nullptr)},
            {"chats_count", a.chats_count},
            {"chat_count", a.chats_count},
            {"created_at", core::iso8601(a.created_at_ms)},
            {"updated_at", core::iso8601(a.updated_at_ms)}};
}

response no_content(const request& req) {
    response res{http::status::no_content, req.version()};
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

json::value user_or_null(const std::optional<std::string>& user) {
    if (user) return json::value(*user);
    return nullptr;
}

// A path segment of a user id, percent-decoded (ids may hold '/', ' ' is refused by the id's rule).
result<std::string> user_param(std::string_view raw) {
    auto pct = boost::urls::make_pct_string_view(raw);
    if (!pct) return make_error(errc::invalid_field, "the user id in the path is not valid percent-encoding");
    return domain::validate_user_id(pct->decode());
}

// The sender of a message created by `who`: a user speaks for itself (a body's sender is never
// trusted); the secret may name one (a bot, the system); without a credential there is none.
result<std::optional<std::string>> sender_of(const caller& who, const json::object& body) {
    if (who.who.is_user()) return std::optional<std::string>(who.who.user);
    if (!who.who.is_secret()) return std::optional<std::string>{};
    const auto* v = body.if_contains("sender");
    if (v == nullptr || v->is_null()) return std::optional<std::string>{};
    if (!v->is_string()) return make_error(errc::invalid_field, "sender must be a string");
    auto user = domain::validate_user_id(v->as_string());
    if (!user) return user.error();
    return std::optional<std::string>(std::move(*user));
}

json::object chat_json(const store::chat_row& c) {
    json::object o{{"number", c.number},
                   {"messages_count", c.messages_count},
                   {"message_count", c.messages_count},
                   {"created_at", core::iso8601(c.created_at_ms)},
                   {"updated_at", core::iso8601(c.updated_at_ms)}};
    if (c.last_read) o["last_read"] = *c.last_read;
    if (c.unread) o["unread"] = *c.unread;
    return o;
}

}  // namespace

namespace {
json::value time_or_null(const std::optional<std::int64_t>& ms) {
    if (!ms) return nullptr;
    return json::value(core::iso8601(*ms));
}
}  // namespace

json::object message_json(std::uint64_t chat_number, const store::message_row& m) {
    json::value body = nullptr;
    if (!m.deleted()) body = json::value(m.body);
    return {{"number", m.number},
            {"chat_number", chat_number},
            {"body", body},
            {"content", body},
            {"sender", user_or_null(m.sender)},
            {"version", m.version},
            {"created_at", core::iso8601(m.created_at_ms)},
            {"updated_at", core::iso8601(m.updated_at_ms)},
            {"edited_at", time_or_null(m.edited_at_ms)},
            {"deleted_at", time_or_null(m.deleted_at_ms)}};
}

store::message_row row_of(const domain::live_event& e) {
    store::message_row row{e.chat, e.number, e.body, e.created_at_ms, e.updated_at_ms, e.sender, e.version};
    row.edited_at_ms = e.edited_at_ms;
    row.deleted_at_ms = e.deleted_at_ms;
    if (e.kind == domain::live_kind::deleted && !row.deleted_at_ms) row.deleted_at_ms = e.updated_at_ms;
    return row;
}

json::object live_data(const domain::live_event& e) {
    switch (e.kind) {
        case domain::live_kind::read:
            return {{"chat_number", e.chat}, {"user", user_or_null(e.sender)}, {"last_read", e.number}};
        case domain::live_kind::chat_deleted:
            return {{"chat_number", e.chat}, {"deleted_at", core::iso8601(e.updated_at_ms)}};
        default:
            return message_json(e.chat, row_of(e));
    }
}

handlers::handlers(service& svc, live_streams* live) : svc_(svc), live_(live) {
    using http::verb;
    using a = domain::action;
    add(verb::get, "/healthz", &handlers::healthz);
    add(verb::get, "/readyz", &handlers::readyz);
    add(verb::get, "/metrics", &handlers::metrics);
    add(verb::get, "/openapi.json", &handlers::openapi);
    add(verb::get, "/demo", &handlers::demo_page);
    add(verb::get, "/demo/app.js", &handlers::demo_script);
    add(verb::get, "/demo/style.css", &handlers::demo_style);
    // The operator's (CHAT_ADMIN_TOKEN), checked in the handler: no application yet.
    add(verb::post, "/api/v1/apps", &handlers::create_app);
    // Renaming: the reference's open API; changing access asks configure_app of the caller too.
    add(verb::put, "/api/v1/apps/:token", &handlers::update_app, a::rename_app);
    // A valid handshake is handed to live_streams by the server (stream_request); this route answers
    // the rest (an unknown application 404, no handshake 426) and HEAD.
    add(verb::get, "/api/v1/apps/:token/ws", &handlers::websocket_refused, a::read_app, true);
    add(verb::get, "/api/v1/apps/:token", &handlers::get_app, a::read_app);
    add(verb::post, "/api/v1/apps/:token/secrets", &handlers::add_secret, a::manage_secrets);
    add(verb::get, "/api/v1/apps/:token/secrets", &handlers::list_secrets, a::manage_secrets);
    add(verb::delete_, "/api/v1/apps/:token/secrets/:secret", &handlers::delete_secret, a::manage_secrets);
    add(verb::post, "/api/v1/apps/:token/webhooks", &handlers::create_webhook, a::manage_webhooks);
    add(verb::get, "/api/v1/apps/:token/webhooks", &handlers::list_webhooks, a::manage_webhooks);
    add(verb::get, "/api/v1/apps/:token/webhooks/:webhook", &handlers::get_webhook, a::manage_webhooks);
    add(verb::put, "/api/v1/apps/:token/webhooks/:webhook", &handlers::update_webhook, a::manage_webhooks);
    add(verb::delete_, "/api/v1/apps/:token/webhooks/:webhook", &handlers::delete_webhook,
        a::manage_webhooks);
    add(verb::post, "/api/v1/apps/:token/webhooks/:webhook/rotate", &handlers::rotate_webhook,
        a::manage_webhooks);
    add(verb::get, "/api/v1/apps/:token/webhooks/:webhook/deliveries", &handlers::webhook_deliveries,
        a::manage_webhooks);
    add(verb::post, "/api/v1/apps/:token/webhooks/:webhook/replay", &handlers::replay_webhook,
        a::manage_webhooks);
    add(verb::post, "/api/v1/apps/:token/users/:user/tokens", &handlers::mint_token, a::manage_users);
    add(verb::post, "/api/v1/apps/:token/users/:user/revoke", &handlers::revoke_user, a::manage_users);
    add(verb::post, "/api/v1/apps/:token/chats", &handlers::create_chat, a::create_chat);
    add(verb::get, "/api/v1/apps/:token/chats", &handlers::list_chats, a::list_chats);
    add(verb::get, "/api/v1/apps/:token/chats/:chat", &handlers::get_chat, a::read_chat);
    add(verb::get, "/api/v1/apps/:token/chats/:chat/members", &handlers::list_members, a::read_chat);
    add(verb::put, "/api/v1/apps/:token/chats/:chat/members/:user", &handlers::add_member, a::manage_members);
    add(verb::delete_, "/api/v1/apps/:token/chats/:chat/members/:user", &handlers::remove_member,
        a::manage_members);
    add(verb::post, "/api/v1/apps/:token/chats/:chat/messages", &handlers::create_message, a::write_chat);
    // ?wait= makes it a long poll, which a browser's script may open with ?access_token=.
    add(verb::get, "/api/v1/apps/:token/chats/:chat/messages", &handlers::list_messages, a::read_chat, true);
    // GET is handed to live_streams by the server (stream_request); this route answers HEAD, bad input
    // and servers without live delivery.
    add(verb::get, "/api/v1/apps/:token/chats/:chat/stream", &handlers::stream_header, a::read_chat, true);
    // Literal routes before ".../messages/:message", which would also match them.
    add(verb::get, "/api/v1/apps/:token/chats/:chat/messages/search", &handlers::search, a::read_chat);
    add(verb::get, "/api/v1/apps/:token/chats/:chat/messages/autocomplete", &handlers::autocomplete,
        a::read_chat);
    add(verb::get, "/api/v1/apps/:token/chats/:chat/messages/:message", &handlers::get_message, a::read_chat);
    add(verb::put, "/api/v1/apps/:token/chats/:chat/messages/:message", &handlers::edit_message,
        a::write_chat);
    // Lifecycle: who may delete a message is decided like an edit (its sender, or the application).
    add(verb::delete_, "/api/v1/apps/:token/chats/:chat/messages/:message", &handlers::delete_message,
        a::write_chat);
    add(verb::get, "/api/v1/apps/:token/chats/:chat/messages/:message/versions", &handlers::list_versions,
        a::read_chat);
    add(verb::delete_, "/api/v1/apps/:token/chats/:chat", &handlers::delete_chat, a::delete_chat);
    add(verb::put, "/api/v1/apps/:token/chats/:chat/read", &handlers::mark_read, a::read_chat);
    add(verb::get, "/api/v1/apps/:token/chats/:chat/read", &handlers::read_markers, a::read_chat);
    add(verb::delete_, "/api/v1/apps/:token/users/:user", &handlers::erase_user, a::manage_users);
    add(verb::get, "/api/v1/apps/:token/users/:user/erasure", &handlers::erasure_status, a::manage_users);
}

void handlers::add(http::verb v, std::string_view pattern, handler_ptr fn,
                   std::optional<domain::action> action, bool query_credential) {
    router_.add(v, pattern, route{fn, action, query_credential});
}

namespace {

// X-Request-Id from the client when it is a sane token (so it is safe in logs and events), else ours.
std::string request_id_of(const request& req) {
    auto it = req.find("X-Request-Id");
    if (it != req.end()) {
        auto v = it->value();
        bool sane = !v.empty() && v.size() <= 128 && std::all_of(v.begin(), v.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
                   c == ':';
        });
        if (sane) return std::string(v);
    }
    return core::make_creation_id();
}

}  // namespace

asio::awaitable<response> handlers::handle(const request& req) {
    const auto started = std::chrono::steady_clock::now();
    core::metrics::gauge_scope in_flight(core::metrics::requests_in_flight());
    std::string rid = request_id_of(req);
    std::string_view route = "unmatched";
    response res = co_await dispatch(req, rid, route);
    res.set("X-Request-Id", rid);
    auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    // The method as a metrics label: a known verb, or "other" (a client's invented method names must
    // not create label values without bound).
    std::string_view method = req.method() == http::verb::unknown ? "other" : http::to_string(req.method());
    core::metrics::observe_request(route, method, res.result_int(), seconds);
    // The access log: identifiers only (never a body), at info for server errors.
    core::request_id_scope scope(rid);
    auto level = res.result_int() >= 500 ? spdlog::level::info : spdlog::level::debug;
    spdlog::log(level, "{} {} {} {:.2f}ms", method, route, res.result_int(), seconds * 1000);
    co_return res;
}

asio::awaitable<response> handlers::dispatch(const request& req, const std::string& rid,
                                             std::string_view& route) {
    auto target = std::string_view(req.target());
    auto url = boost::urls::parse_origin_form(target);
    if (!url)
        co_return error_response(make_error(errc::bad_request, "malformed request target"), req.version(),
                                 req.keep_alive());
    auto m = router_.find(req.method(), url->encoded_path());
    if (m.handler == nullptr) {
        if (m.path_known) {
            auto res = error_response(make_error(errc::method_not_allowed, "method not allowed on this path"),
                                      req.version(), req.keep_alive());
            res.set(http::field::allow, m.allow);
            co_return res;
        }
        co_return error_response(make_error(errc::route_not_found, "no such route"), req.version(),
                                 req.keep_alive());
    }
    route = m.pattern;
    request_context ctx{req, std::move(m.captured), {}, rid, {}, {}, {}, {}, {}};
    for (auto p : url->params()) ctx.query[std::string(p.key)] = p.has_value ? std::string(p.value) : "";
    result<response> res = make_error(errc::internal, "unhandled");
    try {
        // Application-scoped operations take a rate-limit token in the service, on the same trip to
        // the blocking pool as their own work.
        auto refused = co_await prepare(ctx, *m.handler);
        if (refused)
            res = std::move(*refused);
        else
            res = co_await (this->*(m.handler->handler))(ctx);
    } catch (const std::exception& e) {
        // A bug, never bad input: log it and answer 500 rather than dropping the connection.
        core::request_id_scope scope(rid);
        spdlog::error("handler threw: {}", e.what());
        res = make_error(errc::internal, "internal error");
    }
    if (!res) {
        if (res.error().code == errc::unavailable || res.error().code == errc::internal) {
            core::request_id_scope scope(rid);
            spdlog::warn("{} {}: {}", std::string(req.method_string()), route, res.error().message);
        }
        co_return error_response(res.error(), req.version(), req.keep_alive());
    }
    co_return std::move(*res);
}

asio::awaitable<std::optional<core::error>> handlers::prepare(request_context& ctx, const route& r) {
    if (!r.action) co_return std::nullopt;
    // The path first, in its order: a token we could never have issued names no application.
    const auto& token = ctx.path.at("token");
    if (!domain::is_plausible_token(token)) co_return make_error(errc::not_found, "application not found");
    if (auto it = ctx.path.find("chat"); it != ctx.path.end()) {
        auto n = domain::parse_number(it->second, "chat number");
        if (!n) co_return n.error();
        ctx.chat = *n;
    }
    if (auto it = ctx.path.find("message"); it != ctx.path.end()) {
        auto n = domain::parse_number(it->second, "message number");
        if (!n) co_return n.error();
        ctx.message = *n;
    }
    if (auto it = ctx.path.find("user"); it != ctx.path.end()) {
        auto user = user_param(it->second);
        if (!user) co_return user.error();
        ctx.user = std::move(*user);
    }
    if (auto it = ctx.path.find("secret"); it != ctx.path.end()) ctx.secret_id = it->second;
    if (auto it = ctx.path.find("webhook"); it != ctx.path.end()) ctx.webhook_id = it->second;
    // Then who calls, and whether it may.
    auto header = ctx.req.find(http::field::authorization);
    std::optional<std::string_view> authorization, access_token;
    if (header != ctx.req.end()) authorization = header->value();
    if (r.query_credential) access_token = query_param(ctx, "access_token");
    auto credential = domain::read_credential(authorization, access_token);
    if (!credential) co_return credential.error();
    auto who = co_await svc_.authenticate(token, *credential);
    if (!who) co_return who.error();
    auto refused = co_await svc_.authorize(*who, *r.action, ctx.chat, "chat not found");
    if (refused) co_return refused;
    ctx.who = std::move(*who);
    co_return std::nullopt;
}

asio::awaitable<result<response>> handlers::metrics(request_context& ctx) {
    response res{http::status::ok, ctx.req.version()};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = core::metrics::serialize();
    res.keep_alive(ctx.req.keep_alive());
    res.prepare_payload();
    co_return res;
}

// The API's OpenAPI description, as embedded at build time (src/api/openapi.json).
asio::awaitable<result<response>> handlers::openapi(request_context& ctx) {
    response res{http::status::ok, ctx.req.version()};
    res.set(http::field::content_type, "application/json");
    res.body() = std::string(openapi_json());
    res.keep_alive(ctx.req.keep_alive());
    res.prepare_payload();
    co_return res;
}

namespace {

// The demo client's Content-Security-Policy: its script, styles and API calls come from this server
// only (no inline script, nothing from elsewhere); the empty data: favicon spares a request.
constexpr std::string_view demo_csp =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

response demo_asset(const request& req, std::string_view content_type, std::string_view body) {
    response res{http::status::ok, req.version()};
    res.set(http::field::content_type, content_type);
    res.set("Content-Security-Policy", demo_csp);
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");
    // Revalidated on every load, so a new build's page and script always go together.
    res.set(http::field::cache_control, "no-cache");
    res.body() = std::string(body);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

}  // namespace

// The demo client (src/api/demo/, embedded at build time): a page, its script and its styles.
asio::awaitable<result<response>> handlers::demo_page(request_context& ctx) {
    co_return demo_asset(ctx.req, "text/html; charset=utf-8", demo_html());
}

asio::awaitable<result<response>> handlers::demo_script(request_context& ctx) {
    co_return demo_asset(ctx.req, "text/javascript; charset=utf-8", demo_js());
}

asio::awaitable<result<response>> handlers::demo_style(request_context& ctx) {
    co_return demo_asset(ctx.req, "text/css; charset=utf-8", demo_css());
}

asio::awaitable<result<response>> handlers::healthz(request_context& ctx) {
    co_return json_response(http::status::ok, json::object{{"status", "ok"}}, ctx.req);
}

asio::awaitable<result<response>> handlers::readyz(request_context& ctx) {
    auto ok = co_await svc_.ready();
    if (!ok) co_return ok.error();
    co_return json_response(http::status::ok, json::object{{"status", "ready"}}, ctx.req);
}

asio::awaitable<result<response>> handlers::create_app(request_context& ctx) {
    // With CHAT_ADMIN_TOKEN set, only the operator creates applications.
    const auto& admin = svc_.config().admin_token;
    if (!admin.empty()) {
        auto header = ctx.req.find(http::field::authorization);
        std::optional<std::string_view> authorization;
        if (header != ctx.req.end()) authorization = header->value();
        auto credential = domain::read_credential(authorization, std::nullopt);
        if (!credential) co_return credential.error();
        if (credential->empty() || !core::constant_time_equal(core::sha256(*credential), core::sha256(admin)))
            co_return make_error(errc::unauthorized, "creating an application needs the operator's token");
    }
    auto body = json_body(ctx.req);
    if (!body) co_return body.error();
    auto raw = string_field(*body, {"name"});
    if (!raw) co_return raw.error();
    auto name = domain::normalize_app_name(*raw);
    if (!name) co_return name.error();
    auto created = co_await svc_.create_app(std::move(*name));
    if (!created) co_return created.error();
    auto out = app_json(created->app);
    // Shown here only: stored as a hash, it can never be read again.
    out["secret"] = created->secret;
    out["secret_id"] = created->secret_id;
    co_return json_response(http::status::created, out, ctx.req);
}

asio::awaitable<result<response>> handlers::update_app(request_context& ctx) {
    auto body = json_body(ctx.req);
    if (!body) co_return body.error();
    const auto* access_v = body->if_contains("access");
    const auto* retention_v = body->if_contains("retention_days");
    if (access_v == nullptr && retention_v == nullptr) {
        // The reference's rename: a name is required.
        auto raw = string_field(*body, {"name"});
        if (!raw) co_return raw.error();
        auto name = domain::normalize_app_name(*raw);
        if (!name) co_return name.error();
        auto app = co_await svc_.rename_app(ctx.token(), std::move(*name));
        if (!app) co_return app.error();
        co_return json_response(http::status::ok, app_json(*app), ctx.req);
    }
    // Changing access or retention always needs the secret, in either mode.
    auto refused = co_await svc_.authorize(*ctx.who, domain::action::configure_app, std::nullopt, "");
    if (refused) co_return *refused;
    std::optional<domain::access_mode> mode;
    if (access_v != nullptr) {
        mode = access_v->is_string() ? domain::parse_access_mode(access_v->as_string()) : std::nullopt;
        if (!mode) co_return make_error(errc::invalid_field, "access must be \"open\" or \"restricted\"");
    }
    std::optional<std::optional<int>> retention;
    if (retention_v != nullptr) {
        std::optional<std::int64_t> days;
        if (retention_v->is_int64()) days = retention_v->as_int64();
        if (!retention_v->is_null() && !days)
            co_return make_error(errc::invalid_field,
                                 "retention_days must be a whole number of days or null");
        auto parsed = domain::parse_retention_days(days);
        if (!parsed) co_return parsed.error();
        retention = *parsed;
    }
    std::optional<std::string> name;
    if (body->contains("name")) {
        auto raw = string_field(*body, {"name"});
        if (!raw) co_return raw.error();
        auto normalized = domain::normalize_app_name(*raw);
        if (!normalized) co_return normalized.error();
        name = std::move(*normalized);
    }
    // Each change answers the application as it is after it: the last one is the answer.
    result<store::app_row> app = make_error(errc::internal, "nothing changed");
    if (name) {
        app = co_await svc_.rename_app(ctx.token(), std::move(*name));
        if (!app) co_return app.error();
    }
    if (retention) {
        app = co_await svc_.set_retention(*ctx.who, *retention);
        if (!app) co_return app.error();
    }
    if (mode) {
        app = co_await svc_.set_access(*ctx.who, *mode);
        if (!app) co_return app.error();
    }
    co_return json_response(http::status::ok, app_json(*app), ctx.req);
}

asio::awaitable<result<response>> handlers::get_app(request_context& ctx) {
    auto app = co_await svc_.get_app(ctx.token());
    if (!app) co_return app.error();
    co_return json_response(http::status::ok, app_json(*app), ctx.req);
}

asio::awaitable<result<response>> handlers::add_secret(request_context& ctx) {
    auto issued = co_await svc_.add_secret(*ctx.who);
    if (!issued) co_return issued.error();
    co_return json_response(http::status::created,
                            json::object{{"id", issued->id},
                                         {"secret", issued->secret},
                                         {"created_at", core::iso8601(issued->created_at_ms)}},
                            ctx.req);
}

asio::awaitable<result<response>> handlers::list_secrets(request_context& ctx) {
    auto secrets = co_await svc_.list_secrets(*ctx.who);
    if (!secrets) co_return secrets.error();
    json::array items;
    for (const auto& sec : *secrets) {
        json::value used = nullptr;
        if (sec.last_used_at_ms) used = core::iso8601(*sec.last_used_at_ms);
        items.push_back(json::object{
            {"id", sec.id}, {"created_at", core::iso8601(sec.created_at_ms)}, {"last_used_at", used}});
    }
    co_return json_response(http::status::ok, json::object{{"secrets", std::move(items)}}, ctx.req);
}

asio::awaitable<result<response>> handlers::delete_secret(request_context& ctx) {
    auto done = co_await svc_.delete_secret(*ctx.who, ctx.secret_id);
    if (!done) co_return done.error();
    co_return no_content(ctx.req);
}

asio::awaitable<result<response>> handlers::mint_token(request_context& ctx) {
    constexpr int default_ttl_s = 3600, max_ttl_s = 86400;
    int ttl = default_ttl_s;
    std::optional<std::vector<std::uint64_t>> chats;
    if (!ctx.req.body().empty()) {
        auto body = json_body(ctx.req);
        if (!body) co_return body.error();
        if (const auto* t = body->if_contains("ttl")) {
            if (!t->is_int64() || t->as_int64() < 1 || t->as_int64() > max_ttl_s)
                co_return make_error(errc::invalid_field, "ttl must be a number of seconds from 1 to 86400");
            ttl = static_cast<int>(t->as_int64());
        }
        if (const auto* c = body->if_contains("chats")) {
            if (!c->is_array() || c->as_array().size() > domain::max_chats_claim)
                co_return make_error(errc::invalid_field,
                                     "chats must be a list of at most 1000 chat numbers");
            chats.emplace();
            for (const auto& n : c->as_array()) {
                if (!n.is_int64() || n.as_int64() < 1 || n.as_int64() > (std::int64_t{1} << 53))
                    co_return make_error(errc::invalid_field, "chats must hold chat numbers");
                chats->push_back(static_cast<std::uint64_t>(n.as_int64()));
            }
        }
    }
    auto minted = co_await svc_.mint_token(*ctx.who, ctx.user, ttl, std::move(chats));
    if (!minted) co_return minted.error();
    co_return json_response(http::status::created,
                            json::object{{"token", minted->token},
                                         {"user", ctx.user},
                                         {"expires_at", core::iso8601(minted->expires_at_ms)}},
                            ctx.req);
}

asio::awaitable<result<response>> handlers::revoke_user(request_context& ctx) {
    auto before = co_await svc_.revoke_user(*ctx.who, ctx.user);
    if (!before) co_return before.error();
    co_return json_response(http::status::ok,
                            json::object{{"user", ctx.user}, {"revoked_before", core::iso8601(*before)}},
                            ctx.req);
}

asio::awaitable<result<response>> handlers::add_member(request_context& ctx) {
    auto added = co_await svc_.add_member(*ctx.who, *ctx.chat, ctx.user);
    if (!added) co_return added.error();
    co_return json_response(http::status::ok,
                            json::object{{"user", added->user},
                                         {"chat_number", *ctx.chat},
                                         {"added_at", core::iso8601(added->added_at_ms)}},
                            ctx.req);
}

asio::awaitable<result<response>> handlers::remove_member(request_context& ctx) {
    auto done = co_await svc_.remove_member(*ctx.who, *ctx.chat, ctx.user);
    if (!done) co_return done.error();
    co_return no_content(ctx.req);
}

asio::awaitable<result<response>> handlers::list_members(request_context& ctx) {
    auto limit =
        domain::parse_limit(query_param(ctx, "limit"), default_page_size, svc_.config().max_page_size);
    if (!limit) co_return limit.error();
    std::string after;
    if (auto a = query_param(ctx, "after")) {
        auto user = domain::validate_user_id(*a);
        if (!user) co_return user.error();
        after = std::move(*user);
    }
    auto members = co_await svc_.list_members(*ctx.who, *ctx.chat, std::move(after), *limit);
    if (!members) co_return members.error();
    json::array items;
    for (const auto& m : *members)
        items.push_back(json::object{{"user", m.user}, {"added_at", core::iso8601(m.added_at_ms)}});
    json::value next = nullptr;
    if (static_cast<int>(members->size()) == *limit) next = members->back().user;
    co_return json_response(http::status::ok,
                            json::object{{"members", std::move(items)}, {"next_after", next}}, ctx.req);
}

asio::awaitable<result<response>> handlers::create_chat(request_context& ctx) {
    auto key = idempotency_key(ctx.req);
    if (!key) co_return key.error();
    std::optional<std::string> creator;
    if (ctx.who->who.is_user()) creator = ctx.who->who.user;
    auto chat = co_await svc_.create_chat(ctx.token(), std::move(*key), ctx.request_id, std::move(creator));
    if (!chat) co_return chat.error();
    auto res = json_response(http::status::created,
                             json::object{{"chat_number", chat->number},
                                          {"number", chat->number},
                                          {"messages_count", 0},
                                          {"message_count", 0},
                                          {"created_at", core::iso8601(chat->created_at_ms)}},
                             ctx.req);
    if (chat->replayed) res.set("Idempotent-Replayed", "true");
    co_return res;
}

// With a user token, each chat carries the user's read marker and unread count.
asio::awaitable<std::optional<core::error>> handlers::with_read_state(request_context& ctx,
                                                                      std::vector<store::chat_row>& chats) {
    if (!ctx.who->who.is_user() || chats.empty()) co_return std::nullopt;
    std::vector<std::uint64_t> numbers;
    for (const auto& c : chats) numbers.push_back(c.number);
    auto states = co_await svc_.read_states(ctx.token(), std::move(numbers), ctx.who->who.user);
    if (!states) co_return states.error();
    for (std::size_t i = 0; i < chats.size() && i < states->size(); ++i) {
        const auto& st = (*states)[i];
        chats[i].last_read = st.marker;
        chats[i].unread = domain::unread(st.last_number, st.marker, st.deleted_above);
    }
    co_return std::nullopt;
}

asio::awaitable<result<response>> handlers::get_chat(request_context& ctx) {
    auto chat = co_await svc_.get_chat(ctx.token(), *ctx.chat);
    if (!chat) co_return chat.error();
    std::vector<store::chat_row> one{std::move(*chat)};
    if (auto failed = co_await with_read_state(ctx, one)) co_return *failed;
    co_return json_response(http::status::ok, chat_json(one.front()), ctx.req);
}

asio::awaitable<result<response>> handlers::list_chats(request_context& ctx) {
    auto limit =
        domain::parse_limit(query_param(ctx, "limit"), default_page_size, svc_.config().max_page_size);
    if (!limit) co_return limit.error();
    auto after = domain::parse_after(query_param(ctx, "after"));
    if (!after) co_return after.error();
    // In a restricted application a user lists its own chats (within its token's claim).
    chat_filter filter;
    const auto& who = ctx.who->who;
    if (who.is_user() && ctx.who->mode() == domain::access_mode::restricted) {
        filter.member = who.user;
        filter.chats = who.chats;
    }
    auto chats = co_await svc_.list_chats(ctx.token(), *after, *limit, std::move(filter));
    if (!chats) co_return chats.error();
    if (auto failed = co_await with_read_state(ctx, *chats)) co_return *failed;
    json::array items;
    for (const auto& c : *chats) items.push_back(chat_json(c));
    json::value next = nullptr;
    if (static_cast<int>(chats->size()) == *limit) next = chats->back().number;
    co_return json_response(http::status::ok, json::object{{"chats", std::move(items)}, {"next_after", next}},
                            ctx.req);
}

asio::awaitable<result<response>> handlers::create_message(request_context& ctx) {
    auto key = idempotency_key(ctx.req);
    if (!key) co_return key.error();
    auto body = json_body(ctx.req);
    if (!body) co_return body.error();
    auto raw = string_field(*body, {"body", "content"});
    if (!raw) co_return raw.error();
    auto text = domain::validate_body(*raw, svc_.config().max_message_bytes);
    if (!text) co_return text.error();
    auto sender = sender_of(*ctx.who, *body);
    if (!sender) co_return sender.error();
    auto msg = co_await svc_.create_message(ctx.token(), *ctx.chat, std::move(*text), std::move(*key),
                                            ctx.request_id, std::move(*sender));
    if (!msg) co_return msg.error();
    auto res = json_response(http::status::created,
                             json::object{{"msg_number", msg->number},
                                          {"number", msg->number},
                                          {"chat_number", *ctx.chat},
                                          {"body", msg->body},
                                          {"content", msg->body},
                                          {"sender", user_or_null(msg->sender)},
                                          {"created_at", core::iso8601(msg->created_at_ms)}},
                             ctx.req);
    if (msg->replayed) res.set("Idempotent-Replayed", "true");
    co_return res;
}

asio::awaitable<result<response>> handlers::get_message(request_context& ctx) {
    auto msg = co_await svc_.get_message(ctx.token(), *ctx.chat, *ctx.message);
    if (!msg) co_return msg.error();
    co_return json_response(http::status::ok, message_json(*ctx.chat, *msg), ctx.req);
}

asio::awaitable<result<response>> handlers::list_messages(request_context& ctx) {
    const auto& token = ctx.token();
    const auto chat = *ctx.chat;
    auto limit =
        domain::parse_limit(query_param(ctx, "limit"), default_page_size, svc_.config().max_page_size);
    if (!limit) co_return limit.error();
    auto window = domain::parse_history(query_param(ctx, "after"), query_param(ctx, "before"),
                                        query_param(ctx, "around"), query_param(ctx, "wait"), *limit);
    if (!window) co_return window.error();
    result<std::vector<store::message_row>> msgs = std::vector<store::message_row>{};
    if (window->before) {
        msgs = co_await svc_.list_messages_before(token, chat, *window->before, window->before_limit);
        if (!msgs) co_return msgs.error();
    }
    std::size_t later_count = 0;
    if (window->after && window->after_limit > 0) {
        auto later = co_await svc_.list_messages(token, chat, *window->after, window->after_limit);
        if (!later) co_return later.error();
        if (later->empty() && window->wait_s > 0 && live_) {
            auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(window->wait_s);
            later = co_await live_->wait_for_messages(*ctx.who, chat, *window->after, window->after_limit,
                                                      deadline);
            if (!later) co_return later.error();
        }
        later_count = later->size();
        msgs->insert(msgs->end(), later->begin(), later->end());
    }
    json::array items;
    for (const auto& m : *msgs) items.push_back(message_json(chat, m));
    json::object body{{"messages", std::move(items)}};
    // next_after: the cursor of the next page forwards (null at the end); next_before backwards.
    json::value next_after = nullptr;
    if (window->after && window->after_limit > 0 && static_cast<int>(later_count) >= window->after_limit)
        next_after = msgs->back().number;
    body["next_after"] = next_after;
    if (window->before) {
        json::value next_before = nullptr;
        if (!msgs->empty() && msgs->front().number > 1 &&
            (window->after ? true : static_cast<int>(msgs->size()) >= window->before_limit))
            next_before = msgs->front().number;
        body["next_before"] = next_before;
    }
    co_return json_response(http::status::ok, body, ctx.req);
}

asio::awaitable<result<response>> handlers::stream_header(request_context& ctx) {
    auto it = ctx.req.find("Last-Event-ID");
    auto start =
        parse_stream_start(it == ctx.req.end() ? std::nullopt : std::optional<std::string_view>(it->value()),
                           query_param(ctx, "after"));
    if (!start) co_return start.error();
    auto known = co_await svc_.get_chat(ctx.token(), *ctx.chat);
    if (!known) co_return known.error();
    response res{http::status::ok, ctx.req.version()};
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-cache");
    res.keep_alive(ctx.req.keep_alive());
    res.prepare_payload();
    co_return res;
}

asio::awaitable<result<response>> handlers::websocket_refused(request_context& ctx) {
    co_return make_error(
        errc::upgrade_required,
        "this path takes a WebSocket handshake (Upgrade: websocket, Sec-WebSocket-Version: 13)");
}

bool is_websocket_handshake(const request& req) {
    if (req.method() != http::verb::get || req.version() < 11 || !boost::beast::websocket::is_upgrade(req))
        return false;
    auto key = req[http::field::sec_websocket_key];
    return key.size() == 24 && req[http::field::sec_websocket_version] == "13";
}

std::optional<live_target> handlers::stream_request(const request& req) const {
    if (!live_ || req.method() != http::verb::get) return std::nullopt;
    auto url = boost::urls::parse_origin_form(std::string_view(req.target()));
    if (!url) return std::nullopt;
    auto m = router_.find(req.method(), url->encoded_path());
    if (m.handler == nullptr) return std::nullopt;
    // The credential, read as dispatch() would: a malformed one is answered by the handlers (401).
    std::optional<std::string_view> authorization, access_token;
    if (auto h = req.find(http::field::authorization); h != req.end()) authorization = h->value();
    std::string after_value, token_value;
    std::optional<std::string_view> after;
    for (auto p : url->params()) {
        if (p.key == "after") {
            after_value = p.has_value ? std::string(p.value) : "";
            after = after_value;
        } else if (p.key == "access_token") {
            token_value = p.has_value ? std::string(p.value) : "";
            access_token = token_value;
        }
    }
    auto credential = domain::read_credential(authorization, access_token);
    if (!credential) return std::nullopt;
    if (m.pattern == "/api/v1/apps/:token/ws") {
        const auto& token = m.captured.at("token");
        if (!domain::is_plausible_token(token) || !is_websocket_handshake(req)) return std::nullopt;
        return live_target{live_target::kind::websocket, token, 0, {}, std::move(*credential)};
    }
    if (m.pattern != "/api/v1/apps/:token/chats/:chat/stream") return std::nullopt;
    const auto& token = m.captured.at("token");
    auto chat = domain::parse_number(m.captured.at("chat"), "chat number");
    if (!domain::is_plausible_token(token) || !chat) return std::nullopt;
    auto it = req.find("Last-Event-ID");
    auto start = parse_stream_start(
        it == req.end() ? std::nullopt : std::optional<std::string_view>(it->value()), after);
    if (!start) return std::nullopt;
    return live_target{live_target::kind::sse, token, *chat, *start, std::move(*credential)};
}

asio::awaitable<void> handlers::serve_stream(boost::beast::tcp_stream& stream, const request& req,
                                             live_target target) {
    auto rid = request_id_of(req);
    // Who opens it, and whether it may: as dispatch() does for every other route.
    auto who = co_await svc_.authenticate(target.token, target.credential);
    std::optional<core::error> refused;
    if (!who) {
        refused = who.error();
    } else if (target.what == live_target::kind::websocket) {
        refused = co_await svc_.authorize(*who, domain::action::read_app, std::nullopt, "chat not found");
    }
    if (refused) {
        co_await refuse_stream(stream, req, *refused);
        co_return;
    }
    if (target.what == live_target::kind::websocket) {
        {
            core::request_id_scope scope(rid);
            spdlog::debug("websocket opened");
        }
        co_await live_->serve_ws(stream, req, std::move(*who));
        co_return;
    }
    {
        core::request_id_scope scope(rid);
        spdlog::debug("stream of chat {} opened", target.chat);
    }
    // The chat is authorized by the feed as it opens (live_streams::open_feed).
    co_await live_->serve_sse(stream, req, std::move(*who), target.chat, target.start);
}

asio::awaitable<result<response>> handlers::edit_message(request_context& ctx) {
    auto body = json_body(ctx.req);
    if (!body) co_return body.error();
    auto raw = string_field(*body, {"body", "content"});
    if (!raw) co_return raw.error();
    auto text = domain::validate_body(*raw, svc_.config().max_message_bytes);
    if (!text) co_return text.error();
    auto msg = co_await svc_.edit_message(ctx.token(), *ctx.chat, *ctx.message, std::move(*text),
                                          ctx.request_id, ctx.who->who);
    if (!msg) co_return msg.error();
    co_return json_response(http::status::ok, message_json(*ctx.chat, *msg), ctx.req);
}

asio::awaitable<result<response>> handlers::delete_message(request_context& ctx) {
    auto done = co_await svc_.delete_message(*ctx.who, *ctx.chat, *ctx.message, ctx.request_id);
    if (!done) co_return done.error();
    co_return no_content(ctx.req);
}

asio::awaitable<result<response>> handlers::list_versions(request_context& ctx) {
    auto versions = co_await svc_.list_versions(ctx.token(), *ctx.chat, *ctx.message);
    if (!versions) co_return versions.error();
    json::array items;
    for (const auto& v : *versions)
        items.push_back(
            json::object{{"version", v.version}, {"body", v.body}, {"at", core::iso8601(v.at_ms)}});
    co_return json_response(http::status::ok, json::object{{"versions", std::move(items)}}, ctx.req);
}

asio::awaitable<result<response>> handlers::delete_chat(request_context& ctx) {
    auto done = co_await svc_.delete_chat(*ctx.who, *ctx.chat, ctx.request_id);
    if (!done) co_return done.error();
    co_return no_content(ctx.req);
}

namespace {
json::object erasure_json(const std::string& user, const user_erasure& e) {
    static constexpr std::string_view names[] = {"queued", "running", "done"};
    json::value finished = nullptr;
    if (e.finished_at_ms) finished = core::iso8601(*e.finished_at_ms);
    return {{"user", user},
            {"status", names[static_cast<int>(e.status)]},
            {"requested_at", core::iso8601(e.requested_at_ms)},
            {"finished_at", finished},
            {"erased_messages", e.erased}};
}
}  // namespace

asio::awaitable<result<response>> handlers::erase_user(request_context& ctx) {
    auto requested = co_await svc_.erase_user(*ctx.who, ctx.user, ctx.request_id);
    if (!requested) co_return requested.error();
    user_erasure queued;
    queued.requested_at_ms = *requested;
    co_return json_response(http::status::accepted, erasure_json(ctx.user, queued), ctx.req);
}

asio::awaitable<result<response>> handlers::erasure_status(request_context& ctx) {
    auto status = co_await svc_.erasure_status(*ctx.who, ctx.user);
    if (!status) co_return status.error();
    co_return json_response(http::status::ok, erasure_json(ctx.user, *status), ctx.req);
}

asio::awaitable<result<response>> handlers::mark_read(request_context& ctx) {
    auto body = json_body(ctx.req);
    if (!body) co_return body.error();
    const auto* n = body->if_contains("number");
    if (n == nullptr || !n->is_int64() || n->as_int64() < 0)
        co_return make_error(errc::invalid_field, "number must be a message number (0 or more)");
    auto state = co_await svc_.mark_read(*ctx.who, *ctx.chat, static_cast<std::uint64_t>(n->as_int64()),
                                         ctx.request_id);
    if (!state) co_return state.error();
    co_return json_response(
        http::status::ok,
        json::object{{"chat_number", *ctx.chat},
                     {"user", ctx.who->who.user},
                     {"last_read", state->marker},
                     {"unread", domain::unread(state->last_number, state->marker, state->deleted_above)}},
        ctx.req);
}

asio::awaitable<result<response>> handlers::read_markers(request_context& ctx) {
    auto markers = co_await svc_.read_markers(ctx.token(), *ctx.chat);
    if (!markers) co_return markers.error();
    json::array items;
    for (const auto& [user, number] : *markers)
        items.push_back(json::object{{"user", user}, {"last_read", number}});
    co_return json_response(http::status::ok,
                            json::object{{"chat_number", *ctx.chat}, {"markers", std::move(items)}}, ctx.req);
}

namespace {
// sort, since and until of a search (since <= created_at < until).
result<store::search_options> search_options(request_context& ctx) {
    store::search_options options;
    if (auto sort = query_param(ctx, "sort")) {
        static constexpr std::pair<std::string_view, store::search_order> orders[] = {
            {"relevance", store::search_order::relevance},
            {"newest", store::search_order::newest},
            {"oldest", store::search_order::oldest},
            {"number", store::search_order::number}};
        const auto* found = std::find_if(std::begin(orders), std::end(orders),
                                         [&](const auto& o) { return o.first == *sort; });
        if (found == std::end(orders))
            return make_error(errc::invalid_field, "sort must be relevance, newest, oldest or number");
        options.order = found->second;
    }
    for (auto [name, bound] : {std::pair{"since", &options.since_ms}, std::pair{"until", &options.until_ms}})
        if (auto v = query_param(ctx, name)) {
            auto at = domain::parse_timestamp(*v, name);
            if (!at) return at.error();
            *bound = *at;
        }
    if (options.since_ms && options.until_ms && *options.since_ms >= *options.until_ms)
        return make_error(errc::invalid_field, "since must be before until");
    if (auto sender = query_param(ctx, "sender")) {
        auto user = domain::validate_user_id(*sender);
        if (!user) return user.error();
        options.sender = std::move(*user);
    }
    return options;
}
}  // namespace

asio::awaitable<result<response>> handlers::search(request_context& ctx) {
    auto q = query_param(ctx, "q");
    if (!q || q->empty()) co_return make_error(errc::invalid_field, "q is required");
    auto fragments = domain::parse_search_query(*q);
    if (!fragments) co_return fragments.error();
    auto limit =
        domain::parse_limit(query_param(ctx, "limit"), default_page_size, svc_.config().max_page_size);
    if (!limit) co_return limit.error();
    // The cursor is the offset of the next page; deep pages are bounded by Elasticsearch's window.
    auto cursor = domain::parse_after(query_param(ctx, "cursor"));
    if (!cursor) co_return make_error(errc::invalid_field, "cursor is not one this server returned");
    // Compared without arithmetic: a cursor near 2^64 must not wrap around past the check.
    if (auto window = domain::search_window(*cursor, static_cast<std::uint64_t>(*limit)); !window)
        co_return window.error();
    auto options = search_options(ctx);
    if (!options) co_return options.error();
    const auto chat = *ctx.chat;
    auto page = co_await svc_.search(ctx.token(), chat, std::move(*fragments), *cursor,
                                     static_cast<std::size_t>(*limit), *options);
    if (!page) co_return page.error();
    json::array hits;
    for (const auto& h : page->hits) {
        auto m = message_json(
            chat, store::message_row{chat, h.number, h.body, h.created_at_ms, h.updated_at_ms, h.sender});
        // The index knows the body, not its history: a hit shows no version, edit or deletion time
        // (a deleted message is never a hit).
        for (const char* absent : {"version", "edited_at", "deleted_at"}) m.erase(absent);
        m["highlight"] = h.highlight;
        hits.push_back(std::move(m));
    }
    json::value next = nullptr;
    auto next_offset = *cursor + page->hits.size();
    if (!page->hits.empty() && next_offset < page->total) next = std::to_string(next_offset);
    co_return json_response(
        http::status::ok,
        json::object{{"hits", std::move(hits)}, {"total", page->total}, {"next_cursor", next}}, ctx.req);
}

asio::awaitable<result<response>> handlers::autocomplete(request_context& ctx) {
    const auto chat = *ctx.chat;
    auto keyword = query_param(ctx, "keyword");
    if (!keyword || keyword->empty()) co_return make_error(errc::invalid_field, "keyword is required");
    auto fragments = domain::parse_search_query(*keyword);
    if (!fragments) co_return fragments.error();
    auto limit = domain::parse_limit(query_param(ctx, "limit"), 10, svc_.config().max_page_size);
    if (!limit) co_return limit.error();
    auto page_no = domain::parse_limit(query_param(ctx, "page"), 1, 10000);
    if (!page_no) co_return make_error(errc::invalid_field, "page must be an integer between 1 and 10000");
    // The page bound is checked before page * limit is computed.
    auto from = domain::page_window(static_cast<std::uint64_t>(*page_no), static_cast<std::uint64_t>(*limit));
    if (!from) co_return from.error();
    auto page = co_await svc_.search(ctx.token(), chat, std::move(*fragments), *from,
                                     static_cast<std::size_t>(*limit), store::search_order::relevance);
    if (!page) co_return page.error();
    json::array hits;
    for (const auto& h : page->hits)
        hits.push_back(message_json(
            chat, store::message_row{chat, h.number, h.body, h.created_at_ms, h.updated_at_ms, h.sender}));
    auto res = json_response(http::status::ok, hits, ctx.req);
    res.set("X-Total-Hits", std::to_string(page->total));
    co_return res;
}

// ---- webhooks ------------------------------------------------------------------------------------

namespace {

json::object webhook_view(const store::webhook_endpoint& w) {
    json::array events;
    for (const auto& e : w.events) events.emplace_back(e);
    return {{"id", w.id},
            {"url", w.url},
            {"events", std::move(events)},
            {"enabled", w.enabled},
            {"disabled_reason", w.disabled_reason ? json::value(*w.disabled_reason) : json::value(nullptr)},
            {"disabled_at",
             w.disabled_at_ms ? json::value(core::iso8601(*w.disabled_at_ms)) : json::value(nullptr)},
            {"created_at", core::iso8601(w.created_at_ms)},
            {"updated_at", core::iso8601(w.updated_at_ms)}};
}

result<std::string> webhook_url_field(const json::object& body, const core::config& cfg) {
    const auto* v = body.if_contains("url");
    if (!v || !v->is_string()) return make_error(errc::invalid_field, "url must be a string");
    std::string url(v->as_string());
    if (auto ok = domain::parse_webhook_url(url, {cfg.webhook_allow_http, cfg.webhook_allow_private}); !ok)
        return ok.error();
    return url;
}

result<std::vector<std::string>> webhook_events_field(const json::object& body) {
    const auto* v = body.if_contains("events");
    if (!v || !v->is_array()) return make_error(errc::invalid_field, "events must be a list of event kinds");
    std::vector<std::string> given;
    for (const auto& e : v->as_array()) {
        if (!e.is_string()) return make_error(errc::invalid_field, "events must be a list of event kinds");
        given.emplace_back(e.as_string());
    }
    return domain::parse_webhook_events(given);
}

}  // namespace

asio::awaitable<result<response>> handlers::create_webhook(request_context& ctx) {
    auto body = json_body(ctx.req);
    if (!body) co_return body.error();
    auto url = webhook_url_field(*body, svc_.config());
    if (!url) co_return url.error();
    auto events = webhook_events_field(*body);
    if (!events) co_return events.error();
    auto created = co_await svc_.create_webhook(*ctx.who, std::move(*url), std::move(*events));
    if (!created) co_return created.error();
    auto view = webhook_view(*created);
    view["signing_secret"] = created->signing_secret;  // shown here and after a rotation only
    co_return json_response(http::status::created, view, ctx.req);
}

asio::awaitable<result<response>> handlers::list_webhooks(request_context& ctx) {
    auto all = co_await svc_.list_webhooks(*ctx.who);
    if (!all) co_return all.error();
    json::array items;
    for (const auto& w : *all) items.push_back(webhook_view(w));
    co_return json_response(http::status::ok, json::object{{"webhooks", std::move(items)}}, ctx.req);
}

asio::awaitable<result<response>> handlers::get_webhook(request_context& ctx) {
    auto w = co_await svc_.get_webhook(*ctx.who, ctx.webhook_id);
    if (!w) co_return w.error();
    co_return json_response(http::status::ok, webhook_view(*w), ctx.req);
}

asio::awaitable<result<response>> handlers::update_webhook(request_context& ctx) {
    auto body = json_body(ctx.req);
    if (!body) co_return body.error();
    store::webhook_change change;
    if (body->contains("url")) {
        auto url = webhook_url_field(*body, svc_.config());
        if (!url) co_return url.error();
        change.url = std::move(*url);
    }
    if (body->contains("events")) {
        auto events = webhook_events_field(*body);
        if (!events) co_return events.error();
        change.events = std::move(*events);
    }
    if (const auto* e = body->if_contains("enabled")) {
        if (!e->is_bool()) co_return make_error(errc::invalid_field, "enabled must be true or false");
        change.enabled = e->as_bool();
    }
    if (!change.url && !change.events && !change.enabled)
        co_return make_error(errc::invalid_field, "nothing to change: give url, events or enabled");
    auto w = co_await svc_.update_webhook(*ctx.who, ctx.webhook_id, std::move(change));
    if (!w) co_return w.error();
    co_return json_response(http::status::ok, webhook_view(*w), ctx.req);
}

asio::awaitable<result<response>> handlers::delete_webhook(request_context& ctx) {
    auto done = co_await svc_.delete_webhook(*ctx.who, ctx.webhook_id);
    if (!done) co_return done.error();
    co_return no_content(ctx.req);
}

asio::awaitable<result<response>> handlers::rotate_webhook(request_context& ctx) {
    auto rotated = co_await svc_.rotate_webhook(*ctx.who, ctx.webhook_id);
    if (!rotated) co_return rotated.error();
    co_return json_response(
        http::status::ok,
        json::object{{"signing_secret", rotated->signing_secret},
                     {"previous_valid_until", core::iso8601(rotated->previous_valid_until_ms)}},
        ctx.req);
}

asio::awaitable<result<response>> handlers::webhook_deliveries(request_context& ctx) {
    auto limit =
        domain::parse_limit(query_param(ctx, "limit"), default_page_size, svc_.config().max_page_size);
    if (!limit) co_return limit.error();
    // The cursor is "seq.attempt" of the last attempt of the previous page (opaque to clients).
    std::optional<std::pair<std::uint64_t, int>> before;
    if (auto b = query_param(ctx, "before")) {
        unsigned long long seq = 0;
        int attempt = 0;
        char extra = 0;
        const std::string text(*b);
        if (std::sscanf(text.c_str(), "%llu.%d%c", &seq, &attempt, &extra) != 2 || attempt < 1 ||
            text.size() > 40)
            co_return make_error(errc::invalid_field, "before must be a cursor from a previous page's next");
        before = std::pair<std::uint64_t, int>{seq, attempt};
    }
    auto page = co_await svc_.webhook_attempts(*ctx.who, ctx.webhook_id, before, *limit);
    if (!page) co_return page.error();
    json::array items;
    for (const auto& a : page->attempts) {
        const auto opt_int = [](const std::optional<int>& v) {
            return v ? json::value(*v) : json::value(nullptr);
        };
        items.push_back(json::object{
            {"message_id", a.message_id},
            {"event", a.event},
            {"chat_number", a.chat_number},
            {"attempt", a.attempt},
            {"at", core::iso8601(a.at_ms)},
            {"duration_ms", a.duration_ms},
            {"response_status", opt_int(a.status_code)},
            {"error", a.error ? json::value(*a.error) : json::value(nullptr)},
            {"delivery_status", a.delivery_status},
            {"next_retry_at", a.next_attempt_at_ms ? json::value(core::iso8601(*a.next_attempt_at_ms))
                                                   : json::value(nullptr)}});
    }
    json::value next = nullptr;
    if (page->more && !page->attempts.empty())
        next = fmt::format("{}.{}", page->attempts.back().seq, page->attempts.back().attempt);
    co_return json_response(
        http::status::ok,
        json::object{{"attempts", std::move(items)}, {"pending", page->pending}, {"next", std::move(next)}},
        ctx.req);
}

asio::awaitable<result<response>> handlers::replay_webhook(request_context& ctx) {
    auto body = json_body(ctx.req);
    if (!body) co_return body.error();
    const auto* since = body->if_contains("since");
    if (!since || !since->is_string())
        co_return make_error(errc::invalid_field, "since must be a date-time such as 2026-12-08T10:00:00Z");
    auto at = domain::parse_timestamp(since->as_string(), "since");
    if (!at) co_return at.error();
    auto replayed = co_await svc_.replay_webhook(*ctx.who, ctx.webhook_id, *at);
    if (!replayed) co_return replayed.error();
    co_return json_response(http::status::accepted, json::object{{"replayed", *replayed}}, ctx.req);
}

}  // namespace chat::api
