// sfvu/grounding/moments.h: from a per-clip saliency curve to ranked moments (training-free
// temporal grounding, QVHighlights style), plus the NMS variants the learned heads reuse.
//
// Usage:
//   std::vector<float> saliency = ...;                  // one score per clip, any scale
//   auto moments = sfvu::grounding::extract_moments(saliency, /*clip_seconds=*/2.0,
//                                                   /*duration_seconds=*/150.0);
//   moments[0].start_seconds;                            // best moment first
//
// Clips: clip i covers [i * clip_seconds, min((i + 1) * clip_seconds, duration_seconds)), so
// a video has ceil(duration_seconds / clip_seconds) clips (ratio taken with a 1e-9 tolerance,
// so 10 s / 2 s is 5 clips, not 6; 9 s / 2 s is 5 clips, the last one 1 s long).
// Windows are half-open [start, end) in seconds; ends are clamped to the duration.
//
// Errors: sfvu::UsageError for impossible arguments (see each function). Nothing prints.
// Thread safety: pure functions; no shared state.
#pragma once

#include <cstdint>
#include <vector>

namespace sfvu::grounding {

/// One predicted window, [start_seconds, end_seconds), with a ranking score (higher = better).
struct Moment {
  double start_seconds = 0, end_seconds = 0, score = 0;
};

/// Knobs of extract_moments(). These defaults are the single source of truth (the CLI prints
/// them). See Note [Training-free moments] in moments.cpp for why they look like this.
struct MomentOptions {
  std::vector<double> thresholds_z = {0.0, 0.5, 1.0, 1.5};  // candidate levels: mean + k*std of the curve
  int64_t merge_gap_clips = 1;  // runs above a level separated by <= this many clips merge (0: never)
  int64_t min_clips = 1;        // shorter runs (after merging) are dropped
  double nms_iou = 0.7;         // hard NMS over candidates (QVHighlights peers use 0.7)
  int64_t max_moments = 10;     // keep at most this many (ranked by score, descending; <= 0: all)
};

/// Temporal IoU of [a.start, a.end) and [b.start, b.end), in [0, 1]. A reversed window
/// (end < start) counts as empty; 0 when the union is empty (e.g. both empty). Touching
/// windows ([0, 2) and [2, 4)) have IoU 0.
double temporal_iou(const Moment& a, const Moment& b);

/// Hard NMS. Sorts by score descending (stable: ties keep input order), then walks the list
/// keeping a moment unless its IoU with an already kept one is > `iou` (exactly `iou` is
/// kept). Returns at most `max_keep` moments (<= 0: no limit), best first, scores unchanged.
std::vector<Moment> nms(std::vector<Moment> moments, double iou, int64_t max_keep);

/// Linear soft-NMS (Bodla et al. 2017; the "linear" NMS R^2-Tuning uses for Charades-STA).
/// Repeatedly picks the highest-scoring remaining moment (ties: earliest in input order);
/// every other remaining moment whose IoU with the pick is > `iou_threshold` has its score
/// multiplied by (1 - IoU). Nothing is removed, only decayed, so all moments come back
/// (at most `max_keep`, <= 0: no limit), in pick order, which is descending by decayed score.
/// Meant for non-negative scores (probabilities): decaying a negative score raises it.
std::vector<Moment> soft_nms_linear(std::vector<Moment> moments, double iou_threshold, int64_t max_keep);

/// Ranked moments from a per-clip saliency curve (saliency[i] scores clip i; see the file
/// comment for clip bounds). Algorithm (Note [Training-free moments]):
///   z = (s - mean) / std over the curve (population std).
///   For each k in options.thresholds_z: the maximal runs of clips with z >= k; runs separated
///   by <= merge_gap_clips clips are merged (the gap clips join the window); runs shorter than
///   min_clips are dropped.
///   Score of a window = mean z inside - mean z outside (outside = every other clip; 0 if none).
///   Identical windows from different levels are kept once, then nms(nms_iou, max_moments).
/// Special cases: an empty curve gives no moments (before the clip-count check); a flat curve
/// (std < 1e-12) gives exactly one moment, the whole video, score 0. The result may be empty
/// when no run survives (every level above the peak, or min_clips larger than every run).
/// Throws UsageError when clip_seconds or duration_seconds is not finite and > 0, saliency has
/// NaN/inf, saliency.size() != ceil(duration_seconds / clip_seconds - 1e-9), or an option is
/// invalid (empty or non-finite thresholds_z, merge_gap_clips < 0, min_clips < 1, nms_iou not
/// in [0, 1]).
std::vector<Moment> extract_moments(const std::vector<float>& saliency, double clip_seconds, double duration_seconds,
                                    const MomentOptions& options = {});

}  // namespace sfvu::grounding
