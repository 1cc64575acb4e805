// sfvu/pathways/siglip_vision.h: SigLIP's vision tower (transformers' SiglipVisionModel), as
// LLaVA-OneVision uses it: patch conv with bias, learned positions, no CLS, pre-LN encoder
// (pathways' shared EncoderLayer with gelu_pytorch_tanh, LN eps 1e-6), post_layernorm (never
// used by LLaVA: the feature is hidden_states[-1], taken before it). No attention-pool head.
//
// Usage:
//   pathways::SiglipVisionTransformer tower(config);   // weights: load_checkpoint (below)
//   torch::NoGradGuard no_grad;
//   std::vector<torch::Tensor> hidden;                  // optional
//   torch::Tensor last = tower->forward(pixels, &hidden);  // [B, g*g, D], before post_layernorm
//
// Parameter paths (below "vision_model."): embeddings.patch_embedding.{weight,bias},
// embeddings.position_embedding.weight, encoder.layers.N.*, post_layernorm.*
// A checkpoint's `head.*` (vision_use_head) and `embeddings.position_ids` are not parameters.
//
// Immutable after loading; share across threads for inference.
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sfvu/pathways/clip_config.h"
#include "sfvu/pathways/transformer.h"

namespace sfvu::pathways {

/// transformers' SiglipVisionConfig defaults (so a config.json diff means what it means there).
struct SiglipVisionConfig : EncoderShape {
  SiglipVisionConfig() {
    hidden_size = 768;
    intermediate_size = 3072;
    num_hidden_layers = 12;
    num_attention_heads = 12;
    hidden_act = Activation::kGeluTanh;
    layer_norm_eps = 1e-6;
  }
  int num_channels = 3;
  int image_size = 224;
  int patch_size = 16;
  bool vision_use_head = true;  ///< we never build the head (LLaVA sets false)
  /// Patches per side: floor(image_size / patch_size), as the "valid" patch conv gives
  /// (so400m/14-384: 384 is not a multiple of 14, the grid is 27 and the last 6 pixels unused).
  int grid() const { return image_size / patch_size; }

  /// A vision_config object (model_type "siglip_vision_model"): defaults overlaid with the keys
  /// present. FormatError naming `where` and the key for a wrong type or an impossible shape.
  static SiglipVisionConfig from_json(const nlohmann::json& j, const std::string& where);
  /// siglip-so400m-patch14-384 as LLaVA-OneVision ships it (26 of its 27 layers, no head).
  static SiglipVisionConfig so400m_patch14_384();
};

class SiglipVisionEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit SiglipVisionEmbeddingsImpl(const SiglipVisionConfig& c);
  /// pixels [B, C, S, S] (S = image_size) -> [B, g*g, D], patches row-major. Other sizes are a
  /// UsageError (LLaVA never interpolates SigLIP's positions).
  torch::Tensor forward(const torch::Tensor& pixels);

 private:
  SiglipVisionConfig config_;
  torch::nn::Conv2d patch_embedding{nullptr};
  torch::nn::Embedding position_embedding{nullptr};
};
TORCH_MODULE(SiglipVisionEmbeddings);

/// "vision_model": embeddings -> encoder (no pre-LN) -> post_layernorm (applied only by
/// post_layernorm_forward; LLaVA takes the encoder's hidden states).
class SiglipVisionTransformerImpl : public torch::nn::Module {
 public:
  /// Builds config.num_hidden_layers layers: pass a config cut to the layers a caller needs, so
  /// later layers are never allocated nor run (their checkpoint tensors are then unused).
  explicit SiglipVisionTransformerImpl(const SiglipVisionConfig& c);
  /// pixels [B, C, S, S] -> last encoder layer's output [B, g*g, D] (before post_layernorm).
  /// If `hidden_states` is non-null it receives the embeddings, then every layer's output
  /// (num_hidden_layers + 1 tensors, transformers' numbering).
  torch::Tensor forward(const torch::Tensor& pixels, std::vector<torch::Tensor>* hidden_states = nullptr);
  /// post_layernorm: [..., D] -> [..., D] (SiglipVisionModel's last_hidden_state).
  torch::Tensor post_layernorm_forward(const torch::Tensor& x);

  const SiglipVisionConfig& config() const { return config_; }

 private:
  SiglipVisionConfig config_;
  SiglipVisionEmbeddings embeddings{nullptr};
  Encoder encoder{nullptr};
  torch::nn::LayerNorm post_layernorm{nullptr};
};
TORCH_MODULE(SiglipVisionTransformer);

}  // namespace sfvu::pathways
