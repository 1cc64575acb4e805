// sfvu/fusion/llava_config.h: config.json of LLaVA-family checkpoints (model_type "llava",
// "llava_next", "llava_onevision"), resolved against transformers' defaults per model_type
// for the top level, vision_config (clip_vision_model / siglip_vision_model) and text_config
// (LlmConfig). ../shared/specs/llm_checkpoints.md §1.
//
// Defaults (transformers v4.45.1): a missing vision_config means the model_type's own tower
// (llava / llava_next: CLIP ViT-L/14-336; llava_onevision: SigLIP so400m/14-384, 26 layers);
// a present one is a diff against CLIPVisionConfig / SiglipVisionConfig (its model_type
// defaulting to the model's tower). A missing text_config means LlamaConfig (llava, llava_next)
// or Qwen2Config (llava_onevision) defaults.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "sfvu/fusion/llm_config.h"
#include "sfvu/pathways/clip_config.h"
#include "sfvu/pathways/siglip_vision.h"

namespace sfvu::fusion {

struct LlavaConfig {
  std::string model_type = "llava";
  enum class VisionKind { kClip, kSiglip };
  VisionKind vision_kind = VisionKind::kClip;
  pathways::ClipVisionConfig clip_vision;      ///< when vision_kind == kClip
  pathways::SiglipVisionConfig siglip_vision;  ///< when vision_kind == kSiglip
  LlmConfig text;

  int64_t image_token_index = 32000;
  int64_t video_token_index = -1;  ///< -1: none (llava, llava_next)
  std::string projector_hidden_act = "gelu";
  int vision_feature_layer = -2;
  std::string vision_feature_select_strategy = "default";         ///< "default" (drop CLS) | "full"
  std::vector<std::pair<int64_t, int64_t>> image_grid_pinpoints;  ///< (H, W) each
  std::string vision_aspect_ratio;                                ///< OneVision: "anyres_max_9"
  bool use_image_newline_parameter = false;
  bool tie_word_embeddings = false;

  int vision_hidden_size() const;
  int vision_image_size() const;
  int vision_patch_size() const;
  int vision_num_layers() const;  ///< the checkpoint tower's num_hidden_layers
  int vision_grid() const { return vision_image_size() / vision_patch_size(); }
  /// Vision layers actually run: the feature layer as a positive index into hidden_states.
  int vision_layers_needed() const;
  /// Tokens one crop / frame gives the projector: grid^2 (+1 for CLIP's CLS, -1 under "default").
  int64_t tokens_per_crop() const;
  /// llava_next / llava_onevision own an `image_newline` parameter; llava does not.
  bool has_image_newline() const { return model_type != "llava"; }
  /// Images go through anyres (base + tiles of the best pinpoint): llava_next, llava_onevision.
  bool is_anyres() const { return model_type != "llava"; }
  /// N of vision_aspect_ratio "anyres_max_N" (OneVision's grid downsizing); 0 when none.
  int anyres_max_patches() const;

  /// transformers' defaults for a config.json holding only {"model_type": model_type}.
  /// FormatError naming `where` for a model_type other than the three above.
  static LlavaConfig defaults(const std::string& model_type, const std::string& where = "config");
  /// Reads config.json. IoError when it cannot be opened; FormatError naming the file and the
  /// key for a wrong type, an unknown model_type / strategy / activation, or a feature layer
  /// outside the tower.
  static LlavaConfig from_file(const std::string& path);
  static LlavaConfig from_json(const nlohmann::json& j, const std::string& where);
  /// Real shapes for benchmarks (random weights): llava-onevision-qwen2-0.5b-ov-hf.
  static LlavaConfig onevision_0_5b();
};

}  // namespace sfvu::fusion
