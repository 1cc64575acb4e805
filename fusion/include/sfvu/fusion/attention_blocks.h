// sfvu/fusion/attention_blocks.h: the blocks the fusion layer is built from. Attention and MLP
// are pathways' (transformer.h, written once for CLIP and fusion alike); these add the
// residual wiring fusion needs: a pre-LN cross-attention block with an optional tanh gate,
// and sinusoidal time features.
#pragma once

#include <torch/torch.h>

#include "sfvu/pathways/transformer.h"

namespace sfvu::fusion {

/// x + g * attn(ln(x), context) then x + mlp(ln2(x)), with g = tanh(gate) when gated (gate
/// initialised at 0, so the block starts as the identity: the Slow-Fast MLLM hybrid layers'
/// trick that lets new context enter a working stream gradually) and g = 1 otherwise.
class CrossAttentionBlockImpl : public torch::nn::Module {
 public:
  CrossAttentionBlockImpl(int d_model, int num_heads, int mlp_ratio, bool gated, double dropout);
  /// x: [B, Tq, D]; context: [B, Tk, D]; context_mask: bool [B, Tk] (true = attend) or
  /// undefined. Returns [B, Tq, D].
  /// `attended`, when given, receives attn(ln(x), context) before the gate.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context, const torch::Tensor& context_mask = {},
                        torch::Tensor* attended = nullptr);
  /// tanh(gate), 1 when not gated.
  double gate_value() const;

 private:
  bool gated_;
  double dropout_;
  torch::nn::LayerNorm norm_q{nullptr}, norm_kv{nullptr}, norm_mlp{nullptr};
  pathways::Attention cross_attn{nullptr};
  pathways::Mlp mlp{nullptr};
  torch::Tensor gate;
};
TORCH_MODULE(CrossAttentionBlock);

/// Pre-LN self-attention layer with dropout (pathways' EncoderLayer has none, and training a
/// small fusion from scratch wants some): x += drop(attn(ln1(x), mask)); x += drop(mlp(ln2(x))).
class SelfAttentionBlockImpl : public torch::nn::Module {
 public:
  SelfAttentionBlockImpl(int d_model, int num_heads, int mlp_ratio, double dropout);
  /// x: [B, T, D]; key_mask: bool [B, T] (true = valid) or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_mask = {});

 private:
  double dropout_;
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  pathways::Attention self_attn{nullptr};
  pathways::Mlp mlp{nullptr};
};
TORCH_MODULE(SelfAttentionBlock);

/// Residual depthwise temporal convolution (Note [Temporal convolution] in slowfast_fusion.h):
/// x += proj(gelu(conv_k(ln(x)))), the convolution per channel along the timeline.
class TemporalConvBlockImpl : public torch::nn::Module {
 public:
  TemporalConvBlockImpl(int d_model, int kernel);
  /// x: [B, T, D] -> [B, T, D].
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Conv1d conv{nullptr};
  torch::nn::Linear proj{nullptr};
};
TORCH_MODULE(TemporalConvBlock);

/// Additive attention mask [B, 1, 1, Tk] from a bool key mask [B, Tk] (true = attend).
torch::Tensor additive_key_mask(const torch::Tensor& key_mask, torch::Dtype dtype);

/// sin/cos features of times in seconds: float64 or float32 [N] -> float32 [N, 2 * n_frequencies],
/// periods spaced geometrically from 0.25 s to 512 s.
torch::Tensor time_features(const torch::Tensor& seconds, int n_frequencies);

}  // namespace sfvu::fusion
