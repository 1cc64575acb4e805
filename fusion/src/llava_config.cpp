#include "sfvu/fusion/llava_config.h"

#include "sfvu/base/error.h"
#include "sfvu/pathways/json_fields.h"

namespace sfvu::fusion {
namespace {

using nlohmann::json;
using pathways::read_json_field;

// transformers' LlavaOnevisionConfig default: every (384 i, 384 j), i, j in 1..6, i outer.
std::vector<std::pair<int64_t, int64_t>> onevision_pinpoints() {
  std::vector<std::pair<int64_t, int64_t>> out;
  for (int64_t i = 1; i <= 6; ++i)
    for (int64_t j = 1; j <= 6; ++j) out.emplace_back(384 * i, 384 * j);
  return out;
}

std::string default_vision_type(const std::string& model_type) {
  return model_type == "llava_onevision" ? "siglip_vision_model" : "clip_vision_model";
}

std::string default_text_type(const std::string& model_type) {
  return model_type == "llava_onevision" ? "qwen2" : "llama";
}

void read_vision(const json& j, LlavaConfig& c, const std::string& where) {
  if (!j.is_object()) throw FormatError(where + ": key 'vision_config' is not an object");
  json v = j;
  if (!v.contains("model_type") || v["model_type"].is_null()) v["model_type"] = default_vision_type(c.model_type);
  std::string type;
  read_json_field(v, "model_type", type, where + " vision_config");
  if (type == "siglip_vision_model") {
    c.vision_kind = LlavaConfig::VisionKind::kSiglip;
    c.siglip_vision = pathways::SiglipVisionConfig::from_json(v, where + " vision_config");
  } else if (type == "clip_vision_model") {
    c.vision_kind = LlavaConfig::VisionKind::kClip;
    c.clip_vision = pathways::ClipConfig::from_json_text(v.dump(), where + " vision_config").vision;
  } else {
    throw FormatError(where + ": vision_config model_type '" + type +
                      "' is not supported (clip_vision_model, siglip_vision_model)");
  }
}

void read_pinpoints(const json& j, LlavaConfig& c, const std::string& where) {
  std::vector<std::vector<int64_t>> pins;
  read_json_field(j, "image_grid_pinpoints", pins, where);
  if (!j.contains("image_grid_pinpoints") || j["image_grid_pinpoints"].is_null()) return;
  c.image_grid_pinpoints.clear();
  for (const auto& p : pins) {
    if (p.size() != 2 || p[0] <= 0 || p[1] <= 0)
      throw FormatError(where + ": key 'image_grid_pinpoints' must hold [height, width] pairs of positive sizes");
    c.image_grid_pinpoints.emplace_back(p[0], p[1]);
  }
}

}  // namespace

int LlavaConfig::vision_hidden_size() const {
  return vision_kind == VisionKind::kClip ? clip_vision.hidden_size : siglip_vision.hidden_size;
}
int LlavaConfig::vision_image_size() const {
  return vision_kind == VisionKind::kClip ? clip_vision.image_size : siglip_vision.image_size;
}
int LlavaConfig::vision_patch_size() const {
  return vision_kind == VisionKind::kClip ? clip_vision.patch_size : siglip_vision.patch_size;
}
int LlavaConfig::vision_num_layers() const {
  return vision_kind == VisionKind::kClip ? clip_vision.num_hidden_layers : siglip_vision.num_hidden_layers;
}

int LlavaConfig::vision_layers_needed() const {
  // hidden_states has num_layers + 1 entries (0 = embeddings), indexed as a Python list.
  return vision_feature_layer < 0 ? vision_num_layers() + 1 + vision_feature_layer : vision_feature_layer;
}

int64_t LlavaConfig::tokens_per_crop() const {
  // CLIP has a CLS token; "default" drops the first token, whatever it is.
  const int64_t g = vision_grid();
  return g * g + (vision_kind == VisionKind::kClip ? 1 : 0) - (vision_feature_select_strategy == "default" ? 1 : 0);
}

int LlavaConfig::anyres_max_patches() const {
  const std::string prefix = "anyres_max_";
  if (vision_aspect_ratio.rfind(prefix, 0) != 0) return 0;
  try {
    return std::stoi(vision_aspect_ratio.substr(prefix.size()));
  } catch (const std::exception&) {
    return 0;
  }
}

LlavaConfig LlavaConfig::defaults(const std::string& model_type, const std::string& where) {
  LlavaConfig c;
  c.model_type = model_type;
  if (model_type == "llava" || model_type == "llava_next") {
    c.vision_kind = VisionKind::kClip;
    c.clip_vision = pathways::ClipConfig::vit_l14_336().vision;
    c.text = LlmConfig::defaults("llama", where);
    if (model_type == "llava_next")
      c.image_grid_pinpoints = {{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}};
    return c;
  }
  if (model_type == "llava_onevision") {
    c.vision_kind = VisionKind::kSiglip;
    c.siglip_vision = pathways::SiglipVisionConfig::so400m_patch14_384();
    c.text = LlmConfig::defaults("qwen2", where);
    c.image_token_index = 151646;
    c.video_token_index = 151647;
    c.vision_feature_layer = -1;
    c.vision_feature_select_strategy = "full";
    c.vision_aspect_ratio = "anyres_max_9";
    c.image_grid_pinpoints = onevision_pinpoints();
    c.use_image_newline_parameter = true;
    return c;
  }
  throw FormatError(where + ": model_type '" + model_type +
                    "' is not a supported LLaVA model (llava, llava_next, llava_onevision)");
}

LlavaConfig LlavaConfig::from_file(const std::string& path) { return from_json(pathways::read_json_file(path), path); }

LlavaConfig LlavaConfig::from_json(const json& j, const std::string& where) {
  if (!j.is_object()) throw FormatError(where + ": expected a JSON object");
  std::string type;
  read_json_field(j, "model_type", type, where);
  if (type.empty()) throw FormatError(where + ": key 'model_type' is missing");
  LlavaConfig c = defaults(type, where);

  if (j.contains("vision_config") && !j["vision_config"].is_null()) read_vision(j["vision_config"], c, where);
  if (j.contains("text_config") && !j["text_config"].is_null()) {
    const json& t = j["text_config"];
    if (!t.is_object()) throw FormatError(where + ": key 'text_config' is not an object");
    json text = t;
    if (!text.contains("model_type") || text["model_type"].is_null()) text["model_type"] = default_text_type(type);
    c.text = LlmConfig::from_json(text, where + " text_config");
  }

  // Newer transformers also accept the *_id spellings (attribute_map); the *_index keys win.
  read_json_field(j, "image_token_id", c.image_token_index, where);
  read_json_field(j, "image_token_index", c.image_token_index, where);
  if (type == "llava_onevision") {
    read_json_field(j, "video_token_id", c.video_token_index, where);
    read_json_field(j, "video_token_index", c.video_token_index, where);
  }
  read_json_field(j, "projector_hidden_act", c.projector_hidden_act, where);
  pathways::parse_activation(c.projector_hidden_act, where + " projector_hidden_act");
  read_json_field(j, "vision_feature_layer", c.vision_feature_layer, where);
  read_json_field(j, "vision_feature_select_strategy", c.vision_feature_select_strategy, where);
  if (c.vision_feature_select_strategy != "default" && c.vision_feature_select_strategy != "full")
    throw FormatError(where + ": key 'vision_feature_select_strategy' must be \"default\" or \"full\", not \"" +
                      c.vision_feature_select_strategy + "\"");
  read_pinpoints(j, c, where);
  if (type == "llava_onevision") {  // OneVision's own keys (another model_type ignores them, as transformers does)
    read_json_field(j, "vision_aspect_ratio", c.vision_aspect_ratio, where);
    read_json_field(j, "use_image_newline_parameter", c.use_image_newline_parameter, where);
  }
  read_json_field(j, "tie_word_embeddings", c.tie_word_embeddings, where);

  const int layers = c.vision_num_layers();
  if (c.vision_feature_layer < -(layers + 1) || c.vision_feature_layer > layers)
    throw FormatError(where + ": key 'vision_feature_layer' " + std::to_string(c.vision_feature_layer) +
                      " is outside the vision tower's " + std::to_string(layers + 1) + " hidden states");
  if (c.is_anyres() && c.image_grid_pinpoints.empty())
    throw FormatError(where + ": key 'image_grid_pinpoints' is empty (" + type + " needs anyres resolutions)");
  return c;
}

LlavaConfig LlavaConfig::onevision_0_5b() {
  LlavaConfig c = defaults("llava_onevision");
  c.text = LlmConfig::qwen2_0_5b();
  c.tie_word_embeddings = true;
  return c;
}

}  // namespace sfvu::fusion
