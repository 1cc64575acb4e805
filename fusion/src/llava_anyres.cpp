// LLaVA-NeXT / OneVision "anyres" images: the base crop, then the tiles of the best pinpoint
// resolution stitched into one feature grid, the padding removed, (OneVision) downsized, and an
// image_newline ending every row. The token count (the processor's side) comes from the same
// geometry, so the prompt and the model can never disagree.
#include <algorithm>
#include <cmath>
#include <limits>

#include "sfvu/base/error.h"
#include "sfvu/fusion/llava_model.h"

namespace sfvu::fusion {
namespace {

namespace F = torch::nn::functional;

// Python's float `a // b` (CPython float_floor_div), which can differ from floor(a / b) by one
// when a / b rounds up to an integer.
double py_floordiv(double a, double b) {
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1.0;
  if (div == 0) return std::copysign(0.0, a / b);
  double floordiv = std::floor(div);
  if (div - floordiv > 0.5) floordiv += 1.0;
  return floordiv;
}

// Where an image's anyres features land: tiles, the unpadded window of the stitched grid, and
// the final grid after OneVision's downsizing.
struct AnyresGeometry {
  int64_t tiles_h = 0, tiles_w = 0;    // best resolution / tile size
  int64_t row_begin = 0, row_end = 0;  // unpadded window of the [tiles_h*g, tiles_w*g] grid
  int64_t col_begin = 0, col_end = 0;
  int64_t rows = 0, cols = 0;  // final grid (== window unless downsized)
  bool downsized = false;
};

AnyresGeometry anyres_geometry(const LlavaConfig& c, std::pair<int64_t, int64_t> image_size) {
  const auto [orig_h, orig_w] = image_size;
  if (orig_h <= 0 || orig_w <= 0)
    throw UsageError("anyres image size must be positive, got " + std::to_string(orig_h) + "x" +
                     std::to_string(orig_w));
  const int64_t tile = c.vision_image_size(), g = c.vision_grid();
  const auto [best_h, best_w] = select_best_resolution(image_size, c.image_grid_pinpoints);
  AnyresGeometry a;
  a.tiles_h = best_h / tile;
  a.tiles_w = best_w / tile;
  const int64_t full_h = a.tiles_h * g, full_w = a.tiles_w * g;
  a.row_end = full_h;
  a.col_end = full_w;
  // transformers' unpad_image: int() truncation of the scaled side, symmetric padding removed.
  const double orig_aspect = double(orig_w) / double(orig_h), cur_aspect = double(full_w) / double(full_h);
  if (orig_aspect > cur_aspect) {
    const int64_t new_h = static_cast<int64_t>(double(orig_h) * (double(full_w) / double(orig_w)));
    const int64_t pad = (full_h - new_h) / 2;
    a.row_begin = pad;
    a.row_end = full_h - pad;
  } else {
    const int64_t new_w = static_cast<int64_t>(double(orig_w) * (double(full_h) / double(orig_h)));
    const int64_t pad = (full_w - new_w) / 2;
    a.col_begin = pad;
    a.col_end = full_w - pad;
  }
  a.rows = a.row_end - a.row_begin;
  a.cols = a.col_end - a.col_begin;
  if (const int max_patches = c.anyres_max_patches(); max_patches > 0) {
    const double ratio = std::sqrt(double(a.rows * a.cols) / double(int64_t(max_patches) * g * g));
    if (ratio > 1.1) {
      a.rows = static_cast<int64_t>(py_floordiv(double(a.rows), ratio));
      a.cols = static_cast<int64_t>(py_floordiv(double(a.cols), ratio));
      a.downsized = true;
    }
  }
  return a;
}

}  // namespace

std::pair<int64_t, int64_t> select_best_resolution(std::pair<int64_t, int64_t> image_size,
                                                   const std::vector<std::pair<int64_t, int64_t>>& candidates) {
  if (candidates.empty()) throw UsageError("select_best_resolution: no candidate resolutions");
  const auto [orig_h, orig_w] = image_size;
  std::pair<int64_t, int64_t> best = candidates.front();
  int64_t max_effective = 0;
  int64_t min_wasted = std::numeric_limits<int64_t>::max();
  for (const auto& [h, w] : candidates) {
    const double scale = std::min(double(w) / double(orig_w), double(h) / double(orig_h));
    const int64_t down_w = static_cast<int64_t>(double(orig_w) * scale);
    const int64_t down_h = static_cast<int64_t>(double(orig_h) * scale);
    const int64_t effective = std::min(down_w * down_h, orig_w * orig_h);
    const int64_t wasted = w * h - effective;
    if (effective > max_effective || (effective == max_effective && wasted < min_wasted)) {
      max_effective = effective;
      min_wasted = wasted;
      best = {h, w};
    }
  }
  return best;
}

int64_t image_crop_count(const LlavaConfig& config, std::pair<int64_t, int64_t> image_size) {
  if (!config.is_anyres()) return 1;
  const AnyresGeometry a = anyres_geometry(config, image_size);
  return 1 + a.tiles_h * a.tiles_w;
}

int64_t image_token_count(const LlavaConfig& config, std::pair<int64_t, int64_t> image_size) {
  if (!config.is_anyres()) return config.tokens_per_crop();
  const AnyresGeometry a = anyres_geometry(config, image_size);
  return config.tokens_per_crop() + a.rows * (a.cols + 1);
}

int64_t LlavaModelImpl::image_crop_count(std::pair<int64_t, int64_t> image_size) const {
  return fusion::image_crop_count(config_, image_size);
}

int64_t LlavaModelImpl::image_token_count(std::pair<int64_t, int64_t> image_size) const {
  return fusion::image_token_count(config_, image_size);
}

torch::Tensor LlavaModelImpl::image_embeds(const torch::Tensor& pixels, std::pair<int64_t, int64_t> image_size) {
  torch::NoGradGuard no_grad;
  if (!config_.is_anyres()) {
    torch::Tensor f = projected_features(pixels);  // [B, N, D]
    return f.reshape({-1, f.size(2)});
  }
  const int64_t D = config_.text.hidden_size;
  if (pixels.dim() == 4 && pixels.size(0) == 1) {  // one crop: HF's multi-image path
    torch::Tensor base = projected_features(pixels)[0];
    return torch::cat({base, image_newline_.view({1, D}).to(base.scalar_type())}, 0);
  }
  const AnyresGeometry a = anyres_geometry(config_, image_size);
  const int64_t n_crops = 1 + a.tiles_h * a.tiles_w;
  if (pixels.dim() != 4 || pixels.size(0) < n_crops)
    throw UsageError("anyres image of " + std::to_string(image_size.first) + "x" + std::to_string(image_size.second) +
                     " needs " + std::to_string(n_crops) + " crops [" + std::to_string(n_crops) + ", 3, S, S], got " +
                     std::to_string(pixels.dim() == 4 ? pixels.size(0) : 0));
  torch::Tensor f = projected_features(pixels.slice(0, 0, n_crops));  // [n_crops, N, D]
  const int64_t g = config_.vision_grid();
  if (f.size(1) != g * g)
    throw UsageError("anyres needs a square " + std::to_string(g) + "x" + std::to_string(g) +
                     " feature grid per crop, got " + std::to_string(f.size(1)) + " tokens");
  // Tiles row-major -> one [D, tiles_h*g, tiles_w*g] grid.
  torch::Tensor grid = f.slice(0, 1)
                           .view({a.tiles_h, a.tiles_w, g, g, D})
                           .permute({4, 0, 2, 1, 3})
                           .reshape({D, a.tiles_h * g, a.tiles_w * g});
  grid = grid.slice(1, a.row_begin, a.row_end).slice(2, a.col_begin, a.col_end);
  if (a.downsized)
    grid = F::interpolate(grid.unsqueeze(0), F::InterpolateFuncOptions()
                                                 .size(std::vector<int64_t>{a.rows, a.cols})
                                                 .mode(torch::kBilinear)
                                                 .align_corners(false))[0];
  torch::Tensor newline = image_newline_.to(grid.scalar_type()).view({D, 1, 1}).expand({D, a.rows, 1});
  grid = torch::cat({grid, newline}, 2);              // [D, rows, cols + 1]
  return torch::cat({f[0], grid.flatten(1).t()}, 0);  // [base; rows * (cols + 1)], [N, D]
}

}  // namespace sfvu::fusion
