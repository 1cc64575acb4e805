#include "sfvu/fusion/slowfast_fusion.h"

#include <algorithm>
#include <vector>

#include "sfvu/base/error.h"

namespace sfvu::fusion {

namespace {
torch::nn::LayerNorm layer_norm(int d) { return torch::nn::LayerNorm(torch::nn::LayerNormOptions({d})); }
}  // namespace

SlowFastFusionImpl::SlowFastFusionImpl(const FusionConfig& c)
    : config_(c),
      timeline_proj(register_module("timeline_proj", torch::nn::Linear(c.timeline_dim, c.d_model))),
      slow_proj(register_module("slow_proj", torch::nn::Linear(c.slow_dim, c.d_model))),
      text_proj(register_module("text_proj", torch::nn::Linear(c.text_dim, c.d_model))),
      time_proj(register_module("time_proj", torch::nn::Linear(2 * c.time_frequencies, c.d_model))),
      timeline_norm(register_module("timeline_norm", layer_norm(c.timeline_dim))),
      slow_norm(register_module("slow_norm", layer_norm(c.slow_dim))),
      text_norm(register_module("text_norm", layer_norm(c.text_dim))),
      temporal(register_module("temporal", torch::nn::ModuleList())),
      post(register_module("post", torch::nn::ModuleList())),
      post_conv(register_module("post_conv", torch::nn::ModuleList())),
      detail(register_module("detail", CrossAttentionBlock(c.d_model, c.num_heads, c.mlp_ratio, true, c.dropout))),
      condition(register_module("condition", CrossAttentionBlock(c.d_model, c.num_heads, c.mlp_ratio, false, c.dropout))) {
  if (c.timeline_dim <= 0 || c.slow_dim <= 0 || c.text_dim <= 0)
    throw UsageError("fusion: timeline_dim, slow_dim and text_dim must be set");
  if (c.timeline_token_dim > 0) {
    step_norm = register_module("step_norm", layer_norm(c.timeline_token_dim));
    step_proj = register_module("step_proj", torch::nn::Linear(c.timeline_token_dim, c.d_model));
    step_match = register_module("step_match", CrossAttentionBlock(c.d_model, c.num_heads, c.mlp_ratio, false, c.dropout));
  }
  if (c.step_score_count() > 0)
    score_proj = register_module("score_proj", torch::nn::Linear(c.step_score_count(), c.d_model));
  if (c.detail_probe) probe = register_module("detail_probe", torch::nn::Linear(c.d_model, 1));
  for (int i = 0; i < c.temporal_layers; ++i)
    temporal->push_back(SelfAttentionBlock(c.d_model, c.num_heads, c.mlp_ratio, c.dropout));
  for (int i = 0; i < c.post_layers; ++i) {
    post->push_back(SelfAttentionBlock(c.d_model, c.num_heads, c.mlp_ratio, c.dropout));
    if (c.conv_kernel > 0) post_conv->push_back(TemporalConvBlock(c.d_model, c.conv_kernel));
  }
}

torch::Tensor nearest_indices(const torch::Tensor& timeline_seconds, const torch::Tensor& slow_seconds) {
  torch::Tensor d = (timeline_seconds.to(torch::kCPU, torch::kFloat64).reshape({-1, 1}) -
                     slow_seconds.to(torch::kCPU, torch::kFloat64).reshape({1, -1})).abs();
  return d.argmin(1);
}

std::vector<torch::nn::LayerNorm> SlowFastFusionImpl::place_norms() const {
  std::vector<torch::nn::LayerNorm> norms{timeline_norm};
  if (step_norm) norms.push_back(step_norm);
  return norms;
}

torch::Tensor SlowFastFusionImpl::forward(const FusionInput& in, torch::Tensor* detail_logits) {
  const auto& c = config_;
  if (in.timeline.dim() != 2 || in.timeline.size(1) != c.timeline_dim)
    throw UsageError("fusion: timeline must be [T, " + std::to_string(c.timeline_dim) + "]");
  if (in.slow.dim() != 3 || in.slow.size(2) != c.slow_dim)
    throw UsageError("fusion: slow tokens must be [Ts, P, " + std::to_string(c.slow_dim) + "]");
  if (in.text.dim() != 3 || in.text.size(2) != c.text_dim)
    throw UsageError("fusion: text must be [B, L, " + std::to_string(c.text_dim) + "]");
  const int64_t T = in.timeline.size(0), Ts = in.slow.size(0);
  const int64_t B = in.text.size(0), L = in.text.size(1);
  if (T == 0 || Ts == 0) throw UsageError("fusion: empty timeline or no slow frame");
  const int64_t K = c.step_score_count();
  if (score_proj && (!in.step_scores.defined() || in.step_scores.sizes() != torch::IntArrayRef({B, T, K})))
    throw UsageError("fusion: step_scores must be [" + std::to_string(B) + ", " + std::to_string(T) + ", " +
                     std::to_string(K) + "] (motion_match, detail_match)");
  const auto device = in.timeline.device();

  // Timeline, shared by all texts: [1, T, D].
  torch::Tensor times = time_proj->forward(time_features(in.timeline_seconds, c.time_frequencies).to(device));
  torch::Tensor x = timeline_proj->forward(timeline_norm->forward(in.timeline)) + times;
  x = x.unsqueeze(0);
  for (const auto& layer : *temporal) x = layer->as<SelfAttentionBlock>()->forward(x);

  // Slow tokens with their frame's time: [Ts, P, D].
  torch::Tensor slow_times = time_proj->forward(time_features(in.slow_seconds, c.time_frequencies).to(device));
  torch::Tensor slow = slow_proj->forward(slow_norm->forward(in.slow)) + slow_times.unsqueeze(1);

  // Text tokens [B, L, D]; per slow frame, every text's tokens attend that frame's tokens:
  // queries [Ts, B*L, D] against [Ts, P, D] -> detail [B, Ts, L, D].
  torch::Tensor text = text_proj->forward(text_norm->forward(in.text));
  torch::Tensor queries = text.reshape({1, B * L, c.d_model}).expand({Ts, B * L, c.d_model});
  torch::Tensor attended;
  torch::Tensor detailed = detail->forward(queries, slow, {}, probe && detail_logits ? &attended : nullptr);  // [Ts, B*L, D]
  if (probe && detail_logits) {
    // Note [Detail probe]: mean over each text's real tokens of the ungated attention output.
    torch::Tensor m = in.text_mask.to(attended.scalar_type()).reshape({1, B, L, 1});
    torch::Tensor mean = (attended.reshape({Ts, B, L, c.d_model}) * m).sum(2) / m.sum(2).clamp_min(1);  // [Ts, B, D]
    *detail_logits = probe->forward(mean).squeeze(-1).transpose(0, 1);  // [B, Ts]
  }
  detailed = detailed.reshape({Ts, B, L, c.d_model}).permute({1, 0, 2, 3});       // [B, Ts, L, D]

  // Each text's mean token attends every step's own tokens: [T, B, D] against [T, Pt, D].
  torch::Tensor steps = x.expand({B, T, c.d_model});
  if (step_match && in.timeline_tokens.defined()) {
    torch::Tensor m = in.text_mask.unsqueeze(-1).to(text.scalar_type());
    torch::Tensor text_mean = (text * m).sum(1) / m.sum(1).clamp_min(1);  // [B, D]
    torch::Tensor tokens = step_proj->forward(step_norm->forward(in.timeline_tokens.to(device)));
    torch::Tensor matched = step_match->forward(text_mean.unsqueeze(0).expand({T, B, c.d_model}), tokens);
    steps = steps + matched.permute({1, 0, 2});
  }
  // Each text's matches with the step (motion, detail), as probabilities, scale learned vectors.
  if (score_proj) steps = steps + score_proj->forward(torch::sigmoid(in.step_scores.to(device)));
  // Each step reads its nearest slow frame's detail. Steps are grouped by that frame (padded
  // to the largest group, M) so each frame's detail is projected to keys once:
  // queries [B*Ts, M, D] against keys [B*Ts, L, D].
  torch::Tensor nearest = nearest_indices(in.timeline_seconds, in.slow_seconds);  // [T] CPU
  std::vector<int64_t> count(static_cast<size_t>(Ts), 0), slot(static_cast<size_t>(T));
  const int64_t* f = nearest.data_ptr<int64_t>();
  for (int64_t t = 0; t < T; ++t) slot[size_t(t)] = count[size_t(f[t])]++;
  const int64_t M = *std::max_element(count.begin(), count.end());
  std::vector<int64_t> position(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) position[size_t(t)] = f[t] * M + slot[size_t(t)];
  torch::Tensor pos = torch::tensor(position, torch::kInt64).to(device);
  torch::Tensor grouped = torch::zeros({B, Ts * M, c.d_model}, x.options()).index_copy(1, pos, steps);
  torch::Tensor key_mask = in.text_mask.unsqueeze(1).expand({B, Ts, L}).reshape({B * Ts, L});
  torch::Tensor h = condition->forward(grouped.reshape({B * Ts, M, c.d_model}), detailed.reshape({B * Ts, L, c.d_model}),
                                       key_mask);
  h = h.reshape({B, Ts * M, c.d_model}).index_select(1, pos);  // [B, T, D]
  for (size_t i = 0; i < post->size(); ++i) {
    if (!post_conv->is_empty()) h = post_conv[i]->as<TemporalConvBlock>()->forward(h);
    h = post[i]->as<SelfAttentionBlock>()->forward(h);
  }
  return h;
}

}  // namespace sfvu::fusion
