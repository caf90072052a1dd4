#pragma once
// Authentication and authorization of a request, done once before its handler runs (handlers::dispatch,
// and the live connections when they open and on every heartbeat): the application's access (mode and
// secrets), the caller's principal, and domain::decide with the membership it needs.
//
// What a server needs is cached here, so a request makes no round trip to a dependency in the common
// case: an application's access, a user's revocation time, whether a user is a member of a chat. Any
// API server that changes one announces it (domain::access_event over Redis pub/sub); every server
// then drops its entry (forget), and ends the live connections the change takes away (live_hub). An
// entry is also re-read after 30 s, and everything is dropped when the fan-out reconnects (events may
// have been lost meanwhile). When the store cannot answer, the last value read is still used: every
// change of access is written to MariaDB first, so none can be made while it is away, and a server
// re-reads every 30 s while it is up, so it misses nothing for longer than that before an outage.
//
// Thread-safe: the I/O threads authenticate concurrently; forget() runs on the fan-out's thread.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>

#include "api/creation.hpp"
#include "core/error.hpp"
#include "domain/access.hpp"

namespace chat::api {

// Whether a user is a member of a chat, and whether the chat exists at all (a negative answer about a
// chat that does not exist yet is not cached: its creator becomes its member when it is created).
struct membership {
    bool member = false;
    bool chat_known = false;
};

// What access control needs from the stores (api/chat_service.cpp: MariaDB and Redis on the blocking
// pool). Unit tests replace it with a fake.
class access_stores {
  public:
    virtual ~access_stores() = default;
    // The application's mode and secrets; nullopt when no application has this token.
    virtual task<std::optional<domain::app_access>> load_app(const std::string& token) = 0;
    // When the user's tokens issued earlier are refused (0: never).
    virtual task<std::int64_t> load_revocation(std::uint64_t app_id, const std::string& user) = 0;
    // A stored member row decides; a chat not stored yet has its creator (as Redis knows it) as member.
    virtual task<membership> load_membership(const domain::app_access& app, std::uint64_t chat,
                                             const std::string& user) = 0;
    // A secret authenticated a request or verified a token: its last-use time moves (off this path).
    virtual void secret_used(std::uint64_t app_id, const std::string& secret_id) = 0;
};

// The caller of a request, authenticated: its application's access and who it is.
struct caller {
    std::shared_ptr<const domain::app_access> app;
    domain::principal who;
    const std::string& token() const { return app->token; }
    domain::access_mode mode() const { return app->mode; }
};

class access_control {
  public:
    using clock = std::chrono::steady_clock;
    static constexpr std::chrono::seconds fresh_for{30};

    explicit access_control(access_stores& stores, std::function<std::int64_t()> wall_ms = {});

    // The caller of a request to application `token` presenting `credential` (empty: none). errc::not_found
    // for an unknown application, errc::unauthorized for a credential that does not hold.
    task<caller> authenticate(const std::string& token, const std::string& credential);
    // Nothing when the caller may do `a` (on `chat`, for a chat action); else the error to answer. A
    // chat the caller may not reach answers errc::not_found with `not_found_message`, the very answer
    // of a chat that does not exist.
    boost::asio::awaitable<std::optional<core::error>> authorize(const caller& c, domain::action a,
                                                                 std::optional<std::uint64_t> chat,
                                                                 std::string_view not_found_message);
    // Whether a live connection opened by `c` still holds (its token not expired, not revoked, its
    // secret not deleted, its user still a member of `chat` when chat > 0): asked on every heartbeat.
    boost::asio::awaitable<bool> still_holds(const caller& c, std::uint64_t chat);

    // Another server (or this one) changed access: drop what it touches.
    void forget(const domain::access_event& e);
    // The fan-out reconnected: drop everything.
    void forget_all();

  private:
    task<std::shared_ptr<const domain::app_access>> app_of(const std::string& token);
    // A user token's signature and claims, verified once per server: later requests with the same
    // token (every request of a session) skip libjwt and the JSON. The clock and the revocation are
    // judged on every request (check_claims), the signing secret's presence too.
    core::result<domain::verified_token> verified(const domain::app_access& app, const std::string& jwt);
    task<std::int64_t> revocation_of(std::uint64_t app_id, const std::string& user);
    task<bool> is_member(const domain::app_access& app, std::uint64_t chat, const std::string& user);

    template <class V>
    struct entry {
        V value;
        clock::time_point read_at;
    };
    using member_key = std::tuple<std::uint64_t, std::uint64_t, std::string>;  // app, chat, user
    using user_key = std::pair<std::uint64_t, std::string>;                    // app, user

    access_stores& stores_;
    std::function<std::int64_t()> wall_ms_;
    std::mutex mu_;
    std::unordered_map<std::string, entry<std::shared_ptr<const domain::app_access>>> apps_;
    std::map<user_key, entry<std::int64_t>> revocations_;
    std::map<member_key, entry<bool>> members_;
    std::unordered_map<std::string, domain::verified_token> tokens_;  // application token \0 JWT
};

}  // namespace chat::api
