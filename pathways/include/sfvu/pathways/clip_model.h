// sfvu/pathways/clip_model.h: CLIP's vision and text towers, loaded from Hugging Face
// checkpoints (config.json + model.safetensors, sharded or not).
//
// Usage:
//   auto clip = sfvu::pathways::ClipModel::from_pretrained("clip-vit-base-patch32/");
//   torch::NoGradGuard no_grad;
//   auto v = clip->vision(pixels);            // pixels [B, 3, H, W] float, preprocessed
//   torch::Tensor img = v.embeds;             // [B, projection_dim], not normalised
//   torch::Tensor txt = clip->text(ids).embeds;  // ids [B, T] int64
//
// Parameter paths equal the checkpoint keys (vision_model.encoder.layers.3.self_attn.q_proj...),
// so loading is a walk over named_parameters() (load_checkpoint). The model is immutable
// after loading and may be shared across threads for inference (forward allocates only
// per-call tensors); call torch::NoGradGuard in inference threads.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "sfvu/pathways/clip_config.h"
#include "sfvu/pathways/transformer.h"

namespace sfvu {
class SafetensorsCheckpoint;
}

namespace sfvu::pathways {

struct VisionOutput {
  /// num_layers + 1 tensors [B, 1 + N, D]: [0] after pre_layrnorm, [i] output of layer i.
  /// Filled only when asked for (vision(..., true)); the R^2-Tuning style uses the last four.
  std::vector<torch::Tensor> hidden_states;
  torch::Tensor last_hidden_state;  ///< [B, 1 + N, D], before post_layernorm
  torch::Tensor patch_grid;         ///< [B, grid_h, grid_w, D]: last_hidden_state without CLS
  torch::Tensor pooled;             ///< [B, D]: post_layernorm(CLS)
  torch::Tensor embeds;             ///< [B, projection_dim]: visual_projection(pooled); undefined if none
  int64_t grid_h = 0, grid_w = 0;
};

struct TextOutput {
  /// num_layers + 1 tensors [B, T, D]: [0] token + position embeddings, [i] layer i output.
  std::vector<torch::Tensor> hidden_states;
  torch::Tensor last_hidden_state;  ///< [B, T, D] after final_layer_norm
  torch::Tensor pooled;             ///< [B, D] at the EOT position
  torch::Tensor embeds;             ///< [B, projection_dim]; undefined if no text_projection
  torch::Tensor eot_index;          ///< [B] int64 pooling positions
};

class ClipVisionEmbeddingsImpl : public torch::nn::Module {
 public:
  static constexpr int kPixelChannels = 32;  ///< Note [Pixel stem]
  explicit ClipVisionEmbeddingsImpl(const ClipVisionConfig& c);
  /// pixels [B, C, H, W] -> [B, 1 + gh * gw, D]; positions are interpolated (bicubic, as
  /// transformers' interpolate_pos_encoding) when H, W differ from image_size.
  torch::Tensor forward(const torch::Tensor& pixels, int64_t* grid_h, int64_t* grid_w);

 private:
  torch::Tensor position_table(int64_t gh, int64_t gw);
  torch::Tensor embed_patches(const torch::Tensor& pixels);  ///< [B, C, H, W] -> [B, D, gh, gw]
  ClipVisionConfig config_;
  torch::Tensor class_embedding;
  torch::nn::Conv2d patch_embedding{nullptr};  // stem "patch"
  torch::nn::ModuleList stem{nullptr};         // stem "conv": 3x3 stride-2 convolutions, then a 1x1
  torch::nn::Conv2d pixel_conv{nullptr};       // stem "pixel" (+ patch_embedding): 3x3 stride 1
  torch::nn::Conv2d pixel_proj{nullptr};       // ... max-pooled per patch, then this 1x1
  torch::nn::Embedding position_embedding{nullptr};
};
TORCH_MODULE(ClipVisionEmbeddings);

class ClipVisionTransformerImpl : public torch::nn::Module {
 public:
  explicit ClipVisionTransformerImpl(const ClipVisionConfig& c);
  VisionOutput forward(const torch::Tensor& pixels, bool keep_hidden_states);

 private:
  ClipVisionEmbeddings embeddings{nullptr};
  torch::nn::LayerNorm pre_layrnorm{nullptr};  // sic: the checkpoint key
  Encoder encoder{nullptr};
  torch::nn::LayerNorm post_layernorm{nullptr};
};
TORCH_MODULE(ClipVisionTransformer);

class ClipTextEmbeddingsImpl : public torch::nn::Module {
 public:
  explicit ClipTextEmbeddingsImpl(const ClipTextConfig& c);
  torch::Tensor forward(const torch::Tensor& ids);  ///< [B, T] int64 -> [B, T, D]

 private:
  torch::nn::Embedding token_embedding{nullptr}, position_embedding{nullptr};
};
TORCH_MODULE(ClipTextEmbeddings);

class ClipTextTransformerImpl : public torch::nn::Module {
 public:
  explicit ClipTextTransformerImpl(const ClipTextConfig& c);
  TextOutput forward(const torch::Tensor& ids, bool keep_hidden_states);

 private:
  ClipTextConfig config_;
  ClipTextEmbeddings embeddings{nullptr};
  Encoder encoder{nullptr};
  torch::nn::LayerNorm final_layer_norm{nullptr};
};
TORCH_MODULE(ClipTextTransformer);

/// Which parts a model has: checkpoints may be vision-only (no text_model.*), or come
/// without projections (CLIPVisionModel).
struct ClipParts {
  bool text = true;
  bool visual_projection = true;
  bool text_projection = true;
};

class ClipModelImpl : public torch::nn::Module {
 public:
  ClipModelImpl(const ClipConfig& config, ClipParts parts = {});

  /// Loads `dir/config.json` and `dir/model.safetensors` (or its sharded index) onto
  /// `device` in `dtype` (kFloat32, kBFloat16, kFloat16). Parts missing from the checkpoint
  /// (text tower, projections) are left out. Throws FormatError listing missing and
  /// mis-shaped keys by name; unexpected keys are logged (position_ids buffers ignored).
  static std::shared_ptr<ClipModelImpl> from_pretrained(const std::string& dir, torch::Dtype dtype = torch::kFloat32,
                                                        torch::Device device = torch::kCPU);

  VisionOutput vision(const torch::Tensor& pixels, bool keep_hidden_states = false);
  /// Requires the text tower (UsageError otherwise).
  TextOutput text(const torch::Tensor& ids, bool keep_hidden_states = false);
  /// exp(logit_scale) * normalize(image_embeds) @ normalize(text_embeds)^T: [Bi, Bt]
  torch::Tensor logits_per_image(const torch::Tensor& image_embeds, const torch::Tensor& text_embeds);
  /// exp(logit_scale): the temperature CLIP's logits are scaled by (100 in trained models);
  /// 1 when the checkpoint has none (vision-only).
  double logit_scale_exp() const;

  const ClipConfig& config() const { return config_; }
  const ClipParts& parts() const { return parts_; }
  torch::Dtype dtype() const;
  torch::Device device() const;

 private:
  ClipConfig config_;
  ClipParts parts_;
  ClipVisionTransformer vision_model{nullptr};
  torch::nn::Linear visual_projection{nullptr};
  ClipTextTransformer text_model{nullptr};
  torch::nn::Linear text_projection{nullptr};
  torch::Tensor logit_scale;
};
TORCH_MODULE(ClipModel);

}  // namespace sfvu::pathways
