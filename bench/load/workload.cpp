#include "workload.hpp"

#include <algorithm>
#include <cmath>
#include <string_view>

namespace chat::load {

op_mix::op_mix(const std::array<double, op_count>& weights) {
    double total = 0;
    for (std::size_t i = 0; i < op_count; ++i) {
        total += std::max(0.0, weights[i]);
        cumulative_[i] = total;
    }
    for (auto& c : cumulative_) c = total > 0 ? c / total : 0;
}

op_kind op_mix::pick(std::mt19937_64& rng) const {
    double u = std::uniform_real_distribution<double>(0, 1)(rng);
    for (std::size_t i = 0; i < op_count; ++i)
        // Strictly below: an operation of weight 0 (an empty interval) is never chosen.
        if (u < cumulative_[i]) return static_cast<op_kind>(i);
    // u == 1.0 cannot happen with uniform_real_distribution, rounding aside: the last weighted kind.
    for (std::size_t i = op_count; i-- > 0;)
        if (i == 0 || cumulative_[i] > cumulative_[i - 1]) return static_cast<op_kind>(i);
    return op_kind::create_message;
}

std::size_t pick_index(std::mt19937_64& rng, std::size_t total, std::size_t hot, double hot_share) {
    if (total == 0) return 0;
    hot = std::min(hot, total);
    bool want_hot = hot == total || (hot > 0 && std::bernoulli_distribution(hot_share)(rng));
    if (want_hot) return std::uniform_int_distribution<std::size_t>(0, hot - 1)(rng);
    return std::uniform_int_distribution<std::size_t>(hot, total - 1)(rng);
}

std::size_t message_length(std::mt19937_64& rng) {
    bool long_one = std::bernoulli_distribution(0.1)(rng);
    double lo = long_one ? 200 : 20, hi = long_one ? 2000 : 200;
    double x = std::exp(std::uniform_real_distribution<double>(std::log(lo), std::log(hi))(rng));
    return std::clamp<std::size_t>(static_cast<std::size_t>(std::lround(x)), static_cast<std::size_t>(lo),
                                   static_cast<std::size_t>(hi));
}

std::string make_body(std::mt19937_64& rng, const bench::vocabulary& vocab, std::size_t length) {
    std::string body;
    body.reserve(length + 16);
    std::uniform_int_distribution<int> punct(0, 19);
    while (body.size() < length) {
        if (!body.empty()) {
            int p = punct(rng);
            body += p == 0 ? ", " : p == 1 ? "? " : " ";
        }
        body += vocab.pick(rng);
    }
    return body;
}

std::size_t world::add_app(const std::string& token, const std::string& credential) {
    std::lock_guard lock(mutex_);
    apps_.push_back(token);
    if (!credential.empty()) credentials_[token] = credential;
    return apps_.size() - 1;
}

std::string world::credential_of(const std::string& token) {
    std::lock_guard lock(mutex_);
    auto it = credentials_.find(token);
    return it == credentials_.end() ? std::string() : it->second;
}

std::size_t world::add_chat(std::size_t app, std::uint64_t number) {
    std::lock_guard lock(mutex_);
    chats_.push_back(chat_state{app, number, {}, {}, 0});
    return chats_.size() - 1;
}

void world::add_message(std::size_t chat, std::uint64_t number, std::uint64_t hash, const std::string& body) {
    // One word of the body for later searches, chosen by the hash (any word will do, the first one would
    // favour whatever starts messages). Split outside the lock.
    std::vector<std::string_view> words;
    std::string_view rest = body;
    while (!rest.empty()) {
        auto end = rest.find_first_of(" ,?");
        if (end != 0) words.push_back(rest.substr(0, end));
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    }
    std::string word = words.empty() ? std::string() : std::string(words[hash % words.size()]);
    std::lock_guard lock(mutex_);
    auto& c = chats_.at(chat);
    c.messages.emplace_back(number, hash);
    if (word.size() >= 3) {
        c.words[c.next_word % c.words.size()] = std::move(word);
        ++c.next_word;
    }
}

void world::set_hot(double fraction, double share, std::mt19937_64& rng) {
    std::lock_guard lock(mutex_);
    std::shuffle(chats_.begin(), chats_.end(), rng);
    hot_ = chats_.empty()
               ? 0
               : std::clamp<std::size_t>(
                     static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(chats_.size()))),
                     fraction > 0 ? 1 : 0, chats_.size());
    hot_share_ = share;
}

std::optional<chat_target> world::pick_chat(std::mt19937_64& rng, bool need_message) {
    std::lock_guard lock(mutex_);
    if (chats_.empty()) return std::nullopt;
    for (int attempt = 0; attempt < 8; ++attempt) {
        auto i = pick_index(rng, chats_.size(), hot_, hot_share_);
        const auto& c = chats_[i];
        if (need_message && c.messages.empty()) continue;
        chat_target t{i, apps_[c.app], c.number, 0, 0, {}};
        if (need_message) {
            const auto& [n, h] =
                c.messages[std::uniform_int_distribution<std::size_t>(0, c.messages.size() - 1)(rng)];
            t.message = n;
            t.message_hash = h;
            auto known = std::min(c.next_word, c.words.size());
            if (known > 0) t.word = c.words[std::uniform_int_distribution<std::size_t>(0, known - 1)(rng)];
        }
        return t;
    }
    return std::nullopt;
}

std::optional<chat_target> world::chat_at(std::size_t index) {
    std::lock_guard lock(mutex_);
    if (index >= chats_.size()) return std::nullopt;
    return chat_target{index, apps_[chats_[index].app], chats_[index].number, 0, 0, {}};
}

std::optional<std::pair<std::size_t, std::string>> world::pick_app(std::mt19937_64& rng) {
    std::lock_guard lock(mutex_);
    if (apps_.empty()) return std::nullopt;
    auto i = std::uniform_int_distribution<std::size_t>(0, apps_.size() - 1)(rng);
    return std::pair{i, apps_[i]};
}

std::optional<std::pair<std::size_t, std::string>> world::app_at(std::size_t index) {
    std::lock_guard lock(mutex_);
    if (index >= apps_.size()) return std::nullopt;
    return std::pair{index, apps_[index]};
}

bool world::claim_body(std::uint64_t hash) {
    std::lock_guard lock(mutex_);
    return bodies_.insert(hash).second;
}

std::size_t world::app_count() {
    std::lock_guard lock(mutex_);
    return apps_.size();
}

std::size_t world::chat_count() {
    std::lock_guard lock(mutex_);
    return chats_.size();
}

}  // namespace chat::load
