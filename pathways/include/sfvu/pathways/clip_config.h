// sfvu/pathways/clip_config.h: Hugging Face CLIPConfig / CLIPVisionConfig / CLIPTextConfig.
//
// Default member values are transformers' own defaults (openai/clip-vit-base-patch32), so a
// config.json that omits a key means what it means to transformers.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace sfvu::pathways {

/// Activation of the MLPs: "quick_gelu" (x * sigmoid(1.702 x), OpenAI CLIP), "gelu" (erf),
/// "gelu_new" / "gelu_pytorch_tanh" (tanh approximation).
enum class Activation { kQuickGelu, kGelu, kGeluTanh };
Activation parse_activation(const std::string& name, const std::string& context);

/// The transformer shape both towers share.
struct EncoderShape;
/// Reads the shape keys of a vision/text config object (hidden_size, intermediate_size,
/// num_hidden_layers, num_attention_heads, projection_dim, layer_norm_eps, hidden_act) over the
/// defaults in `e`; FormatError naming `where` and the key for a bad value or an impossible shape.
void read_encoder_shape(const nlohmann::json& j, EncoderShape& e, const std::string& where);

struct EncoderShape {
  int hidden_size = 768;
  int intermediate_size = 3072;
  int num_hidden_layers = 12;
  int num_attention_heads = 12;
  int projection_dim = 512;
  Activation hidden_act = Activation::kQuickGelu;
  double layer_norm_eps = 1e-5;
};

struct ClipVisionConfig : EncoderShape {
  int num_channels = 3;
  int image_size = 224;
  int patch_size = 32;
  /// Note [Convolutional stem]: "patch" (CLIP's one strided patch convolution, every Hugging
  /// Face checkpoint) or "conv" (log2(patch_size) 3x3 stride-2 convolutions and a 1x1, for
  /// models trained from scratch; patch_size a power of two) or "pixel" (Note [Pixel stem]: the
  /// patch projection plus full-resolution 3x3 detectors max-pooled per patch). Key "stem",
  /// written only if not "patch".
  std::string stem = "patch";
  int grid() const { return image_size / patch_size; }  ///< patches per side at image_size
};

/// What is wrong with `stem` for `patch_size` (Note [Convolutional stem]), or "" when nothing:
/// a config file reports it as a FormatError, `sfvu train` as a UsageError.
std::string stem_problem(const std::string& stem, int patch_size);

struct ClipTextConfig : EncoderShape {
  ClipTextConfig() {  // transformers' text defaults differ from the vision ones here
    hidden_size = 512;
    intermediate_size = 2048;
    num_attention_heads = 8;
  }
  int vocab_size = 49408;
  int max_position_embeddings = 77;
  /// transformers' legacy rule: eos_token_id == 2 means "pool at argmax(input_ids)" (the
  /// first <|endoftext|>, OpenAI's rule); any other value pools at its first occurrence.
  long long eos_token_id = 2;
};

struct ClipConfig {
  ClipVisionConfig vision;
  ClipTextConfig text;
  int projection_dim = 512;
  double logit_scale_init_value = 2.6592;

  /// Reads config.json of model_type "clip", "clip_vision_model" or "clip_text_model".
  /// Throws IoError / FormatError naming the file and the key.
  static ClipConfig from_file(const std::string& path);
  /// The same from config.json's text; `where` names the source in errors.
  static ClipConfig from_json_text(const std::string& text, const std::string& where);
  /// A config.json transformers reads as CLIPConfig (model_type "clip", both towers).
  std::string to_json_text() const;
  /// Real CLIP shapes, for benchmarks and tests with random weights.
  static ClipConfig vit_b32();
  static ClipConfig vit_b16();
  static ClipConfig vit_l14_336();
};

}  // namespace sfvu::pathways
