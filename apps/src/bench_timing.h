// Timing for the benchmarks: the best of N runs (the least disturbed by the rest of the
// machine), optionally after one untimed warm-up run.
#pragma once

#include <algorithm>
#include <chrono>

namespace sfvu::cli {

template <typename F>
double best_seconds(int repeat, F&& run, bool warm_up = false) {
  using Clock = std::chrono::steady_clock;
  if (warm_up) run();
  double best = 1e300;
  for (int i = 0; i < std::max(1, repeat); ++i) {
    auto t0 = Clock::now();
    run();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

}  // namespace sfvu::cli
