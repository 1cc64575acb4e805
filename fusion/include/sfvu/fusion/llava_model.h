// sfvu/fusion/llava_model.h: LLaVA-family video LLMs (llava, llava_next, llava_onevision):
// vision tower (CLIP or SigLIP, run only up to the selected feature layer) -> 2-layer MLP
// projector -> visual embeddings placed at the prompt's placeholder slots -> Llama / Qwen2.
//
// Usage:
//   auto llava = fusion::LlavaModel::from_pretrained("llava-onevision-qwen2-0.5b-ov-hf/");
//   torch::NoGradGuard no_grad;
//   torch::Tensor visual = llava->video_embeds(pixels, VideoLayout::kNative);  // [N, D_text]
//   torch::Tensor embeds = llava->merge(input_ids, visual);  // ids with N placeholder slots
//   fusion::KvCache cache(llava->config().text, embeds.size(0) + 64);
//   auto out = fusion::generate(*llava->language_model(), embeds, ids, options, cache);
//
// Checkpoints: both tensor-name layouts (old `language_model.model.*`, `vision_tower.*`,
// `multi_modal_projector.*`, `image_newline`; new `model.language_model.*`, `model.vision_tower.*`,
// `model.multi_modal_projector.*`, `model.image_newline`, `lm_head.*`), sharded or not, F16 /
// BF16 / F32 converted to the requested dtype at load. Tensors the feature layer never reaches
// (CLIP's later layers and post_layernorm) are skipped. ../shared/specs/llm_checkpoints.md.
//
// Immutable after loading; share across threads for inference.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "sfvu/fusion/llava_config.h"
#include "sfvu/fusion/llm_decoder.h"

namespace sfvu::fusion {

/// How frames become visual tokens (issue 9 "SlowFast layouts").
enum class VideoLayout {
  kNative,    ///< the model's own video path (OneVision: bilinear pool to ceil(g/2) + one newline)
  kSlowFast,  ///< SlowFast-LLaVA: slow frames 1-D max pooled pairs, all frames 4x4 adaptive avg
};
VideoLayout parse_video_layout(const std::string& name);  ///< "native" | "slowfast"
std::string to_string(VideoLayout layout);

/// SlowFast-LLaVA's layout parameters (apple/ml-slowfast-llava prepare_slowfast).
struct SlowFastLayoutOptions {
  int n_slow_frames = 10;      ///< slow frames int32(linspace(0, T, n+1))[:-1] (clamped to T)
  int fast_grid = 4;           ///< AdaptiveAvgPool2d((fast_grid, fast_grid)) on every frame
  bool slow_pool_pairs = true; ///< MaxPool1d(2) over the row-major tokens of a slow frame
  bool append_newline = false; ///< OneVision: one image_newline after [slow; fast]
};

class LlavaModelImpl : public torch::nn::Module {
 public:
  explicit LlavaModelImpl(const LlavaConfig& config);

  /// Loads dir/config.json and the safetensors (model.safetensors or the sharded index).
  /// FormatError naming the file and tensor for missing / mis-shaped tensors.
  static std::shared_ptr<LlavaModelImpl> from_pretrained(const std::string& dir,
                                                         torch::Dtype dtype = torch::kFloat32,
                                                         torch::Device device = torch::kCPU);

  /// Vision tower up to the feature layer, strategy applied: pixels [B, 3, S, S] ->
  /// [B, N, D_vision] (CLIP "default": CLS dropped). `hidden_states` (optional) receives the
  /// tower's hidden states [0..feature layer] as HF numbers them.
  torch::Tensor image_features(const torch::Tensor& pixels, std::vector<torch::Tensor>* hidden_states = nullptr);
  /// The projector: [..., D_vision] -> [..., D_text].
  torch::Tensor project(const torch::Tensor& features);

  /// One image as HF's model path computes it: llava (one 336 crop: [1, 3, S, S]) -> N tokens;
  /// llava_next / llava_onevision anyres (pixels [n_crops, 3, S, S], image_size = (H, W) of the
  /// original) -> base + unpadded grid + newlines. Returns [N, D_text].
  torch::Tensor image_embeds(const torch::Tensor& pixels, std::pair<int64_t, int64_t> image_size);
  /// Video frames [T, 3, S, S] -> [N, D_text] in `layout`.
  torch::Tensor video_embeds(const torch::Tensor& frames, VideoLayout layout,
                             const SlowFastLayoutOptions& slowfast = {});
  /// Tokens video_embeds() yields for T frames (to size prompts and caches before encoding).
  int64_t video_token_count(int64_t n_frames, VideoLayout layout, const SlowFastLayoutOptions& slowfast = {}) const;
  /// Token count HF's processor expands an image of `image_size` to (anyres), or the fixed count.
  int64_t image_token_count(std::pair<int64_t, int64_t> image_size) const;

  /// Embeds `input_ids` [T] and puts the rows of `visual` [N, D] at the N placeholder slots
  /// (image_token_index or video_token_index ids), in order. FormatError when N differs from the
  /// number of slots. Returns [T, D_text].
  torch::Tensor merge(const torch::Tensor& input_ids, const torch::Tensor& visual);

  LlmForCausalLM language_model() const { return language_model_; }
  const LlavaConfig& config() const { return config_; }
  torch::Dtype dtype() const;

 private:
  LlavaConfig config_;
  std::shared_ptr<torch::nn::Module> vision_tower_;  // CLIP or SigLIP, registered "vision_tower"
  std::shared_ptr<torch::nn::Module> projector_;     // "multi_modal_projector"
  torch::Tensor image_newline_;                      // "image_newline" (when the model has one)
  LlmForCausalLM language_model_{nullptr};           // "language_model"
};
TORCH_MODULE(LlavaModel);

}  // namespace sfvu::fusion
