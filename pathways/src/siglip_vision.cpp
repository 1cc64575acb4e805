#include "sfvu/pathways/siglip_vision.h"

#include "sfvu/base/error.h"
#include "sfvu/pathways/json_fields.h"

namespace sfvu::pathways {

SiglipVisionConfig SiglipVisionConfig::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw FormatError(where + ": expected a JSON object");
  SiglipVisionConfig c;
  std::string type;
  read_json_field(j, "model_type", type, where);
  if (!type.empty() && type != "siglip_vision_model")
    throw FormatError(where + ": model_type '" + type + "' is not a SigLIP vision tower");
  read_encoder_shape(j, c, where);
  read_json_field(j, "num_channels", c.num_channels, where);
  read_json_field(j, "image_size", c.image_size, where);
  read_json_field(j, "patch_size", c.patch_size, where);
  read_json_field(j, "vision_use_head", c.vision_use_head, where);
  if (c.patch_size <= 0 || c.image_size < c.patch_size || c.num_hidden_layers < 0 || c.num_channels <= 0)
    throw FormatError(where + ": impossible shape (image_size " + std::to_string(c.image_size) + ", patch_size " +
                      std::to_string(c.patch_size) + ", num_hidden_layers " + std::to_string(c.num_hidden_layers) +
                      ")");
  return c;
}

SiglipVisionConfig SiglipVisionConfig::so400m_patch14_384() {
  SiglipVisionConfig c;
  c.hidden_size = 1152;
  c.intermediate_size = 4304;
  c.num_hidden_layers = 26;
  c.num_attention_heads = 16;
  c.image_size = 384;
  c.patch_size = 14;
  c.vision_use_head = false;
  return c;
}

SiglipVisionEmbeddingsImpl::SiglipVisionEmbeddingsImpl(const SiglipVisionConfig& c)
    : config_(c),
      patch_embedding(register_module(
          "patch_embedding",
          torch::nn::Conv2d(
              torch::nn::Conv2dOptions(c.num_channels, c.hidden_size, c.patch_size).stride(c.patch_size)))),
      position_embedding(
          register_module("position_embedding", torch::nn::Embedding(c.grid() * c.grid(), c.hidden_size))) {}

torch::Tensor SiglipVisionEmbeddingsImpl::forward(const torch::Tensor& pixels) {
  if (pixels.dim() != 4 || pixels.size(1) != config_.num_channels || pixels.size(2) != config_.image_size ||
      pixels.size(3) != config_.image_size)
    throw UsageError("SigLIP vision: pixels must be [batch, " + std::to_string(config_.num_channels) + ", " +
                     std::to_string(config_.image_size) + ", " + std::to_string(config_.image_size) + "]");
  const torch::Tensor& w = patch_embedding->weight;
  torch::Tensor x = patch_embedding(pixels.to(w.device(), w.scalar_type()));  // [B, D, g, g]
  x = x.flatten(2).transpose(1, 2);                                           // [B, g*g, D], row-major
  return x + position_embedding->weight.unsqueeze(0);
}

SiglipVisionTransformerImpl::SiglipVisionTransformerImpl(const SiglipVisionConfig& c)
    : config_(c),
      embeddings(register_module("embeddings", SiglipVisionEmbeddings(c))),
      encoder(register_module("encoder", Encoder(c))),
      post_layernorm(register_module(
          "post_layernorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)))) {
}

torch::Tensor SiglipVisionTransformerImpl::forward(const torch::Tensor& pixels,
                                                   std::vector<torch::Tensor>* hidden_states) {
  return encoder->forward(embeddings(pixels), torch::Tensor(), hidden_states);  // [B, g*g, D]
}

torch::Tensor SiglipVisionTransformerImpl::post_layernorm_forward(const torch::Tensor& x) { return post_layernorm(x); }

}  // namespace sfvu::pathways
