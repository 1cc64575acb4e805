// sfvu/fusion/llm_decoder.h: Llama / Mistral / Qwen2 decoder-only language models, as
// transformers' *ForCausalLM computes them (v4.45.1, eager attention), with a preallocated
// KV cache.
//
// Usage:
//   fusion::LlmForCausalLM lm(config, torch::kFloat32);  // then load weights (LlavaModel does it)
//   fusion::KvCache cache(config, /*capacity_tokens=*/prompt + max_new, torch::kFloat32);
//   torch::NoGradGuard no_grad;
//   torch::Tensor h = lm->forward(lm->embed(prompt_ids), cache);   // [T, D], cache now T long
//   torch::Tensor next = lm->logits(h.slice(0, -1));               // [1, V] float32
//
// Parameter paths equal the (old-layout) checkpoint keys below the "language_model." prefix:
//   model.embed_tokens.weight, model.layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj,
//   post_attention_layernorm, mlp.{gate,up,down}_proj}, model.norm.weight, lm_head.weight
//   (lm_head is not a parameter when tie_word_embeddings: logits use embed_tokens).
//
// Exact compute rules (../shared/specs/llm_checkpoints.md §3): RMSNorm in fp32 then cast back;
// RoPE rotate-half with inv_freq and cos/sin computed in fp32; attention softmax in fp32;
// scale 1/sqrt(head_dim); GQA by repeating kv heads; causal. Dynamic NTK RoPE recomputes
// inv_freq when max(position)+1 > max_position_embeddings, for the new tokens only: keys
// already in the cache keep the rotation they were stored with (as HF generate does).
//
// Batch size 1: a prompt is one sequence. The model is immutable after loading and may be
// shared across threads; a KvCache is per-conversation state (STYLE rule 4). Inference only:
// embed/forward/logits run under their own torch::NoGradGuard, so callers may omit theirs.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "sfvu/fusion/llm_config.h"

namespace sfvu::fusion {

/// Keys and values of every layer for one sequence, preallocated for `capacity_tokens`
/// positions ([num_layers][Hkv, capacity, head_dim] each), so generation never reallocates.
class KvCache {
 public:
  KvCache(const LlmConfig& config, int64_t capacity_tokens, torch::Dtype dtype = torch::kFloat32,
          torch::Device device = torch::kCPU);
  int64_t length() const { return length_; }      ///< positions filled
  int64_t capacity() const { return capacity_; }
  int num_layers() const { return static_cast<int>(keys_.size()); }
  size_t bytes() const;                            ///< memory held by keys + values
  void clear() { length_ = 0; }
  /// Forgets positions >= n; UsageError unless 0 <= n <= length().
  void truncate(int64_t n);

  // Used by the attention layers.
  torch::Tensor& keys(int layer) { return keys_[static_cast<size_t>(layer)]; }
  torch::Tensor& values(int layer) { return values_[static_cast<size_t>(layer)]; }
  void advance(int64_t n);  ///< after every layer appended n positions; UsageError past capacity

 private:
  std::vector<torch::Tensor> keys_, values_;
  int64_t length_ = 0, capacity_ = 0;
};

class LlmForCausalLMImpl : public torch::nn::Module {
 public:
  /// Parameters are created in `dtype` (so a 7B model never exists in float32) and start at
  /// zero, norm weights at one: load a checkpoint, or fill them (benchmarks), before use.
  explicit LlmForCausalLMImpl(const LlmConfig& config, torch::Dtype dtype = torch::kFloat32);

  /// Token embeddings: ids int64 [T] -> [T, D] in the model's dtype. UsageError for an id
  /// outside [0, vocab_size).
  torch::Tensor embed(const torch::Tensor& ids);
  /// Runs `embeds` [T, D] (converted to the model's dtype) at positions cache.length() ..
  /// cache.length()+T-1, appending their keys/values to `cache`. Returns the final hidden
  /// states [T, D] (after model.norm). If `hidden_states` is non-null it receives the
  /// embeddings, then every layer's output, the last one with the final norm applied (HF's
  /// output_hidden_states convention). UsageError when the cache does not fit this model
  /// (layers, kv heads, head_dim, dtype, device) or has no room for T more positions; the
  /// cache is unchanged then.
  torch::Tensor forward(const torch::Tensor& embeds, KvCache& cache,
                        std::vector<torch::Tensor>* hidden_states = nullptr);
  /// lm_head (or the tied embeddings): hidden [T, D] -> float32 logits [T, V]. Pass only the
  /// rows needed (generation: the last one).
  torch::Tensor logits(const torch::Tensor& hidden);

  /// Prefill attention handles this many query positions at a time; 0 (default) picks as
  /// many as keep the float32 score block [heads, rows, keys] near 16 MB (cache-resident),
  /// so a long prompt never materialises [heads, T, T]. Results do not depend on it beyond
  /// rounding. Set before sharing the model across threads.
  void set_attention_chunk_rows(int64_t rows);

  const LlmConfig& config() const { return config_; }
  torch::Dtype dtype() const;

 private:
  LlmConfig config_;
  // The registered submodules ("model": embed_tokens, layers, norm; "lm_head" unless tied)
  // and the RoPE frequencies, defined in llm_decoder.cpp.
  struct Impl;
  std::shared_ptr<Impl> impl_;
};
TORCH_MODULE(LlmForCausalLM);

}  // namespace sfvu::fusion
