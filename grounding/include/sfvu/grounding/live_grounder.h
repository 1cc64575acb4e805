// sfvu/grounding/live_grounder.h: grounding queries on a live stream, over a sliding window.
//
// Usage (one stream; the threads, capture and output belong to the application):
//   auto pipeline = VideoPipeline::load("data/models/synth-tiny", PipelineOptions{});
//   LiveGrounder live(pipeline, {"a red square appears"}, LiveGrounderOptions{});
//   // frames at the pathway's input size: uint8 [n, S, S, 3], S = live.input_size(kFast)
//   live.push(LivePathway::kFast, frames, pts_seconds, capture_seconds);
//   live.push(LivePathway::kSlow, slow_frames, slow_pts, slow_capture);
//   if (auto u = live.maybe_update()) { /* u->saliency[q], u->active[q], u->events */ }
//   for (const LiveEvent& e : live.finish()) { /* "end" of the moments still open */ }
//
// Note [Live grounding window]
// Each pushed frame goes through the pipeline's backbone at once (the pathways' input sizes,
// pooling and layer are the pipeline's SlowFast options; sampling is always by fps on a live
// stream: n_frames and SF-LLaVA's index-based choice need the whole video). Its tokens and
// embedding are kept with its pts until it is older than `window_seconds` behind the newest
// frame. An update assembles the window as a VideoTokens and runs the pipeline's head on it
// for every query, so the same head serves files (`sfvu ground`) and streams:
//   - times are rebased so that the window ENDS on a clip boundary: window_end = newest fast
//     pts + 1 / fps_fast (the newest frame is displayed until then), window_start =
//     window_end - n * clip_seconds with n the fewest clips covering every kept frame, and
//     duration = n * clip_seconds. The last clip, [window_end - clip_seconds, window_end), is
//     therefore always the latest clip_seconds of the stream, whatever the update time;
//   - the score reported for a query is the head's saliency of that last clip, the clip
//     containing the newest frame. A learned head gives a sigmoid in (0, 1); the training-free
//     CLIP head a cosine similarity (Note [Training-free scoring]);
//   - a query becomes active when its score reaches its threshold and stops being active when
//     the score falls below threshold - hysteresis (EventGate), so a score hovering around the
//     threshold does not flicker; each change is a start/end event at the update's pts.
// An update is due when the window holds at least one slow and one fast frame and the newest
// pts is at least `update_every_seconds` past the previous update's. A caller that falls
// behind pushes everything queued and gets one update for the newest state (updates never
// queue up behind inference).
//
// Thread safety: a LiveGrounder is a per-stream session used from one thread; the pipeline
// it shares is immutable (STYLE rule 4).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sfvu/grounding/video_head.h"
#include "sfvu/grounding/video_pipeline.h"
#include "sfvu/pathways/token_planner.h"

namespace sfvu::grounding {

enum class LivePathway { kSlow, kFast };

/// Default thresholds (one per head family); see default_live_threshold().
constexpr double kLearnedThreshold = 0.5;
/// The training-free head's saliency is an image-text cosine in CLIP's joint space. For
/// OpenAI's ViT-B checkpoints an unrelated caption typically scores 0.15-0.22 and a matching
/// one 0.26-0.35, so 0.25 separates them; per-query thresholds (--threshold) tune it.
constexpr double kTrainingFreeThreshold = 0.25;

/// kTrainingFreeThreshold for the training-free CLIP head, kLearnedThreshold otherwise.
double default_live_threshold(const VideoHead& head);

struct LiveGrounderOptions {
  double window_seconds = 30.0;       ///< frames older than this behind the newest are evicted
  double update_every_seconds = 0.5;  ///< stream time between updates
  /// Empty: default_live_threshold(head) for every query; one value: for every query; else
  /// one per query (UsageError on any other count).
  std::vector<double> thresholds;
  double hysteresis = 0.05;           ///< an active query ends below threshold - hysteresis
  /// Throws UsageError on non-positive window/interval, negative hysteresis, bad thresholds.
  void validate(size_t n_queries) const;
};

struct LiveEvent {
  enum class Kind { kStart, kEnd };
  Kind kind = Kind::kStart;
  size_t query = 0;        ///< index into the queries
  double pts_seconds = 0;  ///< the update's pts
  float score = 0;         ///< the score that crossed
};
const char* to_string(LiveEvent::Kind kind);  ///< "start" | "end"

/// Start/end with hysteresis for one query: inactive -> active when score >= threshold;
/// active -> inactive when score < threshold - hysteresis. Non-finite scores change nothing.
class EventGate {
 public:
  EventGate(double threshold, double hysteresis) : threshold_(threshold), hysteresis_(hysteresis) {}
  /// The transition `score` causes, if any.
  std::optional<LiveEvent::Kind> step(float score);
  bool active() const { return active_; }
  double threshold() const { return threshold_; }

 private:
  double threshold_, hysteresis_;
  bool active_ = false;
};

struct LiveUpdate {
  double pts_seconds = 0;       ///< newest frame in the window (stream time)
  double capture_seconds = 0;   ///< that frame's capture time (the caller's clock)
  std::vector<float> saliency;  ///< per query: the score of the clip holding the newest frame
  std::vector<bool> active;     ///< per query, after this update's events
  std::vector<LiveEvent> events;
  double window_start_seconds = 0, window_end_seconds = 0;  ///< stream time (Note [Live grounding window])
  int64_t n_slow = 0, n_fast = 0;                           ///< frames in the window
  double head_seconds = 0;      ///< wall time of the head over all queries
};

/// Counters of one stream (tests assert on them).
struct LiveStats {
  int64_t frames_slow = 0, frames_fast = 0;  ///< frames encoded
  int64_t frames_out_of_order = 0;           ///< pushed with a pts not after the pathway's last: ignored
  int64_t frames_evicted = 0;
  int64_t updates = 0;
  double encode_seconds = 0, head_seconds = 0;
};

class LiveGrounder {
 public:
  /// Throws UsageError for no query or bad options (LiveGrounderOptions::validate).
  LiveGrounder(std::shared_ptr<const VideoPipeline> pipeline, std::vector<std::string> queries,
               LiveGrounderOptions options = {});

  /// The square side frames of `pathway` must have, and the rate to sample them at.
  int input_size(LivePathway pathway) const;
  double fps(LivePathway pathway) const;
  const pathways::PathwayPlan& pathway_plan(LivePathway pathway) const;

  /// Encodes `frames` (uint8 [n, S, S, 3] or [S, S, 3], S = input_size(pathway)) with their
  /// pts (stream seconds, increasing) and capture times (any clock, seconds), then evicts
  /// frames that left the window. Frames not later than the pathway's last pts are ignored
  /// (stats().frames_out_of_order). Throws UsageError on a wrong shape or count.
  void push(LivePathway pathway, const torch::Tensor& frames, const std::vector<double>& pts_seconds,
            const std::vector<double>& capture_seconds);

  /// An update when one is due (see the Note), else nullopt.
  std::optional<LiveUpdate> maybe_update();
  /// An update now if frames arrived since the last one and the window has both pathways
  /// (the end of a stream), else nullopt.
  std::optional<LiveUpdate> flush();
  /// End events (at the last update's pts, with its score) for the queries still active; they
  /// become inactive.
  std::vector<LiveEvent> finish();

  const std::vector<std::string>& queries() const { return queries_; }
  const std::vector<double>& thresholds() const { return thresholds_; }
  const LiveGrounderOptions& options() const { return options_; }
  const LiveStats& stats() const { return stats_; }
  /// The window as the head sees it (times rebased, Note [Live grounding window]); empty
  /// tokens when a pathway has no frame yet.
  pathways::VideoTokens window_tokens() const;

 private:
  struct Frame {
    double pts_seconds = 0, capture_seconds = 0;
    torch::Tensor tokens;  // [1, h, w, D]
    torch::Tensor embeds;  // [1, P]
    torch::Tensor flow_frame;  // [1, 8h, 8w, 3] uint8 when the encoder measures fast flow (Note [Place flow])
  };
  LiveUpdate run_update();
  void evict();
  double newest_pts() const;
  double window_end() const;
  double window_start() const;

  std::shared_ptr<const VideoPipeline> pipeline_;
  std::vector<std::string> queries_;
  LiveGrounderOptions options_;
  std::vector<double> thresholds_;
  std::vector<EventGate> gates_;
  std::vector<float> last_scores_;
  pathways::PathwayPlan slow_plan_, fast_plan_;
  double fps_slow_ = 1, fps_fast_ = 8;
  double clip_seconds_ = 2;
  std::deque<Frame> slow_, fast_;
  double last_update_pts_ = -1;
  bool updated_once_ = false, pending_ = false;
  LiveStats stats_;
};

}  // namespace sfvu::grounding
