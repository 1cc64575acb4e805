#include "sfvu/grounding/live_grounder.h"

#include <algorithm>
#include <cmath>

#include "sfvu/base/clock.h"
#include "sfvu/base/error.h"
#include "sfvu/grounding/training_free_head.h"
#include "sfvu/pathways/place_flow.h"

namespace sfvu::grounding {
namespace {

// Tolerance when comparing stream times (pts are rounded from time bases).
constexpr double kTimeEpsilon = 1e-6;

torch::Tensor rows_to_tensor(const std::deque<torch::Tensor>& rows) {
  return torch::cat(std::vector<torch::Tensor>(rows.begin(), rows.end()), 0);
}

}  // namespace

double default_live_threshold(const VideoHead& head) {
  return dynamic_cast<const TrainingFreeHead*>(&head) ? kTrainingFreeThreshold : kLearnedThreshold;
}

void LiveGrounderOptions::validate(size_t n_queries) const {
  if (!(window_seconds > 0) || !std::isfinite(window_seconds))
    throw UsageError("the live window must be a positive number of seconds, got " + std::to_string(window_seconds));
  if (!(update_every_seconds > 0) || !std::isfinite(update_every_seconds))
    throw UsageError("the update interval must be a positive number of seconds, got " +
                     std::to_string(update_every_seconds));
  if (!(hysteresis >= 0) || !std::isfinite(hysteresis))
    throw UsageError("hysteresis must be >= 0, got " + std::to_string(hysteresis));
  if (thresholds.size() > 1 && thresholds.size() != n_queries)
    throw UsageError("give one threshold for all queries or one per query: got " + std::to_string(thresholds.size()) +
                     " thresholds for " + std::to_string(n_queries) + " queries");
  for (double t : thresholds)
    if (!std::isfinite(t)) throw UsageError("thresholds must be finite numbers");
}

const char* to_string(LiveEvent::Kind kind) { return kind == LiveEvent::Kind::kStart ? "start" : "end"; }

std::optional<LiveEvent::Kind> EventGate::step(float score) {
  if (!std::isfinite(score)) return std::nullopt;
  if (!active_ && score >= threshold_) {
    active_ = true;
    return LiveEvent::Kind::kStart;
  }
  if (active_ && score < threshold_ - hysteresis_) {
    active_ = false;
    return LiveEvent::Kind::kEnd;
  }
  return std::nullopt;
}

LiveGrounder::LiveGrounder(std::shared_ptr<const VideoPipeline> pipeline, std::vector<std::string> queries,
                           LiveGrounderOptions options)
    : pipeline_(std::move(pipeline)), queries_(std::move(queries)), options_(std::move(options)) {
  if (!pipeline_) throw UsageError("LiveGrounder needs a pipeline");
  if (queries_.empty()) throw UsageError("live grounding needs at least one query");
  options_.validate(queries_.size());
  const double fallback = default_live_threshold(pipeline_->head());
  for (size_t q = 0; q < queries_.size(); ++q) {
    const double t = options_.thresholds.empty()       ? fallback
                     : options_.thresholds.size() == 1 ? options_.thresholds[0]
                                                       : options_.thresholds[q];
    thresholds_.push_back(t);
    gates_.emplace_back(t, options_.hysteresis);
  }
  last_scores_.assign(queries_.size(), NAN);
  // Per-frame geometry (input size, grid, pooling) from the planner; the budget and the
  // frame-choice modes are whole-video notions (Note [Live grounding window]).
  pathways::SlowFastOptions sf = pipeline_->options().slowfast;
  sf.token_budget = 0;
  sf.sf_llava_sampling = false;
  sf.slow.n_frames = sf.fast.n_frames = 0;
  const auto& vision = pipeline_->clip().model->config().vision;
  pathways::SlowFastPlan plan = pathways::plan_tokens(sf, vision, options_.window_seconds);
  slow_plan_ = plan.slow;
  fast_plan_ = plan.fast;
  fps_slow_ = sf.slow.fps;
  fps_fast_ = sf.fast.fps;
  clip_seconds_ = sf.clip_seconds > 0 ? sf.clip_seconds : 2.0;
}

int LiveGrounder::input_size(LivePathway p) const { return pathway_plan(p).input_size; }
double LiveGrounder::fps(LivePathway p) const { return p == LivePathway::kSlow ? fps_slow_ : fps_fast_; }
const pathways::PathwayPlan& LiveGrounder::pathway_plan(LivePathway p) const {
  return p == LivePathway::kSlow ? slow_plan_ : fast_plan_;
}

void LiveGrounder::push(LivePathway pathway, const torch::Tensor& frames, const std::vector<double>& pts_seconds,
                        const std::vector<double>& capture_seconds) {
  torch::Tensor batch = frames.dim() == 3 ? frames.unsqueeze(0) : frames;
  const int side = input_size(pathway);
  const char* name = pathway == LivePathway::kSlow ? "slow" : "fast";
  if (batch.dim() != 4 || batch.size(1) != side || batch.size(2) != side || batch.size(3) != 3 ||
      batch.scalar_type() != torch::kUInt8)
    throw UsageError(std::string("live ") + name + " frames must be uint8 [n, " + std::to_string(side) + ", " +
                     std::to_string(side) + ", 3]");
  if (size_t(batch.size(0)) != pts_seconds.size() || pts_seconds.size() != capture_seconds.size())
    throw UsageError(std::string("live ") + name + " frames: " + std::to_string(batch.size(0)) + " frames, " +
                     std::to_string(pts_seconds.size()) + " pts, " + std::to_string(capture_seconds.size()) +
                     " capture times");
  std::deque<Frame>& kept = pathway == LivePathway::kSlow ? slow_ : fast_;
  // Keep only frames after the pathway's newest, in order.
  std::vector<int64_t> rows;
  double last = kept.empty() ? -INFINITY : kept.back().pts_seconds;
  for (size_t i = 0; i < pts_seconds.size(); ++i) {
    if (std::isfinite(pts_seconds[i]) && pts_seconds[i] > last + kTimeEpsilon) {
      rows.push_back(int64_t(i));
      last = pts_seconds[i];
    } else {
      ++stats_.frames_out_of_order;
    }
  }
  if (rows.empty()) return;
  if (size_t(batch.size(0)) != rows.size()) batch = batch.index_select(0, torch::tensor(rows, torch::kInt64));
  const double t0 = steady_seconds();
  pathways::PathwayOutput out = pipeline_->encoder().encode_frames(batch.contiguous(), pathway_plan(pathway));
  stats_.encode_seconds += steady_seconds() - t0;
  const pathways::PathwayPlan& plan = pathway_plan(pathway);
  torch::Tensor small;  // a frame's motion is measured against its neighbours, per window
  if (pathway == LivePathway::kFast && pipeline_->encoder().options().fast_flow)
    small = pathways::flow_frames(batch, plan.tokens_h, plan.tokens_w).clone();
  for (size_t k = 0; k < rows.size(); ++k) {
    const size_t i = size_t(rows[k]);
    kept.push_back({pts_seconds[i], capture_seconds[i], out.tokens.narrow(0, int64_t(k), 1),
                    out.embeds.narrow(0, int64_t(k), 1),
                    small.defined() ? small.narrow(0, int64_t(k), 1) : torch::Tensor()});
  }
  (pathway == LivePathway::kSlow ? stats_.frames_slow : stats_.frames_fast) += int64_t(rows.size());
  pending_ = true;
  evict();
}

double LiveGrounder::newest_pts() const {
  double t = -INFINITY;
  if (!slow_.empty()) t = std::max(t, slow_.back().pts_seconds);
  if (!fast_.empty()) t = std::max(t, fast_.back().pts_seconds);
  return t;
}

void LiveGrounder::evict() {
  const double oldest_kept = newest_pts() - options_.window_seconds;
  for (std::deque<Frame>* d : {&slow_, &fast_}) {
    while (!d->empty() && d->front().pts_seconds < oldest_kept - kTimeEpsilon) {
      d->pop_front();
      ++stats_.frames_evicted;
    }
  }
}

double LiveGrounder::window_end() const {
  // The newest frame is displayed for one frame interval of its pathway.
  const double fast_end = fast_.empty() ? -INFINITY : fast_.back().pts_seconds + 1.0 / fps_fast_;
  const double slow_end = slow_.empty() ? -INFINITY : slow_.back().pts_seconds + 1.0 / fps_fast_;
  return std::max(fast_end, slow_end);
}

double LiveGrounder::window_start() const {
  double oldest = INFINITY;
  if (!slow_.empty()) oldest = std::min(oldest, slow_.front().pts_seconds);
  if (!fast_.empty()) oldest = std::min(oldest, fast_.front().pts_seconds);
  const double end = window_end();
  const double n_clips = std::max(1.0, std::ceil((end - oldest) / clip_seconds_ - 1e-9));
  return end - n_clips * clip_seconds_;
}

pathways::VideoTokens LiveGrounder::window_tokens() const {
  pathways::VideoTokens v;
  if (slow_.empty() || fast_.empty()) return v;
  const double start = window_start();
  v.duration_seconds = window_end() - start;
  auto fill = [&](const std::deque<Frame>& d, torch::Tensor& tokens, torch::Tensor& embeds,
                  std::vector<double>& pts, std::vector<int64_t>& indices) {
    std::deque<torch::Tensor> t, e;
    for (const Frame& f : d) {
      t.push_back(f.tokens);
      e.push_back(f.embeds);
      pts.push_back(f.pts_seconds - start);
      indices.push_back(int64_t(indices.size()));
    }
    tokens = rows_to_tensor(t);
    embeds = rows_to_tensor(e);
  };
  fill(slow_, v.slow, v.slow_embeds, v.slow_pts_seconds, v.slow_frame_indices);
  fill(fast_, v.fast, v.fast_embeds, v.fast_pts_seconds, v.fast_frame_indices);
  if (pipeline_->encoder().options().fast_flow) {
    std::deque<torch::Tensor> small;
    for (const Frame& f : fast_) small.push_back(f.flow_frame);
    v.fast_flow = pathways::place_flow(rows_to_tensor(small), v.fast.size(1), v.fast.size(2));
  }
  return v;
}

LiveUpdate LiveGrounder::run_update() {
  LiveUpdate u;
  const pathways::VideoTokens window = window_tokens();
  const double start = window_start();
  u.window_start_seconds = start;
  u.window_end_seconds = start + window.duration_seconds;
  u.pts_seconds = newest_pts();
  const bool newest_is_fast = fast_.back().pts_seconds >= slow_.back().pts_seconds;
  u.capture_seconds = newest_is_fast ? fast_.back().capture_seconds : slow_.back().capture_seconds;
  u.n_slow = window.n_slow();
  u.n_fast = window.n_fast();
  const double t0 = steady_seconds();
  for (size_t q = 0; q < queries_.size(); ++q) {
    GroundingResult g = pipeline_->head().ground(window, queries_[q]);
    if (g.clip_seconds > 0) clip_seconds_ = g.clip_seconds;  // align the next window to the head's clips
    float score = NAN;
    if (!g.saliency.empty()) {
      const double t_newest = u.pts_seconds - start;
      const size_t clip = size_t(std::clamp<double>(std::floor(t_newest / g.clip_seconds), 0.0,
                                                    double(g.saliency.size() - 1)));
      score = g.saliency[clip];
    }
    u.saliency.push_back(score);
    last_scores_[q] = score;
    if (auto kind = gates_[q].step(score)) u.events.push_back({*kind, q, u.pts_seconds, score});
    u.active.push_back(gates_[q].active());
  }
  u.head_seconds = steady_seconds() - t0;
  stats_.head_seconds += u.head_seconds;
  ++stats_.updates;
  last_update_pts_ = u.pts_seconds;
  updated_once_ = true;
  pending_ = false;
  return u;
}

std::optional<LiveUpdate> LiveGrounder::maybe_update() {
  if (slow_.empty() || fast_.empty()) return std::nullopt;
  if (updated_once_ && newest_pts() < last_update_pts_ + options_.update_every_seconds - kTimeEpsilon)
    return std::nullopt;
  return run_update();
}

std::optional<LiveUpdate> LiveGrounder::flush() {
  if (slow_.empty() || fast_.empty() || !pending_) return std::nullopt;
  return run_update();
}

std::vector<LiveEvent> LiveGrounder::finish() {
  std::vector<LiveEvent> events;
  for (size_t q = 0; q < gates_.size(); ++q) {
    if (!gates_[q].active()) continue;
    events.push_back({LiveEvent::Kind::kEnd, q, last_update_pts_, last_scores_[q]});
    gates_[q] = EventGate(thresholds_[q], options_.hysteresis);
  }
  return events;
}

}  // namespace sfvu::grounding
