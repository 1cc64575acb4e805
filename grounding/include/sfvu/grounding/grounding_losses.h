// sfvu/grounding/grounding_losses.h: training losses of the learned heads.
//   saliency: BCE per step (inside a window = 1) + a ranking hinge between inside and
//             outside steps (Moment-DETR's margin loss), both on sigmoid scores;
//   moments:  IoU-aware focal loss on point confidences (a positive's target is the IoU of
//             its own predicted moment: confidence learns to rank good boxes first, which is
//             what R1 measures) + L1 (relative to the window length) + 1 - generalised IoU;
//   QA:       cross-entropy over the options' scores.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "sfvu/grounding/learned_heads.h"

namespace sfvu::grounding {

struct Window {
  double start_seconds = 0, end_seconds = 0;
};

/// 1 where times[t] lies inside any of `windows` (start <= t <= end, both ends included), else 0:
/// the one rule the saliency labels, the backbone alignment and `sfvu bench alignment` share.
std::vector<float> inside_windows(const std::vector<Window>& windows, const std::vector<double>& times);

struct GroundingLossOptions {
  double rank_margin = 0.2;
  double weight_saliency = 1.0, weight_rank = 1.0, weight_focal = 1.0, weight_l1 = 1.0, weight_giou = 1.0;
};

struct LossParts {
  torch::Tensor total;
  double saliency = 0, rank = 0, focal = 0, l1 = 0, giou = 0;
  double align = 0;  ///< Note [Backbone alignment] (set by the trainer)
  double motion = 0;  ///< Note [Motion match] (set by the trainer)
  double probe = 0;  ///< Note [Detail probe] (set by the trainer)
};

/// Row b of `out` is the query with ground-truth windows windows[b]; `times` the timeline's.
LossParts grounding_loss(const GroundingOutput& out, const std::vector<std::vector<Window>>& windows,
                         const std::vector<double>& times, const GroundingLossOptions& options = {});

/// Note [Slow warm-up] (trainer.cpp): per-text softmax over frames. `logits` [B, T] scores text b
/// at time times[t]; each row with frames both inside and outside windows[b] adds -log of the
/// softmax mass on its inside frames; the mean over those rows (0 when there is none).
torch::Tensor frame_contrast_loss(const torch::Tensor& logits, const std::vector<std::vector<Window>>& windows,
                                  const std::vector<double>& times);

/// Positive points of row windows (Note [Point assignment]): for every point, the index of
/// the window it regresses, or -1.
std::vector<int64_t> assign_points(const GroundingOutput& out, const std::vector<Window>& windows, int levels);

/// 1-D generalised IoU of [s, e] pairs (tensors of equal shape).
torch::Tensor generalized_iou_1d(const torch::Tensor& s1, const torch::Tensor& e1, const torch::Tensor& s2,
                                 const torch::Tensor& e2, torch::Tensor* iou = nullptr);

}  // namespace sfvu::grounding
