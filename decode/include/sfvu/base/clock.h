// sfvu/base/clock.h: the monotonic clock every timing in sfvu reads (encode stats, training
// budgets, batch progress, live latency), in seconds as a double.
#pragma once

#include <chrono>

namespace sfvu {

/// Seconds on the steady (monotonic) clock; only differences are meaningful.
inline double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace sfvu
