#include "sfvu/pathways/token_planner.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "sfvu/base/error.h"
#include "sfvu/pathways/slowfast_layout.h"

namespace sfvu::pathways {
namespace {

// Frames a rate gives over the video: t_k = k / fps for t_k < duration.
int64_t count_at_fps(double duration, double fps) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(duration * fps - 1e-9)));
}

// n frames t_k = k / fps (fps > 0), or evenly over the video (t_k = k * duration / n).
std::vector<double> times_at_fps(double duration, int64_t n, double fps = 0) {
  std::vector<double> t(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) t[size_t(k)] = fps > 0 ? double(k) / fps : double(k) * duration / double(n);
  return t;
}

std::vector<double> times_at_midpoints(double duration, int64_t n) {
  std::vector<double> t(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) t[size_t(k)] = (double(k) + 0.5) * duration / double(n);
  return t;
}

std::vector<double> pathway_times(const PathwayOptions& o, double duration, int64_t n, bool thinned) {
  if (thinned) return times_at_fps(duration, n);
  return o.n_frames > 0 ? times_at_midpoints(duration, n) : times_at_fps(duration, n, o.fps);
}


PathwayPlan grid_plan(const char* name, const PathwayOptions& o, const ClipVisionConfig& vision) {
  PathwayPlan p;
  p.input_size = resolve_input_size(o, vision);
  if (p.input_size < vision.patch_size)
    throw UsageError(std::string(name) + " input size " + std::to_string(p.input_size) + " is smaller than one " +
                     std::to_string(vision.patch_size) + "-pixel patch");
  p.grid_h = p.grid_w = p.input_size / vision.patch_size;
  p.tokens_h = p.grid_h;
  p.tokens_w = p.grid_w;
  if (o.pool_h > 0) {
    p.pool_h = std::min(o.pool_h, p.grid_h);
    p.pool_w = std::min(o.pool_w, p.grid_w);
    p.tokens_h = p.pool_h;
    p.tokens_w = p.pool_w;
  }
  p.pair_max_pool = o.pair_max_pool;
  if (p.pair_max_pool) {
    if (p.tokens_w % 2 != 0)
      throw UsageError(std::string(name) + " pair max-pooling needs an even token grid width, got " +
                       std::to_string(p.tokens_w));
    p.tokens_w /= 2;
  }
  return p;
}

void set_pool(PathwayPlan& p, int pool) {
  p.pool_h = p.pool_w = pool;
  p.tokens_h = p.tokens_w = pool;
}

// Note [Token budget] in token_planner.h.
void apply_budget(SlowFastPlan& plan, const SlowFastOptions& o, int64_t n_slow, int64_t n_fast) {
  const double duration = plan.duration_seconds;
  const int64_t budget = o.token_budget, wanted_slow = n_slow, wanted_fast = n_fast;
  auto tokens = [&](int64_t ns, int64_t nf) { return ns * plan.slow.tokens_per_frame() + nf * plan.fast.tokens_per_frame(); };
  if (budget > 0 && tokens(n_slow, n_fast) > budget) {
    plan.thinned = true;
    const double r = double(budget) / double(tokens(n_slow, n_fast));
    const int64_t fast_floor = std::min(n_fast, count_at_fps(duration, 1.0 / o.clip_seconds));
    for (;;) {
      int64_t nf = std::max(fast_floor, static_cast<int64_t>(std::floor(double(n_fast) * r)));
      int64_t left = budget - nf * plan.fast.tokens_per_frame();
      int64_t ns = left > 0 ? std::min(n_slow, left / plan.slow.tokens_per_frame()) : 0;
      if (ns >= 1) {
        n_slow = ns;
        n_fast = nf;
        break;
      }
      if (plan.fast.tokens_per_frame() > 1) {  // step 3: coarser fast pooling
        const int pool = std::max(1, std::min(plan.fast.tokens_h, plan.fast.tokens_w) / 2);
        set_pool(plan.fast, pool);
        continue;
      }
      n_slow = 1;
      n_fast = nf;
      plan.over_budget = true;
      break;
    }
  }
  plan.slow.times_seconds = pathway_times(o.slow, duration, n_slow, n_slow != wanted_slow);
  plan.fast.times_seconds = pathway_times(o.fast, duration, n_fast, n_fast != wanted_fast);
}

// Slow frame j = fast frame slow_positions[j] when input sizes match and every slow time is
// a fast time: the backbone then runs once per frame.
void find_shared_frames(SlowFastPlan& plan) {
  if (plan.slow.input_size != plan.fast.input_size) return;
  std::vector<int64_t> positions;
  const auto& ft = plan.fast.times_seconds;
  for (double t : plan.slow.times_seconds) {
    auto it = std::lower_bound(ft.begin(), ft.end(), t - 1e-9);
    if (it == ft.end() || std::abs(*it - t) > 1e-9) return;
    positions.push_back(it - ft.begin());
  }
  plan.shared_frames = true;
  plan.slow_positions = std::move(positions);
}

}  // namespace

std::string SlowFastPlan::describe() const {
  std::ostringstream s;
  auto one = [&](const char* name, const PathwayPlan& p) {
    s << name << " " << p.n_frames() << " x " << p.tokens_h << "x" << p.tokens_w << " @" << p.input_size;
    if (duration_seconds > 0) s << " (" << std::setprecision(3) << p.fps(duration_seconds) << " fps)";
  };
  one("slow", slow);
  s << ", ";
  one("fast", fast);
  s << ": " << total_tokens() << " tokens";
  if (shared_frames) s << ", slow frames shared with fast";
  if (thinned) s << ", thinned to the token budget";
  if (over_budget) s << ", OVER the token budget";
  return s.str();
}

SlowFastPlan plan_tokens(const SlowFastOptions& o, const ClipVisionConfig& vision, double duration_seconds,
                         const decode::FrameIndex* index) {
  o.validate();
  if (!(duration_seconds > 0) || !std::isfinite(duration_seconds))
    throw FormatError("the video's duration is unknown or zero (a live input?): cannot plan its frames");
  SlowFastPlan plan;
  plan.duration_seconds = duration_seconds;
  plan.slow = grid_plan("slow", o.slow, vision);
  plan.fast = grid_plan("fast", o.fast, vision);
  if (o.sf_llava_sampling) {
    if (index == nullptr || index->empty())
      throw FormatError("sf-llava sampling picks frames by index: this input has no frame index");
    for (int64_t i : sf_llava_frame_indices(index->size(), o.sf_llava_frames))
      plan.fast.times_seconds.push_back(index->seconds((*index)[i].pts));
    plan.slow_positions = sf_llava_slow_positions(o.sf_llava_frames, o.sf_llava_slow);
    for (int64_t j : plan.slow_positions) plan.slow.times_seconds.push_back(plan.fast.times_seconds[size_t(j)]);
    plan.shared_frames = plan.slow.input_size == plan.fast.input_size;
    if (!plan.shared_frames) plan.slow_positions.clear();
    return plan;
  }
  const int64_t n_slow = o.slow.n_frames > 0 ? o.slow.n_frames : count_at_fps(duration_seconds, o.slow.fps);
  const int64_t n_fast = o.fast.n_frames > 0 ? o.fast.n_frames : count_at_fps(duration_seconds, o.fast.fps);
  apply_budget(plan, o, n_slow, n_fast);
  find_shared_frames(plan);
  return plan;
}

}  // namespace sfvu::pathways
