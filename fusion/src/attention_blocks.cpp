#include "sfvu/fusion/attention_blocks.h"

#include <cmath>

namespace sfvu::fusion {

CrossAttentionBlockImpl::CrossAttentionBlockImpl(int d_model, int num_heads, int mlp_ratio, bool gated, double dropout)
    : gated_(gated),
      dropout_(dropout),
      norm_q(register_module("norm_q", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})))),
      norm_kv(register_module("norm_kv", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})))),
      norm_mlp(register_module("norm_mlp", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})))),
      cross_attn(register_module("cross_attn", pathways::Attention(d_model, num_heads))),
      mlp(register_module("mlp", pathways::Mlp(d_model, d_model * mlp_ratio, pathways::Activation::kGelu))) {
  if (gated_) gate = register_parameter("gate", torch::zeros({1}));
}

torch::Tensor CrossAttentionBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& context,
                                               const torch::Tensor& context_mask, torch::Tensor* attended) {
  // x [B, Tq, D], context [B, Tk, D]
  torch::Tensor mask = context_mask.defined() ? additive_key_mask(context_mask, x.scalar_type()) : torch::Tensor();
  torch::Tensor a = cross_attn->forward(norm_q->forward(x), norm_kv->forward(context), mask);
  a = torch::dropout(a, dropout_, is_training());
  if (attended) *attended = a;
  torch::Tensor g = gated_ ? torch::tanh(gate) : torch::Tensor();
  torch::Tensor h = gated_ ? x + g * a : x + a;
  torch::Tensor m = torch::dropout(mlp->forward(norm_mlp->forward(h)), dropout_, is_training());
  return gated_ ? h + g * m : h + m;
}

double CrossAttentionBlockImpl::gate_value() const { return gated_ ? std::tanh(gate.item<double>()) : 1.0; }

SelfAttentionBlockImpl::SelfAttentionBlockImpl(int d_model, int num_heads, int mlp_ratio, double dropout)
    : dropout_(dropout),
      layer_norm1(register_module("layer_norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})))),
      layer_norm2(register_module("layer_norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})))),
      self_attn(register_module("self_attn", pathways::Attention(d_model, num_heads))),
      mlp(register_module("mlp", pathways::Mlp(d_model, d_model * mlp_ratio, pathways::Activation::kGelu))) {}

torch::Tensor SelfAttentionBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& key_mask) {
  // x [B, T, D]
  torch::Tensor mask = key_mask.defined() ? additive_key_mask(key_mask, x.scalar_type()) : torch::Tensor();
  torch::Tensor h = x + torch::dropout(self_attn->forward(layer_norm1->forward(x), {}, mask), dropout_, is_training());
  return h + torch::dropout(mlp->forward(layer_norm2->forward(h)), dropout_, is_training());
}

TemporalConvBlockImpl::TemporalConvBlockImpl(int d_model, int kernel)
    : norm(register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})))),
      conv(register_module("conv", torch::nn::Conv1d(torch::nn::Conv1dOptions(d_model, d_model, kernel)
                                                          .padding(kernel / 2)
                                                          .groups(d_model)))),
      proj(register_module("proj", torch::nn::Linear(d_model, d_model))) {}

torch::Tensor TemporalConvBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor h = conv->forward(norm->forward(x).transpose(1, 2)).transpose(1, 2);  // [B, T, D]
  return x + proj->forward(torch::gelu(h));
}

torch::Tensor additive_key_mask(const torch::Tensor& key_mask, torch::Dtype dtype) {
  // [B, Tk] bool -> [B, 1, 1, Tk]: 0 where attended, a large negative where not.
  torch::Tensor m = torch::zeros(key_mask.sizes(), torch::TensorOptions().dtype(dtype).device(key_mask.device()));
  m = m.masked_fill(key_mask.logical_not(), -1e9);
  return m.unsqueeze(1).unsqueeze(1);
}

torch::Tensor time_features(const torch::Tensor& seconds, int n_frequencies) {
  torch::Tensor t = seconds.to(torch::kFloat64).reshape({-1, 1});
  // Periods 0.25 s .. 512 s, geometric: the finest resolves an 8 fps step, the coarsest is
  // longer than any clip a timeline holds at once.
  torch::Tensor k = torch::arange(n_frequencies, torch::kFloat64);
  torch::Tensor period = 0.25 * torch::pow(2048.0, k / std::max(1, n_frequencies - 1));
  torch::Tensor angle = t * (2 * M_PI) / period.reshape({1, -1});
  return torch::cat({torch::sin(angle), torch::cos(angle)}, 1).to(torch::kFloat32);
}

}  // namespace sfvu::fusion
