// sfvu/grounding/training_free_head.h: grounding and multiple-choice QA from a CLIP checkpoint
// alone (no training), SlowFast-LLaVA's spirit applied to temporal grounding.
//
// Note [Training-free scoring]
// The text goes through CLIP's text tower into the joint space; each slow and fast frame
// already has its image embedding there (VideoTokens::*_embeds). Per frame, relevance is the
// cosine similarity. The fast frames give the timeline (many frames, so timing is fine), the
// slow frames the detail (full resolution); per clip of `clip_seconds`:
//   saliency[i] = slow_weight * mean(slow cosines in clip i) + (1 - slow_weight) * mean(fast cosines in clip i)
// A clip no frame of a pathway falls in takes that pathway's value linearly interpolated
// between the neighbouring clips that have one (nearest at the ends). Moments come from
// extract_moments() (Note [Training-free moments]).
// QA scores each option's text ("<question> <option>") the same way and pools the curve
// with a soft maximum, s = (1/tau) log mean_i exp(tau * saliency[i]) with tau = CLIP's logit
// scale, because the answer may show in a small part of the video and a plain mean dilutes it;
// probabilities = softmax(logit_scale * s) over options, the temperature CLIP's own
// zero-shot classifier uses.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sfvu/grounding/video_head.h"
#include "sfvu/pathways/clip_bundle.h"

namespace sfvu::grounding {

struct TrainingFreeOptions {
  double clip_seconds = 2.0;  ///< saliency resolution (QVHighlights: 2 s)
  double slow_weight = 0.5;   ///< weight of the slow pathway in [0, 1] (Note [Training-free scoring])
  MomentOptions moments;
};

/// Per-frame values at `pts_seconds` averaged into ceil(duration / clip_seconds) clips,
/// empty clips interpolated from their neighbours (Note [Training-free scoring]). Empty
/// `pts_seconds` gives an empty vector. Throws UsageError on size mismatch or bad durations.
std::vector<float> frames_to_clips(const std::vector<double>& pts_seconds, const std::vector<float>& values,
                                   double duration_seconds, double clip_seconds);

class TrainingFreeHead : public VideoHead {
 public:
  /// `clip` must have a text tower, tokenizer and projections (UsageError otherwise).
  TrainingFreeHead(std::shared_ptr<const pathways::ClipBundle> clip, TrainingFreeOptions options = {});
  GroundingResult ground(const pathways::VideoTokens& video, const std::string& query) const override;
  QaResult answer(const pathways::VideoTokens& video, const std::string& question,
                  const std::vector<std::string>& options) const override;
  std::string name() const override { return "training-free CLIP"; }
  const TrainingFreeOptions& options() const { return options_; }
  /// Saliency curves for several texts at once: [texts][clips].
  std::vector<std::vector<float>> saliency(const pathways::VideoTokens& video, const std::vector<std::string>& texts) const;

 private:
  std::shared_ptr<const pathways::ClipBundle> clip_;
  TrainingFreeOptions options_;
};

}  // namespace sfvu::grounding
