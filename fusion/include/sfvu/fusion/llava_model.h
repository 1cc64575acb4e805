// sfvu/fusion/llava_model.h: LLaVA-family video LLMs (llava, llava_next, llava_onevision):
// vision tower (CLIP or SigLIP, run only up to the selected feature layer) -> 2-layer MLP
// projector -> visual embeddings placed at the prompt's placeholder slots -> Llama / Qwen2.
// Every path computes what transformers v4.45.1 computes (../shared/specs/llm_checkpoints.md §3).
//
// Usage:
//   auto llava = fusion::LlavaModelImpl::from_pretrained("llava-onevision-qwen2-0.5b-ov-hf/");
//   torch::Tensor visual = llava->video_embeds(pixels, VideoLayout::kNative);  // [N, D_text]
//   torch::Tensor embeds = llava->merge(input_ids, visual);  // ids with N placeholder slots
//   fusion::KvCache cache(llava->config().text, embeds.size(0) + 64);
//   auto out = fusion::generate(*llava->language_model(), embeds, ids, options, cache);
//
// Checkpoints: both tensor-name layouts (old `language_model.model.*`, `language_model.lm_head.*`,
// `vision_tower.*`, `multi_modal_projector.*`, `image_newline`; new `model.language_model.*`,
// `lm_head.*`, `model.vision_tower.*`, `model.multi_modal_projector.*`, `model.image_newline`),
// sharded or not, F16 / BF16 / F32 converted to the requested dtype at load. Parameter paths are
// the old layout's keys. The vision layers past the feature layer are never built; their tensors
// are skipped silently, as are the tower's post_layernorm (the feature is taken before it: neither
// loaded nor required), SigLIP's `head.*` and a tied model's stored `lm_head`. Any other tensor
// the model does not use is logged as a warning.
//
// Inference only: every method runs under its own torch::NoGradGuard. Immutable after loading;
// share across threads for inference (per-video state lives in VideoEmbedSession).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sfvu/fusion/llava_config.h"
#include "sfvu/fusion/llm_decoder.h"
#include "sfvu/pathways/clip_model.h"
#include "sfvu/pathways/siglip_vision.h"

namespace sfvu::fusion {

/// How frames become visual tokens (issue 9 "SlowFast layouts").
enum class VideoLayout {
  kNative,    ///< the model's own video path (OneVision: bilinear pool to ceil(g/2) + one newline;
              ///< llava / llava_next have none: UsageError)
  kSlowFast,  ///< SlowFast-LLaVA: slow frames 1x2 max pooled pairs, all frames 4x4 adaptive avg
};
VideoLayout parse_video_layout(const std::string& name);  ///< "native" | "slowfast"; UsageError otherwise
std::string to_string(VideoLayout layout);

/// SlowFast-LLaVA's layout parameters (apple/ml-slowfast-llava prepare_slowfast), in projector
/// space. Tokens: [slow frames (frame-major, row-major); fast (frame-major, row-major); newline].
struct SlowFastLayoutOptions {
  int n_slow_frames = 10;  ///< slow frames int32(linspace(0, T, n+1))[:-1] (n clamped to T)
  int fast_grid = 4;       ///< AdaptiveAvgPool2d((fast_grid, fast_grid)) on every frame
  /// Max over horizontal pairs of a slow frame's grid: g x ceil(g/2) tokens (for even g exactly
  /// SF-LLaVA's MaxPool1d(2) over row-major tokens; Note [SlowFast on odd grids]). false: g x g.
  bool slow_pool_pairs = true;
  bool append_newline = true;  ///< one image_newline after [slow; fast] when the model has one (OneVision)
};

/// Indices of the slow frames among `n_frames`: int32(linspace(0, T, S + 1))[:-1], S = min(n, T).
std::vector<int64_t> slowfast_slow_frames(int64_t n_frames, const SlowFastLayoutOptions& options);

/// transformers' select_best_resolution: the (H, W) among `candidates` that keeps the most of an
/// image of `image_size` (H, W) when fitted inside it, then wastes the least; first wins ties.
std::pair<int64_t, int64_t> select_best_resolution(std::pair<int64_t, int64_t> image_size,
                                                   const std::vector<std::pair<int64_t, int64_t>>& candidates);

/// Crops an image of `image_size` (H, W) is cut into for `config` (1 for llava; anyres: base +
/// tiles of the best pinpoint), and the tokens it becomes (what HF's processor expands its
/// placeholder to; always LlavaModelImpl::image_embeds(...).size(0)). No model needed.
int64_t image_crop_count(const LlavaConfig& config, std::pair<int64_t, int64_t> image_size);
int64_t image_token_count(const LlavaConfig& config, std::pair<int64_t, int64_t> image_size);

/// Frames processed by the vision tower per forward pass (bounds activation memory).
constexpr int64_t kVisionFramesPerChunk = 8;

/// "multi_modal_projector": linear_1 (D_vision -> D_text), projector_hidden_act, linear_2.
class LlavaProjectorImpl : public torch::nn::Module {
 public:
  explicit LlavaProjectorImpl(const LlavaConfig& config);
  torch::Tensor forward(const torch::Tensor& features);  ///< [..., D_vision] -> [..., D_text]

 private:
  pathways::Activation act_;
  torch::nn::Linear linear_1{nullptr}, linear_2{nullptr};
};
TORCH_MODULE(LlavaProjector);

/// "vision_tower": {"vision_model": CLIP or SigLIP}, built with vision_layers_needed() layers.
class LlavaVisionTowerImpl : public torch::nn::Module {
 public:
  explicit LlavaVisionTowerImpl(const LlavaConfig& config);
  /// pixels [B, 3, S, S] -> hidden_states[feature layer] with the strategy applied ("default"
  /// drops CLIP's CLS): [B, N, D_vision]. `hidden_states` (optional) receives [0..feature layer].
  torch::Tensor forward(const torch::Tensor& pixels, std::vector<torch::Tensor>* hidden_states = nullptr);

 private:
  bool drop_cls_;
  pathways::ClipVisionTransformer clip_{nullptr};
  pathways::SiglipVisionTransformer siglip_{nullptr};
};
TORCH_MODULE(LlavaVisionTower);

class LlavaModelImpl : public torch::nn::Module {
 public:
  /// Unloaded weights in `dtype` (the language model's start at zero: see LlmForCausalLM):
  /// from_pretrained loads real ones; benchmarks fill them.
  explicit LlavaModelImpl(const LlavaConfig& config, torch::Dtype dtype = torch::kFloat32);

  /// Loads dir/config.json and the safetensors (model.safetensors or the sharded index).
  /// FormatError naming the file and tensor for missing / mis-shaped tensors; tensors the model
  /// has no use for (other than the known-unused ones above) are logged as a warning.
  static std::shared_ptr<LlavaModelImpl> from_pretrained(const std::string& dir, torch::Dtype dtype = torch::kFloat32,
                                                         torch::Device device = torch::kCPU);
  /// The same with `config` in place of dir/config.json (e.g. a RoPE scaling override).
  static std::shared_ptr<LlavaModelImpl> from_pretrained(const std::string& dir, const LlavaConfig& config,
                                                         torch::Dtype dtype = torch::kFloat32,
                                                         torch::Device device = torch::kCPU);

  /// Vision tower up to the feature layer, strategy applied: pixels [B, 3, S, S] ->
  /// [B, N, D_vision] (CLIP "default": CLS dropped). `hidden_states` (optional) receives the
  /// tower's hidden states [0..feature layer] as HF numbers them.
  torch::Tensor image_features(const torch::Tensor& pixels, std::vector<torch::Tensor>* hidden_states = nullptr);
  /// The projector: [..., D_vision] -> [..., D_text].
  torch::Tensor project(const torch::Tensor& features);
  /// image_features then project, `frames_per_chunk` images per tower pass: [B, 3, S, S] ->
  /// [B, N, D_text].
  torch::Tensor projected_features(const torch::Tensor& pixels, int64_t frames_per_chunk = kVisionFramesPerChunk);

  /// One image as HF's model path computes it: llava (pixels [1, 3, S, S]; image_size unused)
  /// -> N tokens; llava_next / llava_onevision anyres (pixels [n_crops, 3, S, S]: the base
  /// image, then the tiles of select_best_resolution row-major; image_size = (H, W) of the
  /// original) -> base + unpadded grid with an image_newline ending every row (OneVision:
  /// "anyres_max_N" bilinear downsizing first). One crop only: base + one newline (HF's
  /// multi-image path). Returns [N, D_text].
  torch::Tensor image_embeds(const torch::Tensor& pixels, std::pair<int64_t, int64_t> image_size);
  /// Crops image_embeds expects for an image of `image_size`: 1 (llava) or base + tiles.
  int64_t image_crop_count(std::pair<int64_t, int64_t> image_size) const;
  /// Token count HF's processor expands an image of `image_size` to (anyres), or the fixed count;
  /// always image_embeds(...).size(0).
  int64_t image_token_count(std::pair<int64_t, int64_t> image_size) const;

  /// Video frames [T, 3, S, S] -> [N, D_text] in `layout`, `frames_per_chunk` frames per tower
  /// pass, keeping only pooled tokens (VideoEmbedSession over all frames at once).
  torch::Tensor video_embeds(const torch::Tensor& frames, VideoLayout layout,
                             const SlowFastLayoutOptions& slowfast = {},
                             int64_t frames_per_chunk = kVisionFramesPerChunk);
  /// Tokens video_embeds() yields for T frames (to size prompts and caches before encoding).
  int64_t video_token_count(int64_t n_frames, VideoLayout layout, const SlowFastLayoutOptions& slowfast = {}) const;

  /// Embeds `input_ids` [T] (or [1, T]) and puts the rows of `visual` [N, D] at the N placeholder
  /// slots (image_token_index or video_token_index ids), in prompt order. FormatError when N
  /// differs from the number of slots. Returns [T, D_text].
  torch::Tensor merge(const torch::Tensor& input_ids, const torch::Tensor& visual);

  LlmForCausalLM language_model() const { return language_model_; }
  const LlavaConfig& config() const { return config_; }
  /// [D_text], or undefined for llava (no newline parameter).
  const torch::Tensor& image_newline() const { return image_newline_; }
  torch::Dtype dtype() const;
  torch::Device device() const;

 private:
  LlavaConfig config_;
  LlavaVisionTower vision_tower_{nullptr};  // "vision_tower"
  LlavaProjector projector_{nullptr};       // "multi_modal_projector"
  torch::Tensor image_newline_;             // "image_newline" (when the model has one)
  LlmForCausalLM language_model_{nullptr};  // "language_model"
};
TORCH_MODULE(LlavaModel);

/// One video's encoding, frames arriving in order in batches of any size (a decoder's chunks):
/// each batch runs through the tower `frames_per_chunk` frames at a time and only the pooled
/// tokens are kept, so memory is bounded by the chunk and the output, not the video. The model
/// must outlive the session; one session per video (not shared across threads).
class VideoEmbedSession {
 public:
  /// `n_frames`: the video's total (the slow frames are chosen from it). UsageError when the
  /// model has no such layout (kNative on llava / llava_next).
  VideoEmbedSession(LlavaModelImpl& model, int64_t n_frames, VideoLayout layout,
                    const SlowFastLayoutOptions& slowfast = {}, int64_t frames_per_chunk = kVisionFramesPerChunk);
  /// frames [t, 3, S, S], the next t frames of the video. UsageError past n_frames.
  void add_frames(const torch::Tensor& frames);
  int64_t frames_seen() const { return seen_; }
  /// All visual tokens [N, D_text] (N = video_token_count). UsageError unless every frame was added.
  torch::Tensor finish();

 private:
  void add_chunk(const torch::Tensor& frames);
  LlavaModelImpl& model_;
  int64_t n_frames_;
  VideoLayout layout_;
  SlowFastLayoutOptions slowfast_;
  int64_t frames_per_chunk_;
  int64_t seen_ = 0;
  std::vector<int64_t> slow_frames_;                    // sorted
  std::vector<torch::Tensor> slow_parts_, fast_parts_;  // kNative keeps its tokens in fast_parts_
};

}  // namespace sfvu::fusion
