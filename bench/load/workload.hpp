#pragma once
// What the load consists of: the operation mix, message bodies, and the model of what exists
// (applications, chats, acknowledged message numbers) that requests are aimed at. Reads only name
// things acknowledged earlier, so a 404 on them is a real failure of the service.
#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "options.hpp"
#include "vocabulary.hpp"

namespace chat::load {

// Picks operations with probabilities proportional to their weights.
class op_mix {
  public:
    explicit op_mix(const std::array<double, op_count>& weights);
    op_kind pick(std::mt19937_64& rng) const;

  private:
    std::array<double, op_count> cumulative_{};
};

// Chat indices [0, hot) are hot, [hot, total) cold: a hot one with probability hot_share (when there
// are both kinds), uniformly within the kind.
std::size_t pick_index(std::mt19937_64& rng, std::size_t total, std::size_t hot, double hot_share);

// Message lengths in bytes: most between 20 and 200 (log-uniform, so short ones dominate), one in ten
// between 200 and 2000, like chat text with the occasional pasted paragraph.
std::size_t message_length(std::mt19937_64& rng);
// Words of the vocabulary separated by spaces (sometimes a comma or a question mark), about `length`
// bytes long.
std::string make_body(std::mt19937_64& rng, const bench::vocabulary& vocab, std::size_t length);

struct chat_target {
    std::size_t index = 0;  // in the world
    std::string token;
    std::uint64_t chat = 0;
    std::uint64_t message = 0;       // an acknowledged message number (when asked for)
    std::uint64_t message_hash = 0;  // its body's FNV-1a 64
    std::string word;                // a word of an acknowledged message (when asked for)
};

// Shared by all I/O threads; every call takes the mutex for a few microseconds at most.
class world {
  public:
    // `credential`: the Authorization value of requests to it (empty: none, an open application).
    std::size_t add_app(const std::string& token, const std::string& credential = {});
    std::string credential_of(const std::string& token);
    std::size_t add_chat(std::size_t app, std::uint64_t number);
    void add_message(std::size_t chat, std::uint64_t number, std::uint64_t hash, const std::string& body);
    // Makes the first `fraction` of the chats known so far the hot ones (after the setup, so new chats
    // created by the run are cold).
    void set_hot(double fraction, double share, std::mt19937_64& rng);

    // A chat by the hot/cold rule; with need_message one that has an acknowledged message (a few tries,
    // then nullopt), filled with a random acknowledged number and a word of its messages.
    std::optional<chat_target> pick_chat(std::mt19937_64& rng, bool need_message);
    std::optional<chat_target> chat_at(std::size_t index);
    std::optional<std::pair<std::size_t, std::string>> pick_app(std::mt19937_64& rng);
    std::optional<std::pair<std::size_t, std::string>> app_at(std::size_t index);
    // Registers a body for a new creation; false if this exact body was used before in the run (the
    // caller makes another), so that a body stored twice can only be a creation stored twice.
    bool claim_body(std::uint64_t hash);

    std::size_t app_count();
    std::size_t chat_count();

  private:
    struct chat_state {
        std::size_t app = 0;
        std::uint64_t number = 0;
        std::vector<std::pair<std::uint64_t, std::uint64_t>> messages;  // acknowledged (number, hash)
        std::array<std::string, 8> words;                               // recent words, for searches
        std::size_t next_word = 0;
    };
    std::mutex mutex_;
    std::vector<std::string> apps_;
    std::unordered_map<std::string, std::string> credentials_;
    std::vector<chat_state> chats_;
    std::unordered_set<std::uint64_t> bodies_;
    std::size_t hot_ = 0;
    double hot_share_ = 0;
};

}  // namespace chat::load
