#include "sfvu/pathways/clip_model.h"

namespace sfvu::pathways {

namespace F = torch::nn::functional;

// Note [Convolutional stem]
// CLIP cuts a frame into patch_size-square patches and projects each with one linear map. For
// a ViT trained from scratch on little data that stem is the hard part to learn: a 2-px white
// dot must be found by a 192-weight filter per channel at any of 64 offsets. Xiao et al.
// ("Early convolutions help transformers see better", 2021) replace it with a few 3x3 stride-2
// convolutions and a 1x1 projection at about the same cost, and the ViT then trains faster and
// less sensitively to the optimiser. stem "conv" does that: log2(patch_size) convolutions
// doubling the channels up to hidden_size (hidden_size / 2^(k-1) first, at least 8), GELU after
// each, then a 1x1 to hidden_size; the grid, CLS and positions are exactly those of "patch".
//
// Note [Pixel stem]
// A 2x2 white dot and a 4x1 white bar (README, "The dotted shape") are both four bright
// pixels, and which one a patch holds depends on how those pixels touch, at any of the patch's
// offsets. A linear patch filter cannot be both shift-invariant and shape-selective; the
// stride-2 stack must learn shift invariance layer by layer. stem "pixel" keeps CLIP's patch
// projection and adds a detail path beside it: a 3x3 convolution at full resolution (stride 1,
// kPixelChannels channels, GELU) whose responses are max-pooled over each patch, so a detector
// that fires anywhere in the patch reaches the token whatever the offset, then a 1x1 to
// hidden_size, added to the patch embedding. Cost at 128 px: ~15 M multiply-adds a frame (the
// 2-layer, 64-wide ViT's own is ~30 M). On the dot-vs-bar
// probe of Note [Embedding init] it learns faster than "patch" (100 % of held-out frames at
// step 150, against 87.6 % at step 250); a 20-minute synthetic run costs 1241 steps instead
// of ~2200, and under the old N(0, 1) position init it did not help (README). Opt-in.
//
// Note [Embedding init]
// A model trained from scratch starts from its constructor's values, and torch's Embedding
// default is N(0, 1): position entries of std 1 beside patch projections of a few tenths, so
// pre_layrnorm sees mostly position and a 2x2 dot against a 4x1 bar gave the training no
// gradient to follow (a dot-vs-bar probe on 2031 synthetic frames, 2-layer 64-wide ViT, patch 8,
// per-channel max over places, 400 Adam steps: always "bar", 68.3 % on held-out frames; with
// the init below, 87.6 % at step 250 with stem "patch" and 100 % at step 150 with stem "pixel").
// So the vision embeddings start as transformers' CLIPPreTrainedModel._init_weights starts them
// (initializer_range 0.02, factor 1): position vectors N(0, 0.02), the class vector N(0, D^-0.5).
// The text tower keeps torch's N(0, 1) for its token and position vectors: moved to N(0, 0.02)
// as well, a 2-layer tower's outputs hardly depended on the words, whose embeddings were small
// beside what the first attention averages over the prefix. After 1400-1600 steps of the
// synthetic recipe, "the yellow circle moves up" and "... down" differed by 3-7 % at the
// direction word's position and "yellow circle" / "red square" by 6-7 % at theirs (76 % and
// 66-77 % under N(0, 1); the bundled model 148 %, 63-70 %), and "moves up" and "moves down"
// were grounded the same to 3 decimals. Loaded checkpoints overwrite all of it.
ClipVisionEmbeddingsImpl::ClipVisionEmbeddingsImpl(const ClipVisionConfig& c)
    : config_(c),
      class_embedding(register_parameter("class_embedding", torch::zeros({c.hidden_size}))),
      position_embedding(
          register_module("position_embedding", torch::nn::Embedding(c.grid() * c.grid() + 1, c.hidden_size))) {
  {  // Note [Embedding init]
    torch::NoGradGuard no_grad;
    position_embedding->weight.normal_(0, 0.02);
    class_embedding.normal_(0, 1.0 / std::sqrt(double(c.hidden_size)));
  }
  if (c.stem == "pixel") {
    pixel_conv = register_module(
        "pixel_conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(c.num_channels, kPixelChannels, 3).padding(1)));
    pixel_proj = register_module(
        "pixel_proj", torch::nn::Conv2d(torch::nn::Conv2dOptions(kPixelChannels, c.hidden_size, 1).bias(false)));
  }
  if (c.stem != "conv") {
    patch_embedding = register_module(
        "patch_embedding", torch::nn::Conv2d(torch::nn::Conv2dOptions(c.num_channels, c.hidden_size, c.patch_size)
                                                 .stride(c.patch_size)
                                                 .bias(false)));
    return;
  }
  int convs = 0;
  while ((1 << convs) < c.patch_size) ++convs;
  stem = register_module("stem", torch::nn::ModuleList());
  int in = c.num_channels;
  for (int i = 0; i < convs; ++i) {
    const int out = std::max(8, c.hidden_size >> (convs - 1 - i));
    stem->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(2).padding(1)));
    in = out;
  }
  stem->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, c.hidden_size, 1).bias(false)));
}

torch::Tensor ClipVisionEmbeddingsImpl::embed_patches(const torch::Tensor& pixels) {
  if (patch_embedding) {
    const torch::Tensor& w = patch_embedding->weight;
    torch::Tensor x = pixels.to(w.device(), w.scalar_type());
    torch::Tensor patches = patch_embedding(x);
    if (!pixel_conv) return patches;
    // Note [Pixel stem]: max over each patch of the full-resolution detectors.
    torch::Tensor detail = F::max_pool2d(torch::gelu(pixel_conv(x)), F::MaxPool2dFuncOptions(config_.patch_size));
    return patches + pixel_proj(detail);
  }
  const torch::Tensor& w = class_embedding;
  torch::Tensor x = pixels.to(w.device(), w.scalar_type());
  const size_t n = stem->size();
  for (size_t i = 0; i < n; ++i) {
    x = stem[i]->as<torch::nn::Conv2d>()->forward(x);
    if (i + 1 < n) x = torch::gelu(x);
  }
  return x;
}

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
  torch::Tensor x = embed_patches(pixels);  // [B, D, gh, gw]
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
