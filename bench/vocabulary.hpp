#pragma once
// Generated words with a Zipf frequency (s = 1.1), as in real chat text: a few words are everywhere,
// most are rare. Shared by the search benchmark and chat_load so both exercise the index with the same
// kind of text.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <random>
#include <string>
#include <vector>

namespace chat::bench {

struct vocabulary {
    std::vector<std::string> words;
    std::vector<double> cumulative;  // Zipf(s = 1.1)

    explicit vocabulary(std::mt19937_64& rng, std::size_t size) {
        std::uniform_int_distribution<int> len(3, 10), letter(0, 25);
        double total = 0;
        for (std::size_t i = 0; i < size; ++i) {
            std::string w;
            int n = len(rng);
            for (int k = 0; k < n; ++k) w.push_back(static_cast<char>('a' + letter(rng)));
            words.push_back(w);
            total += 1.0 / std::pow(static_cast<double>(i + 1), 1.1);
            cumulative.push_back(total);
        }
        for (auto& c : cumulative) c /= total;
    }

    const std::string& pick(std::mt19937_64& rng) const {
        double u = std::uniform_real_distribution<double>(0, 1)(rng);
        auto it = std::lower_bound(cumulative.begin(), cumulative.end(), u);
        return words[std::min<std::size_t>(static_cast<std::size_t>(it - cumulative.begin()),
                                           words.size() - 1)];
    }
};

}  // namespace chat::bench
