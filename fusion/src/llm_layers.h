// Private to fusion: the blocks of the Llama / Mistral / Qwen2 decoder (llm_decoder.h).
// Module names reproduce transformers' so parameter paths equal checkpoint keys.
#pragma once

#include <torch/torch.h>

#include "sfvu/fusion/llm_config.h"

namespace sfvu::fusion::detail {

/// RoPE frequencies of one forward call: cos/sin [T, head_dim] in `dtype`, on `device`.
struct RopeTables {
  torch::Tensor cos, sin;
};

/// inv_freq [head_dim / 2] float32 as transformers computes it at load time (default or
/// linear scaling; dynamic scaling starts from the default).
torch::Tensor rope_inv_freq(const LlmConfig& config);
/// cos/sin for positions first .. first+count-1. Dynamic NTK scaling (see Note [Dynamic NTK
/// RoPE] in llm_layers.cpp) uses first+count as the sequence length.
RopeTables rope_tables(const LlmConfig& config, const torch::Tensor& default_inv_freq, int64_t first, int64_t count,
                       torch::Dtype dtype, torch::Device device);

/// x [T, in] -> x W^T + b [T, out]; a single float32 row goes through a matrix-vector
/// product (see Note [Decode GEMV] in llm_layers.cpp). `bias` may be undefined.
torch::Tensor linear_rows(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias);

/// y = x W^T + b. Parameters start at zero (loading fills them), so building a 7B model
/// costs no random initialisation.
class LlmLinearImpl : public torch::nn::Module {
 public:
  LlmLinearImpl(int64_t in_features, int64_t out_features, bool bias, torch::Dtype dtype);
  torch::Tensor forward(const torch::Tensor& x) { return linear_rows(x, weight, bias); }
  torch::Tensor weight, bias;
};
TORCH_MODULE(LlmLinear);

/// Llama's RMSNorm: weight * (x.float() * rsqrt(mean(x.float()^2) + eps)).to(x.dtype).
class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(int64_t size, double eps, torch::Dtype dtype);
  torch::Tensor forward(const torch::Tensor& x);  ///< [T, D] -> [T, D]
  torch::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RmsNorm);

/// One layer's view of the KV cache: [Hkv, capacity, head_dim] keys and values; positions
/// < past are filled.
struct LayerCache {
  torch::Tensor& keys;
  torch::Tensor& values;
  int64_t past = 0;
};

/// Causal self-attention with RoPE and grouped kv heads, reading/writing the KV cache.
class LlmAttentionImpl : public torch::nn::Module {
 public:
  LlmAttentionImpl(const LlmConfig& config, torch::Dtype dtype);
  /// x [T, D] at positions cache.past .. cache.past+T-1; writes their keys/values into the
  /// cache and attends over cache positions [0, past+T). Queries are processed
  /// `chunk_rows` at a time (see Note [Attention in query chunks]). Returns [T, D].
  torch::Tensor forward(const torch::Tensor& x, const RopeTables& rope, LayerCache cache, int64_t chunk_rows);

 private:
  int64_t num_heads_, num_kv_heads_, head_dim_, sliding_window_;
  LlmLinear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
};
TORCH_MODULE(LlmAttention);

/// down(silu(gate(x)) * up(x)).
class LlmMlpImpl : public torch::nn::Module {
 public:
  LlmMlpImpl(const LlmConfig& config, torch::Dtype dtype);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  LlmLinear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(LlmMlp);

/// Pre-norm decoder layer: x += attn(input_layernorm(x)); x += mlp(post_attention_layernorm(x)).
class LlmDecoderLayerImpl : public torch::nn::Module {
 public:
  LlmDecoderLayerImpl(const LlmConfig& config, torch::Dtype dtype);
  torch::Tensor forward(const torch::Tensor& x, const RopeTables& rope, LayerCache cache, int64_t chunk_rows);

 private:
  RmsNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  LlmAttention self_attn{nullptr};
  LlmMlp mlp{nullptr};
};
TORCH_MODULE(LlmDecoderLayer);

/// Token embeddings [V, D] as "weight" (zero until loaded).
class LlmEmbeddingImpl : public torch::nn::Module {
 public:
  LlmEmbeddingImpl(int64_t vocab_size, int64_t hidden_size, torch::Dtype dtype);
  torch::Tensor weight;
};
TORCH_MODULE(LlmEmbedding);

/// transformers' *Model: "embed_tokens", "layers.N", "norm".
class LlmModelImpl : public torch::nn::Module {
 public:
  LlmModelImpl(const LlmConfig& config, torch::Dtype dtype);
  LlmEmbedding embed_tokens{nullptr};
  std::vector<LlmDecoderLayer> layers;
  RmsNorm norm{nullptr};
};

/// Query rows per attention chunk so that the float32 score block [H, rows, keys] stays
/// under about 16 MB (at least 16 rows).
int64_t auto_chunk_rows(int64_t num_heads, int64_t keys);

}  // namespace sfvu::fusion::detail
