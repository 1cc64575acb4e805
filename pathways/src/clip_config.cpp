#include "sfvu/pathways/clip_config.h"

#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>

#include "sfvu/base/error.h"
#include "sfvu/pathways/json_fields.h"

namespace sfvu::pathways {
namespace {

using nlohmann::json;

}  // namespace

void read_encoder_shape(const json& j, EncoderShape& e, const std::string& where) {
  read_json_field(j, "hidden_size", e.hidden_size, where);
  read_json_field(j, "intermediate_size", e.intermediate_size, where);
  read_json_field(j, "num_hidden_layers", e.num_hidden_layers, where);
  read_json_field(j, "num_attention_heads", e.num_attention_heads, where);
  read_json_field(j, "projection_dim", e.projection_dim, where);
  read_json_field(j, "layer_norm_eps", e.layer_norm_eps, where);
  std::string a;
  read_json_field(j, "hidden_act", a, where);
  if (!a.empty()) e.hidden_act = parse_activation(a, where);
  if (e.hidden_size <= 0 || e.num_attention_heads <= 0 || e.hidden_size % e.num_attention_heads != 0)
    throw FormatError(where + ": hidden_size " + std::to_string(e.hidden_size) +
                      " is not divisible by num_attention_heads " + std::to_string(e.num_attention_heads));
}

std::string stem_problem(const std::string& stem, int patch_size) {
  if (stem != "patch" && stem != "conv" && stem != "pixel")
    return "stem '" + stem + "' is not 'patch', 'conv' or 'pixel'";
  if (stem == "conv" && (patch_size < 2 || (patch_size & (patch_size - 1)) != 0))
    return "a conv stem needs a power-of-two patch_size, not " + std::to_string(patch_size);
  return "";
}

namespace {

ClipVisionConfig vision_from(const json& j, const std::string& where) {
  ClipVisionConfig v;
  read_encoder_shape(j, v, where);
  read_json_field(j, "num_channels", v.num_channels, where);
  read_json_field(j, "image_size", v.image_size, where);
  read_json_field(j, "patch_size", v.patch_size, where);
  if (v.patch_size <= 0 || v.image_size % v.patch_size != 0)
    throw FormatError(where + ": image_size " + std::to_string(v.image_size) + " is not a multiple of patch_size " +
                      std::to_string(v.patch_size));
  read_json_field(j, "stem", v.stem, where);
  if (std::string problem = stem_problem(v.stem, v.patch_size); !problem.empty()) throw FormatError(where + ": " + problem);
  return v;
}

ClipTextConfig text_from(const json& j, const std::string& where) {
  ClipTextConfig t;
  read_encoder_shape(j, t, where);
  read_json_field(j, "vocab_size", t.vocab_size, where);
  read_json_field(j, "max_position_embeddings", t.max_position_embeddings, where);
  read_json_field(j, "eos_token_id", t.eos_token_id, where);
  return t;
}

}  // namespace

Activation parse_activation(const std::string& name, const std::string& context) {
  if (name == "quick_gelu") return Activation::kQuickGelu;
  if (name == "gelu") return Activation::kGelu;
  if (name == "gelu_new" || name == "gelu_pytorch_tanh" || name == "gelu_fast") return Activation::kGeluTanh;
  throw FormatError(context + ": unsupported hidden_act '" + name + "'");
}

ClipConfig ClipConfig::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  return from_json_text(text.str(), path);
}

ClipConfig ClipConfig::from_json_text(const std::string& text, const std::string& where) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    throw FormatError(where + ": not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw FormatError(where + ": expected a JSON object");
  ClipConfig c;
  std::string type;
  read_json_field(j, "model_type", type, where);
  if (type == "clip_vision_model") {
    c.vision = vision_from(j, where);
    c.projection_dim = c.vision.projection_dim;
    return c;
  }
  if (type == "clip_text_model") {
    c.text = text_from(j, where);
    c.projection_dim = c.text.projection_dim;
    return c;
  }
  if (!type.empty() && type != "clip")
    throw FormatError(where + ": model_type '" + type + "' is not a CLIP model");
  read_json_field(j, "projection_dim", c.projection_dim, where);
  read_json_field(j, "logit_scale_init_value", c.logit_scale_init_value, where);
  if (j.contains("vision_config")) c.vision = vision_from(j["vision_config"], where + " vision_config");
  if (j.contains("text_config")) c.text = text_from(j["text_config"], where + " text_config");
  // transformers uses the top-level projection_dim for both projections.
  c.vision.projection_dim = c.text.projection_dim = c.projection_dim;
  return c;
}

namespace {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kQuickGelu: return "quick_gelu";
    case Activation::kGelu: return "gelu";
    case Activation::kGeluTanh: return "gelu_pytorch_tanh";
  }
  return "quick_gelu";
}

json shape_json(const EncoderShape& e) {
  return {{"hidden_size", e.hidden_size},
          {"intermediate_size", e.intermediate_size},
          {"num_hidden_layers", e.num_hidden_layers},
          {"num_attention_heads", e.num_attention_heads},
          {"projection_dim", e.projection_dim},
          {"layer_norm_eps", e.layer_norm_eps},
          {"hidden_act", activation_name(e.hidden_act)}};
}

}  // namespace

std::string ClipConfig::to_json_text() const {
  json v = shape_json(vision);
  v["num_channels"] = vision.num_channels;
  v["image_size"] = vision.image_size;
  v["patch_size"] = vision.patch_size;
  if (vision.stem != "patch") v["stem"] = vision.stem;
  json t = shape_json(text);
  t["vocab_size"] = text.vocab_size;
  t["max_position_embeddings"] = text.max_position_embeddings;
  t["eos_token_id"] = text.eos_token_id;
  json j = {{"model_type", "clip"},
            {"projection_dim", projection_dim},
            {"logit_scale_init_value", logit_scale_init_value},
            {"vision_config", v},
            {"text_config", t}};
  return j.dump(2);
}

ClipConfig ClipConfig::vit_b32() { return ClipConfig{}; }

ClipConfig ClipConfig::vit_b16() {
  ClipConfig c;
  c.vision.patch_size = 16;
  return c;
}

ClipConfig ClipConfig::vit_l14_336() {
  ClipConfig c;
  c.projection_dim = c.vision.projection_dim = c.text.projection_dim = 768;
  c.vision.hidden_size = 1024;
  c.vision.intermediate_size = 4096;
  c.vision.num_hidden_layers = 24;
  c.vision.num_attention_heads = 16;
  c.vision.image_size = 336;
  c.vision.patch_size = 14;
  c.text.hidden_size = 768;
  c.text.intermediate_size = 3072;
  c.text.num_attention_heads = 12;
  return c;
}

}  // namespace sfvu::pathways
