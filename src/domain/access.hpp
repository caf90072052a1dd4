#pragma once
// Who may do what, in one place: the credentials a request may carry, the principal they prove, the
// action each route performs, and the one decision over them. Pure (no I/O; the clock is passed in);
// tests/unit/domain/access_test.cpp lists every route with every kind of caller.
//
// The model (docs/security.md):
//  - an application is `open` (the reference API: no credential needed, every caller has the
//    application's full power over its chats and messages) or `restricted` (a credential is needed);
//  - a *secret* is the customer's server: everything in its application, in either mode;
//  - a *user token* (JWT, HS256, signed with one of the application's secrets) speaks for one user:
//    in a restricted application it reaches only the chats its user is a member of (and, with a
//    `chats` claim, only those); its messages carry its user as their sender and it changes only its
//    own messages, in either mode;
//  - managing the application (access mode, secrets, members, users) needs the secret, in either mode.
// A chat the caller may not reach answers exactly as a chat that does not exist.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/crypto.hpp"
#include "core/error.hpp"

namespace chat::domain {

using core::result;

enum class access_mode { open, restricted };
std::string_view name_of(access_mode m);
std::optional<access_mode> parse_access_mode(std::string_view text);

// A user id (a token's `sub`, a member, a sender): valid UTF-8, 1..128 code points, none of them a
// control, a format character, white space or a default-ignorable code point (ICU properties, as
// validation.hpp's "visible").
inline constexpr std::size_t max_user_id_chars = 128;
result<std::string> validate_user_id(std::string_view raw);

// One of an application's secrets, as stored: never the secret, only its SHA-256.
struct secret_record {
    std::string id;
    core::digest hash{};
    std::int64_t created_at_ms = 0;
};

// What a server needs to authenticate requests to one application (cached per server; see
// api/access_control.hpp).
struct app_access {
    std::uint64_t app_id = 0;
    std::string token;
    access_mode mode = access_mode::open;
    std::vector<secret_record> secrets;
};

// The caller, once its credential was checked.
struct principal {
    enum class kind { anonymous, secret, user };
    kind who = kind::anonymous;
    std::string user;                                 // user: the token's sub
    std::optional<std::vector<std::uint64_t>> chats;  // user: the `chats` claim, when present
    std::string secret_id;           // secret: the one presented; user: the one that signed the token
    std::int64_t issued_at_ms = 0;   // user: `iat` (0 when absent)
    std::int64_t expires_at_ms = 0;  // user: `exp`
    bool is_user() const { return who == kind::user; }
    bool is_secret() const { return who == kind::secret; }
};

// The bearer credential of a request: from `Authorization: Bearer …`, or (only where a browser cannot
// set headers: SSE, long poll, WebSocket) from `?access_token=`. Empty: none. A malformed
// Authorization header, or a credential longer than max_credential_bytes, is errc::unauthorized.
inline constexpr std::size_t max_credential_bytes = 4096;
result<std::string> read_credential(std::optional<std::string_view> authorization,
                                    std::optional<std::string_view> access_token);

// The claims of a user token, read (their shape checked) but not yet judged against the clock.
struct token_claims {
    std::string sub;
    std::int64_t expires_at_ms = 0;
    std::optional<std::int64_t> not_before_ms;
    std::optional<std::int64_t> issued_at_ms;
    std::optional<std::vector<std::uint64_t>> chats;
};
inline constexpr std::size_t max_chats_claim = 1000;
// errc::unauthorized unless a JSON object with sub (a user id) and exp (a NumericDate), and, when
// present, nbf and iat (NumericDates) and chats (an array of at most 1000 chat numbers).
result<token_claims> parse_claims(std::string_view json);

// Clock skew tolerated on exp and nbf.
inline constexpr std::int64_t clock_leeway_ms = 30'000;
// A token issued before its user's revocation (`revoked_before_ms`, 0: never revoked) is refused, and
// so is one without iat once its user was revoked.
result<void> check_claims(const token_claims& c, std::int64_t now_ms, std::int64_t revoked_before_ms);

// Authenticates a secret of `app`: the principal, or errc::unauthorized (compared in constant time).
result<principal> authenticate_secret(const app_access& app, std::string_view secret);
// Verifies a user token's signature with the secret its `kid` names, or with each secret in turn (a
// token minted by another JWT library may have no kid); refuses every alg but HS256 (none included).
// The revocation and the clock are checked by check_claims. Returns the claims and the signing secret.
struct verified_token {
    token_claims claims;
    std::string secret_id;
};
result<verified_token> verify_user_token(const app_access& app, std::string_view jwt);
principal user_principal(const verified_token& token);

// What a route does, for the decision below. Every route of api/handlers.cpp names one.
enum class action {
    read_app,         // GET /apps/{token}; open a WebSocket
    rename_app,       // PUT /apps/{token} with a name only
    configure_app,    // PUT /apps/{token} changing access (or anything but the name)
    manage_secrets,   // POST, GET, DELETE /apps/{token}/secrets
    manage_webhooks,  // everything under /apps/{token}/webhooks
    manage_users,     // POST /apps/{token}/users/{user}/tokens, …/revoke
    create_chat,      // POST /apps/{token}/chats
    list_chats,       // GET /apps/{token}/chats (a user sees its own chats)
    read_chat,        // GET of a chat, its members, messages, history, long poll, stream, search
    write_chat,       // POST a message, PUT a message (own messages only: may_change_message)
    manage_members,   // PUT, DELETE /apps/{token}/chats/{chat}/members/{user}
    delete_chat,      // DELETE /apps/{token}/chats/{chat}: the application's (secret, or open token)
};
std::string_view name_of(action a);
// Actions on one chat: the user's membership (and `chats` claim) decides them in a restricted app.
bool is_chat_action(action a);

enum class verdict { allow, unauthorized, forbidden, not_found };

// Whether the decision needs to know if the principal's user is a member of the chat.
bool needs_membership(const principal& p, action a, access_mode mode);
// The decision. `member` is read only when needs_membership() said so.
verdict decide(const principal& p, action a, access_mode mode, std::optional<std::uint64_t> chat,
               bool member);
// The error a verdict other than allow answers with; not_found uses `not_found_message` (the message
// the route gives for a chat that does not exist, so both answers are the same bytes).
core::error refusal(verdict v, std::string_view not_found_message);

// Whether the principal may edit (or delete) a message sent by `sender` (nullopt: no sender).
verdict may_change_message(const principal& p, const std::optional<std::string>& sender);

// A change of access, announced to every API server (Redis pub/sub, store/live.hpp) so that each drops
// what it cached and ends the live connections the change takes away:
//  - app: the access mode or the secrets changed (a deleted secret ends what it authenticated:
//    `secret_id`; in a restricted application, what had no credential ends);
//  - member: `user` was added to or removed from `chat`;
//  - user: `user`'s tokens issued before `before_ms` were revoked.
struct access_event {
    enum class kind { app, member, user };
    kind what = kind::app;
    std::string token;
    std::uint64_t app_id = 0;
    std::uint64_t chat = 0;
    std::string user;
    std::string secret_id;    // app: a secret that was deleted (empty: none)
    bool restricted = false;  // app: the mode after the change
    bool removed = false;     // member: removed rather than added
    std::int64_t before_ms = 0;
};
std::string encode(const access_event& e);
result<access_event> decode_access_event(std::string_view json);
// Whether a live connection opened by `p` on chat `chat` (0: a WebSocket, not one chat) of the event's
// application must end because of `e`.
bool ends_connection(const access_event& e, const principal& p, std::uint64_t chat);

}  // namespace chat::domain
