// Private: the synthetic benchmark's random numbers, identical on every platform.
//
// Note [Portable random numbers]
// std::mt19937_64 and std::seed_seq are specified bit for bit by the standard, but the
// std::*_distribution classes are not (libstdc++ and libc++ give different numbers), so
// the generator maps raw 64-bit words to numbers itself: doubles from the top 53 bits,
// integers by rejection (unbiased). A video depends only on (seed, index, options).
#pragma once

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

namespace sfvu::grounding::synth_detail {

/// SplitMix64 finaliser: spreads nearby seeds (7, 8) over unrelated engine states.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class SynthRng {
 public:
  explicit SynthRng(uint64_t seed) : engine_(seed) {}
  SynthRng(uint64_t a, uint64_t b) : engine_(mix64(mix64(a) ^ (b * 0xd1342543de82ef95ULL + 1))) {}

  uint64_t next() { return engine_(); }
  /// Uniform in [a, b).
  double uniform(double a, double b) { return a + (b - a) * (static_cast<double>(engine_() >> 11) * 0x1.0p-53); }
  /// Uniform integer in [a, b] (inclusive), a <= b.
  int64_t uniform_int(int64_t a, int64_t b) {
    const uint64_t span = static_cast<uint64_t>(b) - static_cast<uint64_t>(a) + 1;
    if (span == 0) return static_cast<int64_t>(engine_());  // the full 64-bit range
    const uint64_t limit = UINT64_MAX - UINT64_MAX % span;  // reject the biased tail
    uint64_t r;
    do r = engine_();
    while (r >= limit);
    return a + static_cast<int64_t>(r % span);
  }
  bool chance(double p) { return uniform(0, 1) < p; }
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[static_cast<size_t>(uniform_int(0, int64_t(v.size()) - 1))]; }
  /// Fisher-Yates.
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(uniform_int(0, int64_t(i) - 1))]);
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace sfvu::grounding::synth_detail
