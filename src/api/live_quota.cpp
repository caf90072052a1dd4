#include "api/live_quota.hpp"

namespace chat::api {

namespace {
core::error over(std::string message) {
    auto e = core::make_error(core::errc::rate_limited, std::move(message));
    e.retry_after_s = 5;
    return e;
}
}  // namespace

core::result<live_quota::lease> live_quota::acquire(const std::string& token, const std::string& user) {
    std::lock_guard lock(mu_);
    // Nothing is counted (no entry made) until both limits admit the newcomer.
    if (auto it = by_app_.find(token); it != by_app_.end() && it->second >= per_app_)
        return over("this application holds its share of this server's live connections; retry later");
    if (!user.empty()) {
        if (auto it = by_user_.find({token, user}); it != by_user_.end() && it->second >= per_user_)
            return over("this user holds as many live connections as it may; retry later");
        ++by_user_[{token, user}];
    }
    ++by_app_[token];
    return lease(this, token, user);
}

std::size_t live_quota::held(const std::string& token) const {
    std::lock_guard lock(mu_);
    auto it = by_app_.find(token);
    return it == by_app_.end() ? 0 : it->second;
}

void live_quota::release(const std::string& token, const std::string& user) {
    std::lock_guard lock(mu_);
    if (auto it = by_app_.find(token); it != by_app_.end() && --it->second == 0) by_app_.erase(it);
    if (user.empty()) return;
    if (auto it = by_user_.find({token, user}); it != by_user_.end() && --it->second == 0) by_user_.erase(it);
}

}  // namespace chat::api
