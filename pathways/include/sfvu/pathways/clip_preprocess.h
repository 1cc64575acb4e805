// sfvu/pathways/clip_preprocess.h: frames to CLIP pixel tensors, as OpenAI's _transform /
// transformers' CLIPImageProcessor compute them.
//
//   uint8 [T, H, W, 3] RGB --resize--> shorter side = shortest_edge, longer = int(size * long / short)
//                          --center_crop--> crop_height x crop_width (offsets rounded half-to-even)
//                          --normalize--> float32 [T, 3, h, w] = (x / 255 - mean) / std
//
// Note [PIL-equivalent resize]: the reference resizes with PIL's antialiased bicubic (a = -0.5)
// in two separable passes, horizontal first, rounding to uint8 after each. We do the same with
// libtorch's antialiased bicubic, one axis at a time, rounding in between: within one uint8
// level of PIL (the fixture README measures one-pass float resizing at up to 14 levels off).
#pragma once

#include <torch/torch.h>

#include <array>
#include <string>

namespace sfvu::pathways {

struct ClipImageProcessor {
  int shortest_edge = 224;
  int crop_height = 224;
  int crop_width = 224;
  bool do_resize = true;
  bool do_center_crop = true;
  std::array<float, 3> mean{0.48145466f, 0.4578275f, 0.40821073f};
  std::array<float, 3> std{0.26862954f, 0.26130258f, 0.27577711f};

  /// Square processing for a model input size (CLIP's defaults otherwise).
  static ClipImageProcessor for_size(int image_size);
  /// Reads preprocessor_config.json (CLIPImageProcessor); throws IoError/FormatError naming it.
  static ClipImageProcessor from_file(const std::string& path);
  /// dir/preprocessor_config.json if present, else for_size(`image_size`).
  static ClipImageProcessor from_pretrained(const std::string& dir, int image_size);

  /// uint8 [T, H, W, 3] -> uint8 [T, h, w, 3] (Note [PIL-equivalent resize]).
  torch::Tensor resize(const torch::Tensor& frames) const;
  /// uint8 [T, H, W, 3] -> uint8 [T, crop_h, crop_w, 3]; frames smaller than the crop are
  /// zero-padded around, as torchvision's CenterCrop does.
  torch::Tensor center_crop(const torch::Tensor& frames) const;
  /// uint8 [T, h, w, 3] -> float32 [T, 3, h, w]
  torch::Tensor normalize(const torch::Tensor& frames) const;
  /// All three steps (as configured).
  torch::Tensor operator()(const torch::Tensor& frames) const;
};

}  // namespace sfvu::pathways
