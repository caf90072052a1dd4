#include "histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using chat::load::histogram;

TEST(load_histogram, small_values_are_exact) {
    histogram h;
    for (std::uint64_t v = 1; v <= 100; ++v) h.record(v);
    EXPECT_EQ(h.count(), 100u);
    EXPECT_EQ(h.min(), 1u);
    EXPECT_EQ(h.max(), 100u);
    EXPECT_EQ(h.percentile(50), 50u);
    EXPECT_EQ(h.percentile(90), 90u);
    EXPECT_EQ(h.percentile(99), 99u);
    EXPECT_EQ(h.percentile(99.9), 100u);
    EXPECT_EQ(h.percentile(100), 100u);
    EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(load_histogram, empty_reports_zero) {
    histogram h;
    EXPECT_EQ(h.percentile(50), 0u);
    EXPECT_EQ(h.max(), 0u);
    EXPECT_EQ(h.min(), 0u);
}

TEST(load_histogram, buckets_are_contiguous_and_tight) {
    // Every value maps to a bucket whose top is >= the value and at most 0.1% above it.
    std::size_t last = 0;
    for (std::uint64_t v = 0; v < (1u << 20); ++v) {
        auto i = histogram::index_of(v);
        ASSERT_TRUE(i == last || i == last + 1) << v;
        last = i;
        auto top = histogram::highest_in_bucket(i);
        ASSERT_GE(top, v);
        ASSERT_LE(static_cast<double>(top - v), static_cast<double>(v) / 1024.0 + 0.5) << v;
    }
    for (std::uint64_t v :
         {std::uint64_t{1} << 40, (std::uint64_t{1} << 40) + 12345, std::uint64_t{1} << 62}) {
        auto top = histogram::highest_in_bucket(histogram::index_of(v));
        EXPECT_GE(top, v);
        EXPECT_LE(static_cast<double>(top - v), static_cast<double>(v) / 1024.0);
    }
}

TEST(load_histogram, percentiles_match_exact_sorted_samples_within_a_thousandth) {
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> d(9, 1.5);  // microseconds: ~8 ms median, long tail
    std::vector<std::uint64_t> samples;
    histogram h;
    for (int i = 0; i < 200000; ++i) {
        auto v = static_cast<std::uint64_t>(d(rng));
        samples.push_back(v);
        h.record(v);
    }
    std::sort(samples.begin(), samples.end());
    for (double p : {50.0, 90.0, 99.0, 99.9}) {
        // ceil(p% of n) in integers: 99.9 / 100 * n in doubles lands just above a whole rank.
        auto tenths = static_cast<std::size_t>(std::llround(p * 10));
        auto rank = (tenths * samples.size() + 999) / 1000;
        auto exact = samples[rank - 1];
        auto got = h.percentile(p);
        EXPECT_GE(got, exact) << p;
        EXPECT_LE(static_cast<double>(got), static_cast<double>(exact) * 1.001 + 1) << p;
    }
    EXPECT_EQ(h.max(), samples.back());
    EXPECT_EQ(h.min(), samples.front());
}

TEST(load_histogram, merge_equals_recording_everything_in_one) {
    histogram a, b, all;
    for (std::uint64_t v = 0; v < 5000; v += 3) a.record(v * 7), all.record(v * 7);
    for (std::uint64_t v = 0; v < 90000; v += 11) b.record(v * 13), all.record(v * 13);
    a.merge(b);
    EXPECT_EQ(a.count(), all.count());
    EXPECT_EQ(a.max(), all.max());
    for (double p : {1.0, 50.0, 99.0, 99.9}) EXPECT_EQ(a.percentile(p), all.percentile(p));
}
