#include "api/live_hub.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/metrics.hpp"

namespace chat::api {

namespace asio = boost::asio;

live_subscription::live_subscription(live_hub& hub, asio::any_io_executor ex, std::string token,
                                     std::uint64_t chat, std::size_t max_buffer, domain::principal who)
    : hub_(hub),
      token_(std::move(token)),
      chat_(chat),
      max_buffer_(max_buffer),
      who_(std::move(who)),
      timer_(std::move(ex)) {}

live_subscription::~live_subscription() {
    hub_.forget(this);
}

void live_subscription::wake_locked() {
    if (wake_posted_) return;
    wake_posted_ = true;
    // The timer belongs to the owner's strand: cancel it there.
    asio::post(timer_.get_executor(), [w = weak_from_this()] {
        if (auto s = w.lock()) s->timer_.cancel();
    });
}

void live_subscription::push(const domain::live_event& e) {
    std::lock_guard lock(mu_);
    if (closed_ || overflow_) return;
    if (queue_.size() >= max_buffer_) {
        overflow_ = true;
        core::metrics::live_dropped_slow();
    } else {
        queue_.push_back(e);
    }
    wake_locked();
}

void live_subscription::flag_resync() {
    std::lock_guard lock(mu_);
    resync_ = true;
    wake_locked();
}

void live_subscription::close(end_reason why) {
    std::lock_guard lock(mu_);
    if (!closed_) reason_ = why;
    closed_ = true;
    wake_locked();
}

live_subscription::end_reason live_subscription::reason() const {
    std::lock_guard lock(mu_);
    return reason_;
}

asio::awaitable<void> live_subscription::wait(std::chrono::steady_clock::time_point deadline) {
    {
        std::lock_guard lock(mu_);
        if (!queue_.empty() || resync_ || closed_ || overflow_) co_return;
        wake_posted_ = false;
    }
    timer_.expires_at(deadline);
    boost::system::error_code ec;
    co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

std::vector<domain::live_event> live_subscription::take() {
    std::lock_guard lock(mu_);
    std::vector<domain::live_event> out(std::make_move_iterator(queue_.begin()),
                                        std::make_move_iterator(queue_.end()));
    queue_.clear();
    return out;
}

bool live_subscription::overflowed() const {
    std::lock_guard lock(mu_);
    return overflow_;
}

bool live_subscription::closed() const {
    std::lock_guard lock(mu_);
    return closed_;
}

bool live_subscription::take_resync() {
    std::lock_guard lock(mu_);
    bool r = resync_;
    resync_ = false;
    return r;
}

std::shared_ptr<live_subscription> live_hub::subscribe(asio::any_io_executor ex, std::string token,
                                                       std::uint64_t chat, std::size_t max_buffer,
                                                       domain::principal who) {
    auto s =
        std::make_shared<live_subscription>(*this, std::move(ex), token, chat, max_buffer, std::move(who));
    std::lock_guard lock(mu_);
    by_chat_[{std::move(token), chat}].push_back(s.get());
    ++count_;
    if (closing_) s->close();
    return s;
}

std::shared_ptr<live_subscription> live_hub::watch(asio::any_io_executor ex, std::string token,
                                                   domain::principal who) {
    return subscribe(std::move(ex), std::move(token), 0, 1, std::move(who));
}

void live_hub::withdraw(const domain::access_event& e) {
    std::lock_guard lock(mu_);
    // Every chat of the application (chat 0: its WebSockets' watches), in the map's order.
    for (auto it = by_chat_.lower_bound({e.token, 0}); it != by_chat_.end() && it->first.first == e.token;
         ++it)
        for (auto* s : it->second)
            if (domain::ends_connection(e, s->who(), s->chat()))
                s->close(live_subscription::end_reason::revoked);
}

void live_hub::forget(live_subscription* s) {
    std::lock_guard lock(mu_);
    auto it = by_chat_.find({s->token(), s->chat()});
    if (it == by_chat_.end()) return;
    auto& v = it->second;
    for (auto i = v.begin(); i != v.end(); ++i)
        if (*i == s) {
            v.erase(i);
            --count_;
            break;
        }
    if (v.empty()) by_chat_.erase(it);
}

void live_hub::publish(const domain::live_event& e) {
    // Subscriptions unregister in their destructor under mu_, so the pointers are alive while it is held.
    std::lock_guard lock(mu_);
    auto it = by_chat_.find({e.token, e.chat});
    if (it == by_chat_.end()) return;
    for (auto* s : it->second) s->push(e);
}

void live_hub::resync_all() {
    std::lock_guard lock(mu_);
    for (auto& [key, subs] : by_chat_)
        for (auto* s : subs) s->flag_resync();
}

void live_hub::close_all() {
    std::lock_guard lock(mu_);
    closing_ = true;
    for (auto& [key, subs] : by_chat_)
        for (auto* s : subs) s->close();
}

std::size_t live_hub::subscriptions() const {
    std::lock_guard lock(mu_);
    return count_;
}

}  // namespace chat::api
