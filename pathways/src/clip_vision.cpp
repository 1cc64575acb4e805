#include "sfvu/pathways/clip_model.h"

namespace sfvu::pathways {

namespace F = torch::nn::functional;

ClipVisionEmbeddingsImpl::ClipVisionEmbeddingsImpl(const ClipVisionConfig& c)
    : config_(c),
      class_embedding(register_parameter("class_embedding", torch::zeros({c.hidden_size}))),
      patch_embedding(register_module(
          "patch_embedding",
          torch::nn::Conv2d(torch::nn::Conv2dOptions(c.num_channels, c.hidden_size, c.patch_size)
                                .stride(c.patch_size)
                                .bias(false)))),
      position_embedding(
          register_module("position_embedding", torch::nn::Embedding(c.grid() * c.grid() + 1, c.hidden_size))) {}

torch::Tensor ClipVisionEmbeddingsImpl::position_table(int64_t gh, int64_t gw) {
  const torch::Tensor& table = position_embedding->weight;  // [1 + g*g, D]
  const int64_t g = config_.grid(), D = table.size(1);
  if (gh == g && gw == g) return table;
  // transformers' interpolate_pos_encoding: the patch rows as a [D, g, g] image, bicubic
  // (align_corners=False) to [D, gh, gw]; computed in float32 (bf16 bicubic is unsupported).
  torch::Tensor grid = table.slice(0, 1).reshape({1, g, g, D}).permute({0, 3, 1, 2}).to(torch::kFloat32);
  torch::Tensor resized = F::interpolate(
      grid, F::InterpolateFuncOptions().size(std::vector<int64_t>{gh, gw}).mode(torch::kBicubic).align_corners(false));
  resized = resized.permute({0, 2, 3, 1}).reshape({gh * gw, D}).to(table.dtype());
  return torch::cat({table.slice(0, 0, 1), resized}, 0);
}

torch::Tensor ClipVisionEmbeddingsImpl::forward(const torch::Tensor& pixels, int64_t* grid_h, int64_t* grid_w) {
  const torch::Tensor& w = patch_embedding->weight;
  torch::Tensor x = patch_embedding(pixels.to(w.device(), w.scalar_type()));  // [B, D, gh, gw]
  const int64_t B = x.size(0), D = x.size(1), gh = x.size(2), gw = x.size(3);
  x = x.flatten(2).transpose(1, 2);  // [B, gh*gw, D], patches row-major (y, then x)
  x = torch::cat({class_embedding.view({1, 1, D}).expand({B, 1, D}), x}, 1);
  *grid_h = gh;
  *grid_w = gw;
  return x + position_table(gh, gw).unsqueeze(0);  // [B, 1 + gh*gw, D]
}

ClipVisionTransformerImpl::ClipVisionTransformerImpl(const ClipVisionConfig& c)
    : embeddings(register_module("embeddings", ClipVisionEmbeddings(c))),
      pre_layrnorm(register_module(
          "pre_layrnorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)))),
      encoder(register_module("encoder", Encoder(c))),
      post_layernorm(register_module(
          "post_layernorm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)))) {}

VisionOutput ClipVisionTransformerImpl::forward(const torch::Tensor& pixels, bool keep_hidden_states) {
  VisionOutput out;
  torch::Tensor x = pre_layrnorm(embeddings(pixels, &out.grid_h, &out.grid_w));
  x = encoder->forward(x, torch::Tensor(), keep_hidden_states ? &out.hidden_states : nullptr);
  out.last_hidden_state = x;
  out.patch_grid = x.slice(1, 1).reshape({x.size(0), out.grid_h, out.grid_w, x.size(2)});
  out.pooled = post_layernorm(x.select(1, 0));
  return out;
}

}  // namespace sfvu::pathways
