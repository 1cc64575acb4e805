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
// When the model passes step_scores (its per-text, per-step match logits: motion, detail;
// Note [Motion match] and Note [Detail match] in grounding/src/learned_model.cpp), their
// sigmoids scale learned vectors added to the step as well.
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
// Note [Detail probe]
// The gate starting at 0 (above) has a cost when nothing is pretrained: the text->slow
// attention's gradient is the gate times what the rest makes of its output, and the gate's is
// what that output is worth, so each waits for the other. In 20-minute synthetic runs the gate
// stayed within 0.01 of 0 (the bundled model's was -0.0003): the slow frames were encoded and
// then ignored. With detail_probe, the ungated attention output of each slow frame (mean over
// the text's tokens) also feeds a linear probe, one logit per text and slow frame, that the
// trainer asks to say whether the frame lies inside the text's window (BCE, like saliency).
// The attention then learns to find what the words describe in a slow frame whatever the gate
// is, and the gate opens once that is worth reading. The probe adds nothing to the fused output.
// Measured (README, 20-minute synthetic run): the gate reached -0.10 instead of staying at 0,
// with no measurable change in grounding within the runs' spread, so it is opt-in
// (`sfvu train --detail-probe`).
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
  torch::Tensor step_scores;       ///< [B, T, K] match logits of each text per step, K = config step_score_count()
};

class SlowFastFusionImpl : public torch::nn::Module {
 public:
  explicit SlowFastFusionImpl(const FusionConfig& config);
  /// Returns the fused timeline [B, T, d_model], one per text. `detail_logits`, when given and
  /// the config has detail_probe, receives the probe's logits [B, Ts] (Note [Detail probe]).
  torch::Tensor forward(const FusionInput& in, torch::Tensor* detail_logits = nullptr);
  const FusionConfig& config() const { return config_; }
  /// tanh of the slow-detail gate (0 at initialisation).
  double detail_gate() const { return detail->gate_value(); }
  /// The norms that read the timeline place by place, channel by channel: the timeline's (all
  /// places) and, with timeline tokens, each step's (one place). For an init that weights some
  /// of a place's channels (Note [Flow gain] in grounding/src/learned_model.cpp).
  std::vector<torch::nn::LayerNorm> place_norms() const;

 private:
  FusionConfig config_;
  torch::nn::Linear timeline_proj{nullptr}, slow_proj{nullptr}, text_proj{nullptr}, time_proj{nullptr};
  torch::nn::LayerNorm timeline_norm{nullptr}, slow_norm{nullptr}, text_norm{nullptr}, step_norm{nullptr};
  torch::nn::Linear step_proj{nullptr}, probe{nullptr}, score_proj{nullptr};
  CrossAttentionBlock step_match{nullptr};
  torch::nn::ModuleList temporal{nullptr}, post{nullptr}, post_conv{nullptr};
  CrossAttentionBlock detail{nullptr}, condition{nullptr};
};
TORCH_MODULE(SlowFastFusion);

/// For each timeline time, the index of the nearest slow time: int64 [T] on the CPU.
torch::Tensor nearest_indices(const torch::Tensor& timeline_seconds, const torch::Tensor& slow_seconds);

}  // namespace sfvu::fusion
