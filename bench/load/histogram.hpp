#pragma once
// A log-bucketed (HDR-style) histogram of non-negative integers, here microseconds. Values below 2048
// are counted exactly; above, each power-of-two range is split into 1024 linear buckets, so a reported
// value is at most 0.1% above the true one, for any magnitude, in a few hundred KiB at most. Exact
// sorted samples would be simpler but grow with the run (10^8 requests = 800 MB).
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace chat::load {

class histogram {
  public:
    static constexpr int exact_bits = 11;  // 2^11 values counted exactly; 2^10 buckets per octave above

    void record(std::uint64_t v) {
        auto i = index_of(v);
        if (i >= counts_.size()) counts_.resize(i + 1, 0);
        ++counts_[i];
        ++count_;
        sum_ += static_cast<double>(v);
        min_ = std::min(min_, v);
        max_ = std::max(max_, v);
    }

    void merge(const histogram& o) {
        if (o.counts_.size() > counts_.size()) counts_.resize(o.counts_.size(), 0);
        for (std::size_t i = 0; i < o.counts_.size(); ++i) counts_[i] += o.counts_[i];
        count_ += o.count_;
        sum_ += o.sum_;
        min_ = std::min(min_, o.min_);
        max_ = std::max(max_, o.max_);
    }

    std::uint64_t count() const { return count_; }
    std::uint64_t min() const { return count_ ? min_ : 0; }
    std::uint64_t max() const { return max_; }
    double mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0; }

    // The smallest recorded value v such that at least p% of the values are <= v (p in 0..100), as the
    // top of its bucket (never above the true maximum); 0 when empty.
    std::uint64_t percentile(double p) const {
        if (count_ == 0) return 0;
        if (p >= 100) return max_;
        auto rank = static_cast<std::uint64_t>(p / 100.0 * static_cast<double>(count_) + 0.999999999);
        rank = std::clamp<std::uint64_t>(rank, 1, count_);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen >= rank) return std::min(highest_in_bucket(i), max_);
        }
        return max_;
    }

    static std::size_t index_of(std::uint64_t v) {
        constexpr std::uint64_t exact = std::uint64_t{1} << exact_bits;
        if (v < exact) return static_cast<std::size_t>(v);
        int msb = 63 - std::countl_zero(v);
        int shift = msb - (exact_bits - 1);  // keeps the top exact_bits bits of v
        auto top = v >> shift;               // in [2^(exact_bits-1), 2^exact_bits)
        return static_cast<std::size_t>(exact + static_cast<std::uint64_t>(shift - 1) * (exact / 2) +
                                        (top - exact / 2));
    }

    static std::uint64_t highest_in_bucket(std::size_t index) {
        constexpr std::uint64_t exact = std::uint64_t{1} << exact_bits;
        if (index < exact) return index;
        auto above = static_cast<std::uint64_t>(index) - exact;
        auto shift = above / (exact / 2) + 1;
        auto top = above % (exact / 2) + exact / 2;
        if (shift >= 64 - exact_bits + 1) return std::numeric_limits<std::uint64_t>::max();
        return ((top + 1) << shift) - 1;
    }

  private:
    std::vector<std::uint64_t> counts_;
    std::uint64_t count_ = 0;
    double sum_ = 0;
    std::uint64_t min_ = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t max_ = 0;
};

}  // namespace chat::load
