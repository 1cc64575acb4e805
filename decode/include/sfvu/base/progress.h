// sfvu/base/progress.h: progress reporting without printing.
//
// Long operations take a ProgressCallback. It is called from the worker thread with the
// work done so far; returning false asks the operation to stop (it then throws
// sfvu::Cancelled or returns with `cancelled` set, as its header says).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace sfvu {

struct Progress {
  std::string stage;          ///< e.g. "decode", "index"
  int64_t done = 0;           ///< units completed
  int64_t total = -1;         ///< units expected, -1 when unknown (live input)
  double media_seconds = 0;   ///< position in the media timeline, seconds
};

using ProgressCallback = std::function<bool(const Progress&)>;

}  // namespace sfvu
