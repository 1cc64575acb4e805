// sfvu/pathways/transformer.h: the transformer blocks every sfvu model shares (CLIP's two
// towers now; the fusion layer's cross-attention later). Module names reproduce Hugging
// Face's so that parameter paths equal checkpoint keys (STYLE rule 5):
//   self_attn.{q,k,v,out}_proj, layer_norm1, mlp.fc1, mlp.fc2, layer_norm2, layers.N
#pragma once

#include <torch/torch.h>

#include <vector>

#include "sfvu/pathways/clip_config.h"

namespace sfvu::pathways {

torch::Tensor activate(const torch::Tensor& x, Activation act);

/// Multi-head attention with separate q/k/v/out projections (all with bias).
/// Queries and keys/values may come from different sequences (cross-attention).
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int hidden_size, int num_heads);
  /// x: [B, Tq, D] queries; context: [B, Tk, D] keys/values (undefined = self-attention);
  /// mask: additive, broadcastable to [B, H, Tq, Tk] (undefined = none). Returns [B, Tq, D].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context = {}, const torch::Tensor& mask = {});

  int num_heads() const { return num_heads_; }

 private:
  int num_heads_, head_dim_;
  double scale_;
  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, out_proj{nullptr};
};
TORCH_MODULE(Attention);

/// fc1 -> activation -> fc2.
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int hidden_size, int intermediate_size, Activation act);
  torch::Tensor forward(const torch::Tensor& x);  ///< [..., D] -> [..., D]

 private:
  Activation act_;
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(Mlp);

/// Pre-LN encoder layer: x += attn(ln1(x)); x += mlp(ln2(x)).
class EncoderLayerImpl : public torch::nn::Module {
 public:
  EncoderLayerImpl(int hidden_size, int intermediate_size, int num_heads, Activation act, double eps);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask = {});  ///< [B, T, D]

 private:
  Attention self_attn{nullptr};
  torch::nn::LayerNorm layer_norm1{nullptr}, layer_norm2{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(EncoderLayer);

/// A stack of encoder layers ("layers.N").
class EncoderImpl : public torch::nn::Module {
 public:
  explicit EncoderImpl(const EncoderShape& shape);
  /// x: [B, T, D]. If `hidden_states` is non-null it receives x, then every layer's output
  /// (num_layers + 1 tensors). Returns the last layer's output.
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& mask = {},
                        std::vector<torch::Tensor>* hidden_states = nullptr);
  int64_t num_layers() const { return static_cast<int64_t>(layers->size()); }

 private:
  torch::nn::ModuleList layers;
};
TORCH_MODULE(Encoder);

}  // namespace sfvu::pathways
