// sfvu/fusion/slowfast_fusion.h: text x Slow x Fast -> one fused feature per timeline step.
//
// Note [SlowFast fusion]
// The fast frames are the timeline (one step per frame: motion and timing); the slow frames
// carry detail. Per video (shared by every text):
//   timeline = proj(fast step features) + time(t); self-attention over it (temporal_layers).
// Per text (query, or question + option), for every slow frame f:
//   detail_f = text + tanh(g) * crossattn(text -> slow tokens of frame f)   (gated, g = 0 at init)
// i.e. instruction-aware detail: the words look for what they mention in each slow frame.
// Every timestep t then reads the text as seen in its nearest slow frame:
//   h_t = timeline_t + crossattn(timeline_t -> detail_{f(t)})
// and post_layers of self-attention spread that along the timeline (boundaries, motion),
// each after a temporal convolution (Note [Temporal convolution]).
// Before that, when the steps' own tokens are given, each text (its mean token) attends the
// tokens of every step (step_match): a direct text-to-region match per step, so "the yellow
// triangle" finds where in the frame a yellow triangle is at each step without having to be
// decoded from the flattened step feature by an MLP; its output is added to the step.
// Attending per slow frame (rather than to all slow tokens at once) keeps the detail
// time-stamped: "the shape with a white dot" lights up exactly the steps whose slow frame
// shows it. The text-to-slow attention runs every text's tokens as queries of one batch row
// per slow frame, so slow keys/values are projected once for all texts.
//
// Note [Temporal convolution]
// Motion is a difference over time of where the queried thing is, and a boundary a change
// between neighbouring steps: both are local in time and specific to the text, so they can
// only be computed after the text has entered. Self-attention can learn such differences but
// slowly; a depthwise convolution over conv_kernel steps (about 1 s at 8 fps) gives every
// channel a learned local filter along the timeline directly, the way ActionFormer-style
// localisers mix convolutions with attention. One runs before each post layer.
//
// The ablations use the same module: slow-only makes the slow frames the timeline too,
// fast-only lets the text look for detail in the fast tokens (at the slow rate).
#pragma once

#include <torch/torch.h>

#include "sfvu/fusion/attention_blocks.h"
#include "sfvu/fusion/fusion_config.h"

namespace sfvu::fusion {

struct FusionInput {
  torch::Tensor timeline;          ///< [T, timeline_dim] one row per timeline step
  torch::Tensor timeline_seconds;  ///< [T] float64, increasing
  torch::Tensor timeline_tokens;   ///< [T, Pt, timeline_token_dim] each step's tokens (optional)
  torch::Tensor slow;              ///< [Ts, P, slow_dim] tokens of each slow frame
  torch::Tensor slow_seconds;      ///< [Ts] float64, increasing
  torch::Tensor text;              ///< [B, L, text_dim] token features of B texts
  torch::Tensor text_mask;         ///< bool [B, L], true = real token
};

class SlowFastFusionImpl : public torch::nn::Module {
 public:
  explicit SlowFastFusionImpl(const FusionConfig& config);
  /// Returns the fused timeline [B, T, d_model], one per text.
  torch::Tensor forward(const FusionInput& in);
  const FusionConfig& config() const { return config_; }
  /// tanh of the slow-detail gate (0 at initialisation).
  double detail_gate() const { return detail->gate_value(); }

 private:
  FusionConfig config_;
  torch::nn::Linear timeline_proj{nullptr}, slow_proj{nullptr}, text_proj{nullptr}, time_proj{nullptr};
  torch::nn::LayerNorm timeline_norm{nullptr}, slow_norm{nullptr}, text_norm{nullptr}, step_norm{nullptr};
  torch::nn::Linear step_proj{nullptr};
  CrossAttentionBlock step_match{nullptr};
  torch::nn::ModuleList temporal{nullptr}, post{nullptr}, post_conv{nullptr};
  CrossAttentionBlock detail{nullptr}, condition{nullptr};
};
TORCH_MODULE(SlowFastFusion);

/// For each timeline time, the index of the nearest slow time: int64 [T] on the CPU.
torch::Tensor nearest_indices(const torch::Tensor& timeline_seconds, const torch::Tensor& slow_seconds);

}  // namespace sfvu::fusion
