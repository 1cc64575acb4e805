// sfvu/fusion/llava_config.h: config.json of LLaVA-family checkpoints (model_type "llava",
// "llava_next", "llava_onevision"), resolved against transformers' defaults per model_type
// for the top level, vision_config (clip_vision_model / siglip_vision_model) and text_config
// (LlmConfig). ../shared/specs/llm_checkpoints.md §1.
#pragma once

#include <cstdint>
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
  int64_t video_token_index = -1;  ///< -1: none (llava)
  std::string projector_hidden_act = "gelu";
  int vision_feature_layer = -2;
  std::string vision_feature_select_strategy = "default";  ///< "default" (drop CLS) | "full"
  std::vector<std::pair<int64_t, int64_t>> image_grid_pinpoints;  ///< (H, W) each
  std::string vision_aspect_ratio;  ///< OneVision: "anyres_max_9"
  bool use_image_newline_parameter = false;
  bool tie_word_embeddings = false;

  int vision_hidden_size() const;
  int vision_image_size() const;
  int vision_patch_size() const;
  int vision_grid() const { return vision_image_size() / vision_patch_size(); }
  /// Vision layers actually run: the feature layer as a positive index into hidden_states.
  int vision_layers_needed() const;

  static LlavaConfig from_file(const std::string& path);
  static LlavaConfig from_json(const nlohmann::json& j, const std::string& where);
  /// Real shapes for benchmarks (random weights): llava-onevision-qwen2-0.5b-ov-hf.
  static LlavaConfig onevision_0_5b();
};

}  // namespace sfvu::fusion
