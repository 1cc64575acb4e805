// Training-free moments from a saliency curve, and hard / linear soft NMS (moments.h).
#include "sfvu/grounding/moments.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <string>
#include <utility>

#include "sfvu/base/error.h"

namespace sfvu::grounding {

// Note [Training-free moments]
// Without a trained span head, a moment is a stretch of clips whose query saliency stands out
// from the rest of the video. We z-normalise the curve so the levels mean independent of the
// scorer's scale (CLIP cosine, logits, probabilities all work), then:
//  - Several levels (mean + {0, 0.5, 1, 1.5} std) give nested candidates: a low level yields
//    broad windows around a whole event, a high level the tight core of its peak. We do not
//    have to guess the one right threshold per video; ranking picks between them.
//  - Gap merging (1 clip) keeps a single noisy low clip from splitting an event in two;
//    QVHighlights clips are 2 s, and a 2 s dip rarely means the moment ended.
//  - Score = mean z inside - mean z outside (a contrast). A tight window on a peak has a
//    high inside mean, while a broad plateau window drags in mediocre clips and lowers it;
//    subtracting the outside mean also penalises a window that leaves strong clips outside.
//    The whole video scores 0 (inside mean 0, outside empty), so any real peak beats it.
//  - Hard NMS at IoU 0.7, as the QVHighlights peers (Moment-DETR, UniVTG) do, removes the
//    near-duplicates that nested levels produce while keeping a nested core whose IoU with its
//    broad parent is <= 0.7, so mAP at high IoU still sees both readings of the event.
// A flat curve carries no evidence, so the only honest answer is the whole video, score 0.

namespace {

// Flat-curve guard: below this population std the z-scores are noise (see moments.h).
constexpr double kFlatStd = 1e-12;
// Tolerance on duration / clip_seconds, so 10 s of 2 s clips is 5 clips despite rounding.
constexpr double kClipCountTolerance = 1e-9;

// A window in clip indices, [begin, end).
using ClipRun = std::pair<int64_t, int64_t>;

void validate(const std::vector<float>& saliency, double clip_seconds, double duration_seconds,
              const MomentOptions& options) {
  if (!std::isfinite(clip_seconds) || clip_seconds <= 0) {
    throw UsageError("extract_moments: clip_seconds must be finite and > 0, got " + std::to_string(clip_seconds));
  }
  if (!std::isfinite(duration_seconds) || duration_seconds <= 0) {
    throw UsageError("extract_moments: duration_seconds must be finite and > 0, got " +
                     std::to_string(duration_seconds));
  }
  if (options.thresholds_z.empty()) throw UsageError("extract_moments: thresholds_z is empty");
  for (double k : options.thresholds_z) {
    if (!std::isfinite(k)) throw UsageError("extract_moments: thresholds_z has a non-finite value");
  }
  if (options.merge_gap_clips < 0) throw UsageError("extract_moments: merge_gap_clips must be >= 0");
  if (options.min_clips < 1) throw UsageError("extract_moments: min_clips must be >= 1");
  if (!(options.nms_iou >= 0 && options.nms_iou <= 1)) throw UsageError("extract_moments: nms_iou must be in [0, 1]");
  for (size_t i = 0; i < saliency.size(); ++i) {
    if (!std::isfinite(saliency[i])) {
      throw UsageError("extract_moments: saliency[" + std::to_string(i) + "] is not finite");
    }
  }
  if (saliency.empty()) return;  // no curve, no moments; the count check would always fail
  // Compared in double so an absurd ratio cannot overflow an integer conversion.
  double expected_clips = std::ceil(duration_seconds / clip_seconds - kClipCountTolerance);
  if (static_cast<double>(saliency.size()) != expected_clips) {
    throw UsageError("extract_moments: " + std::to_string(saliency.size()) + " saliency values but " +
                     std::to_string(duration_seconds) + " s of " + std::to_string(clip_seconds) + " s clips is " +
                     std::to_string(static_cast<long long>(expected_clips)) + " clips");
  }
}

// Maximal runs of z >= level, merged across gaps of <= merge_gap clips, then length-filtered.
std::vector<ClipRun> runs_at_level(const std::vector<double>& z, double level, int64_t merge_gap, int64_t min_clips) {
  std::vector<ClipRun> runs;
  const auto n = static_cast<int64_t>(z.size());
  for (int64_t i = 0; i < n;) {
    if (z[i] < level) {
      ++i;
      continue;
    }
    int64_t begin = i;
    while (i < n && z[i] >= level) ++i;
    if (!runs.empty() && begin - runs.back().second <= merge_gap) {
      runs.back().second = i;
    } else {
      runs.emplace_back(begin, i);
    }
  }
  runs.erase(std::remove_if(runs.begin(), runs.end(),
                            [&](const ClipRun& r) { return r.second - r.first < min_clips; }),
             runs.end());
  return runs;
}

// Indices of `moments` sorted by score descending; ties keep input order.
std::vector<size_t> order_by_score(const std::vector<Moment>& moments) {
  std::vector<size_t> order(moments.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return moments[a].score > moments[b].score; });
  return order;
}

}  // namespace

double temporal_iou(const Moment& a, const Moment& b) {
  double length_a = std::max(0.0, a.end_seconds - a.start_seconds);
  double length_b = std::max(0.0, b.end_seconds - b.start_seconds);
  double overlap =
      std::max(0.0, std::min(a.end_seconds, b.end_seconds) - std::max(a.start_seconds, b.start_seconds));
  overlap = std::min({overlap, length_a, length_b});  // a reversed window must not overlap anything
  double union_length = length_a + length_b - overlap;
  return union_length > 0 ? overlap / union_length : 0.0;
}

std::vector<Moment> nms(std::vector<Moment> moments, double iou, int64_t max_keep) {
  std::vector<Moment> kept;
  for (size_t index : order_by_score(moments)) {
    if (max_keep > 0 && static_cast<int64_t>(kept.size()) >= max_keep) break;
    const Moment& candidate = moments[index];
    bool suppressed = std::any_of(kept.begin(), kept.end(),
                                  [&](const Moment& k) { return temporal_iou(k, candidate) > iou; });
    if (!suppressed) kept.push_back(candidate);
  }
  return kept;
}

std::vector<Moment> soft_nms_linear(std::vector<Moment> moments, double iou_threshold, int64_t max_keep) {
  // `remaining` stays in input order so "earliest wins ties" is a strict > in the scan below.
  std::vector<Moment> remaining = std::move(moments);
  std::vector<Moment> picked;
  while (!remaining.empty() && (max_keep <= 0 || static_cast<int64_t>(picked.size()) < max_keep)) {
    size_t best = 0;
    for (size_t i = 1; i < remaining.size(); ++i) {
      if (remaining[i].score > remaining[best].score) best = i;
    }
    Moment pick = remaining[best];
    remaining.erase(remaining.begin() + static_cast<std::ptrdiff_t>(best));
    for (Moment& other : remaining) {
      double iou = temporal_iou(pick, other);
      if (iou > iou_threshold) other.score *= 1.0 - iou;
    }
    picked.push_back(pick);
  }
  return picked;
}

std::vector<Moment> extract_moments(const std::vector<float>& saliency, double clip_seconds, double duration_seconds,
                                    const MomentOptions& options) {
  validate(saliency, clip_seconds, duration_seconds, options);
  if (saliency.empty()) return {};
  const auto n = static_cast<int64_t>(saliency.size());

  double mean = 0;
  for (float s : saliency) mean += s;
  mean /= static_cast<double>(n);
  double variance = 0;
  for (float s : saliency) variance += (s - mean) * (s - mean);
  double std_dev = std::sqrt(variance / static_cast<double>(n));
  if (std_dev < kFlatStd) return {Moment{0.0, duration_seconds, 0.0}};

  std::vector<double> z(saliency.size());
  std::vector<double> prefix(saliency.size() + 1, 0.0);  // prefix[i] = sum of z[0..i)
  for (int64_t i = 0; i < n; ++i) {
    z[i] = (saliency[i] - mean) / std_dev;
    prefix[i + 1] = prefix[i] + z[i];
  }

  std::set<ClipRun> seen;  // the same window found at several levels counts once
  std::vector<Moment> candidates;
  for (double level : options.thresholds_z) {
    for (const ClipRun& run : runs_at_level(z, level, options.merge_gap_clips, options.min_clips)) {
      if (!seen.insert(run).second) continue;
      int64_t inside_clips = run.second - run.first;
      double inside_sum = prefix[run.second] - prefix[run.first];
      double inside_mean = inside_sum / static_cast<double>(inside_clips);
      double outside_mean =
          inside_clips < n ? (prefix[n] - inside_sum) / static_cast<double>(n - inside_clips) : 0.0;
      candidates.push_back(Moment{static_cast<double>(run.first) * clip_seconds,
                                  std::min(static_cast<double>(run.second) * clip_seconds, duration_seconds),
                                  inside_mean - outside_mean});
    }
  }
  return nms(std::move(candidates), options.nms_iou, options.max_moments);
}

}  // namespace sfvu::grounding
