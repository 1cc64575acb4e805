// sfvu/decode/sampling.h: which frames to take, always defined by time.
//
// Note [Frame displayed at time t]
// A request for time t (seconds from the first frame's pts) is served by the frame being
// displayed at t: the last frame with pts <= t, i.e. the frame whose [pts, next_pts) contains
// t. Times before the first frame get the first frame; times at or past the end of the last
// frame get nothing. This is what a player shows and what torchcodec/decord call "played
// at"; it differs from `ffmpeg -ss t` (first frame with pts >= t): on the VFR fire2.mp4,
// t = 2.2 s gives the frame at 2.1799 s here and 2.2798 s in the ffmpeg CLI. If a frame
// cannot be decoded (corrupt packet), its times are served by the frame displayed before it,
// again as a player would; stats.decode_errors says it happened.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace sfvu::decode {

enum class SampleMode {
  kAll,         ///< every frame displayed in [from, to)
  kFps,         ///< t_k = from + k / fps, t_k < to
  kCount,       ///< N segment midpoints: t_k = from + (k + 0.5) * (to - from) / N
  kTimestamps,  ///< explicit times, any order, duplicates allowed (output keeps request order)
};

struct SamplingPlan {
  SampleMode mode = SampleMode::kAll;
  double fps = 1.0;                 ///< kFps
  int64_t count = 16;               ///< kCount
  std::vector<double> timestamps;   ///< kTimestamps, seconds
  double from_seconds = 0.0;
  /// End of the range (exclusive); infinity = end of video (required finite for kCount on
  /// inputs of unknown duration).
  double to_seconds = std::numeric_limits<double>::infinity();

  static SamplingPlan all() { return {}; }
  static SamplingPlan at_fps(double fps) { SamplingPlan p; p.mode = SampleMode::kFps; p.fps = fps; return p; }
  static SamplingPlan uniform(int64_t n) { SamplingPlan p; p.mode = SampleMode::kCount; p.count = n; return p; }
  static SamplingPlan at(std::vector<double> t) { SamplingPlan p; p.mode = SampleMode::kTimestamps; p.timestamps = std::move(t); return p; }
  SamplingPlan& range(double from, double to) { from_seconds = from; to_seconds = to; return *this; }

  /// Throws UsageError for fps <= 0, count <= 0, from > to, negative or non-finite times.
  void validate() const;
  std::string describe() const;
};

/// A requested time and the output slot it fills.
struct SampleTarget {
  double seconds = 0;
  int64_t slot = 0;
};

/// Target times of a plan over a video of `duration_seconds` (< 0: unknown), sorted by time
/// (slots keep request order). kAll has no targets (it is frame-driven). For kFps with an
/// unknown duration and no `to`, the list would be infinite: use TargetCursor instead.
std::vector<SampleTarget> plan_targets(const SamplingPlan& plan, double duration_seconds);

/// Lazily yields a plan's targets in time order; works for unbounded live plans.
class TargetCursor {
 public:
  TargetCursor(const SamplingPlan& plan, double duration_seconds);
  bool done() const;
  /// Next pending target (valid when !done()).
  const SampleTarget& peek() const { return current_; }
  void pop();
  /// Number of targets, -1 when unbounded.
  int64_t total() const { return total_; }

 private:
  void load(int64_t k);
  SamplingPlan plan_;
  std::vector<SampleTarget> list_;  // kCount / kTimestamps
  double end_ = 0;
  int64_t k_ = 0;
  int64_t total_ = -1;
  bool done_ = false;
  SampleTarget current_;
};

}  // namespace sfvu::decode
