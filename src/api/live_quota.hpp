#pragma once
// The fair share of one API server's live connections (SSE streams, WebSockets, long polls): an
// application holds at most `per_app` of them, a user at most `per_user`; past either, the newcomer is
// refused (429 with Retry-After), never another tenant. With the defaults (half of
// CHAT_MAX_CONNECTIONS per application) one application always leaves the others room.
//
// Thread-safe (the I/O threads acquire and release concurrently).
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

#include "core/error.hpp"

namespace chat::api {

class live_quota {
  public:
    live_quota(std::size_t per_app, std::size_t per_user) : per_app_(per_app), per_user_(per_user) {}

    // One live connection held; released when destroyed.
    class lease {
      public:
        lease(live_quota* q, std::string token, std::string user)
            : q_(q), token_(std::move(token)), user_(std::move(user)) {}
        lease(lease&& o) noexcept
            : q_(std::exchange(o.q_, nullptr)), token_(std::move(o.token_)), user_(std::move(o.user_)) {}
        lease& operator=(lease&&) = delete;
        lease(const lease&) = delete;
        ~lease() {
            if (q_) q_->release(token_, user_);
        }

      private:
        live_quota* q_;
        std::string token_;
        std::string user_;
    };

    // A lease for application `token` and `user` (empty: a caller that is no user), or the 429 that
    // refuses it.
    core::result<lease> acquire(const std::string& token, const std::string& user);
    std::size_t held(const std::string& token) const;

  private:
    void release(const std::string& token, const std::string& user);

    std::size_t per_app_;
    std::size_t per_user_;
    mutable std::mutex mu_;
    std::map<std::string, std::size_t> by_app_;
    std::map<std::pair<std::string, std::string>, std::size_t> by_user_;
};

}  // namespace chat::api
