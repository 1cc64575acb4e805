// sfvu/grounding/learned_heads.h: the trained heads on top of the fused timeline
// (fusion/slowfast_fusion.h): per-step saliency, anchor-free moment regression over a small
// temporal pyramid, and a multiple-choice scorer.
//
// Note [Anchor-free moments]
// Level l of the pyramid max-pools the fused timeline by 2^l. Every point of every level
// predicts a confidence and its distances to the moment's start and end, in seconds
// (softplus(raw) * 2^l * step: each level regresses in its own scale). Training makes a point
// positive when it lies inside a ground-truth window whose length suits its level (Note
// [Point assignment] in grounding_losses.cpp); inference turns every point into a
// [t - start, t + end] moment scored by its confidence, then NMS. No anchors, no fixed
// number of queries (unlike Moment-DETR), so one model serves 1-s flashes and minute-long
// windows alike.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "sfvu/grounding/moments.h"

namespace sfvu::grounding {

struct GroundingHeadConfig {
  int d_model = 128;
  int levels = 3;
};

/// All points of all levels, concatenated level by level.
struct GroundingOutput {
  torch::Tensor saliency;       ///< [B, T] logits, one per timeline step
  torch::Tensor logits;         ///< [B, N] point confidences (logits)
  torch::Tensor start_seconds;  ///< [B, N] predicted moment start (t - distance)
  torch::Tensor end_seconds;    ///< [B, N] predicted moment end (t + distance)
  std::vector<double> point_seconds;  ///< [N] each point's time
  std::vector<int> point_level;       ///< [N]
  double step_seconds = 0;            ///< level-0 spacing (median timeline step)
};

class GroundingHeadImpl : public torch::nn::Module {
 public:
  explicit GroundingHeadImpl(const GroundingHeadConfig& config);
  /// fused [B, T, D]; times: the timeline's seconds (T values, increasing).
  GroundingOutput forward(const torch::Tensor& fused, const std::vector<double>& times);
  const GroundingHeadConfig& config() const { return config_; }
  /// Per-step saliency logits alone: fused [B, T, D] -> [B, T].
  torch::Tensor saliency_logits(const torch::Tensor& fused) { return saliency->forward(fused).squeeze(-1); }

 private:
  GroundingHeadConfig config_;
  torch::nn::Linear saliency{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear hidden{nullptr}, out{nullptr};
  torch::nn::Embedding level_embedding{nullptr};
};
TORCH_MODULE(GroundingHead);

/// Multiple choice. With `option_fused` (Note [Option-fused QA] in learned_model.cpp) each
/// option's fused timeline is pooled (attention + max pooling) and scored by an MLP
/// (`option_score`, added to the grounding saliency's peak by the model). Otherwise (Note
/// [Question-fused QA]) the video fused with the question is pooled into one vector (`pool`)
/// and each option's text (mean token) is scored against it by an MLP over [video, option,
/// video * option] (`score`).
class QaHeadImpl : public torch::nn::Module {
 public:
  QaHeadImpl(int d_model, int text_dim, bool option_fused);
  /// fused [Q, T, D] (one row per question) -> [Q, D].
  torch::Tensor pool(const torch::Tensor& fused);
  /// pooled [N, D] (each option's question row), options [N, text_dim] -> [N] scores.
  torch::Tensor score(const torch::Tensor& pooled, const torch::Tensor& options);
  /// Option-fused: fused [N, T, D] (one row per option) -> [N] scores.
  torch::Tensor option_score(const torch::Tensor& fused);

 private:
  torch::nn::LayerNorm norm{nullptr}, option_norm{nullptr};
  torch::nn::Linear attention{nullptr}, hidden{nullptr}, option_proj{nullptr}, score_hidden{nullptr}, out{nullptr};
};
TORCH_MODULE(QaHead);

/// Row `b` of `out` as ranked moments inside [0, duration]: scores are sigmoid(logits) or, with
/// `saliency_weight` a > 0, sigmoid(logit)^(1-a) * (mean sigmoid saliency of the steps inside
/// the moment)^a (Note [Moment scores] in learned_heads.cpp), then hard NMS at `nms_iou`, at
/// most `max_moments`.
std::vector<Moment> decode_moments(const GroundingOutput& out, int64_t b, double duration_seconds, double nms_iou,
                                   int64_t max_moments, double saliency_weight = 0);

/// Per-step saliency (row b, sigmoid) averaged into clips of `clip_seconds`; clips without a
/// step take the nearest step's value. ceil(duration / clip_seconds) values.
std::vector<float> saliency_per_clip(const GroundingOutput& out, int64_t b, const std::vector<double>& times,
                                     double duration_seconds, double clip_seconds);

}  // namespace sfvu::grounding
