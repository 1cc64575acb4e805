// sfvu/pathways/token_planner.h: how many frames each pathway takes from a video, at which
// times, and how many tokens they become.
//
// Note [Token budget]
// Both pathways start from their wanted rates: n = ceil(duration * fps) frames at
// t_k = k / fps (or n_frames at segment midpoints). If slow + fast tokens exceed the budget B:
//   1. both counts are scaled by the same factor r = B / tokens (the slow:fast ratio is kept),
//      rounding down;
//   2. the fast pathway is the timeline, so it never goes below one frame per clip
//      (ceil(duration / clip_seconds), or its wanted count if smaller); the slow pathway gets
//      what the fast one leaves: floor((B - fast tokens) / slow tokens per frame);
//   3. if that leaves no slow frame, the fast pooling is halved (4x4 -> 2x2 -> 1x1) and step 2
//      repeats; at 1x1 the slow pathway keeps one frame and the plan is marked over budget.
// Thinned pathways sample at fps' = n / duration (t_k = k * duration / n), so frames stay
// evenly spread. Example (ViT-B/32: 49 slow and 16 fast tokens per frame, B = 32768): 60 s
// keeps 1 + 8 fps (60 + 480 frames, 10620 tokens); 10 min scales to 185 + 1481 frames
// (0.31 + 2.47 fps, 32761 tokens); 1 hour keeps the fast floor of 1800 frames (0.5 fps,
// 28800 tokens) and 80 slow frames. Raise the budget for denser long videos.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sfvu/decode/frame_index.h"
#include "sfvu/pathways/slowfast_options.h"

namespace sfvu::pathways {

struct PathwayPlan {
  std::vector<double> times_seconds;  ///< requested times, increasing (frame displayed at t)
  int input_size = 0;                 ///< backbone input side, pixels
  int grid_h = 0, grid_w = 0;         ///< backbone patch grid at that size
  int tokens_h = 0, tokens_w = 0;     ///< per-frame token grid after pooling
  int pool_h = 0, pool_w = 0;         ///< adaptive pool applied (0 = none)
  bool pair_max_pool = false;
  int64_t n_frames() const { return static_cast<int64_t>(times_seconds.size()); }
  int64_t tokens_per_frame() const { return int64_t(tokens_h) * tokens_w; }
  int64_t tokens() const { return n_frames() * tokens_per_frame(); }
  double fps(double duration_seconds) const { return duration_seconds > 0 ? n_frames() / duration_seconds : 0; }
};

struct SlowFastPlan {
  PathwayPlan slow, fast;
  /// Slow frames are fast frames (same times and input size): one backbone pass serves both,
  /// slow frame j being fast frame slow_positions[j].
  bool shared_frames = false;
  std::vector<int64_t> slow_positions;
  double duration_seconds = 0;
  bool thinned = false;      ///< the budget lowered a rate (Note [Token budget])
  bool over_budget = false;  ///< even the floor exceeds the budget
  int64_t total_tokens() const { return slow.tokens() + fast.tokens(); }
  std::string describe() const;  ///< "slow 60 x 7x7 @224, fast 480 x 4x4 @128: 10620 tokens"
};

/// Plans a video of `duration_seconds` (> 0) for a vision tower. `index` (may be null) is
/// needed only for SF-LLaVA sampling, which picks frames by index; their times are then the
/// indexed frames' pts. A pool larger than the grid keeps the grid. Throws UsageError (bad
/// options, odd grid width with pair pooling, an input smaller than one patch) or
/// FormatError (unknown duration, SF-LLaVA sampling without an index).
SlowFastPlan plan_tokens(const SlowFastOptions& options, const ClipVisionConfig& vision, double duration_seconds,
                         const decode::FrameIndex* index = nullptr);

}  // namespace sfvu::pathways
