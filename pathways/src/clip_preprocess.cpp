#include "sfvu/pathways/clip_preprocess.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sfvu/base/error.h"

namespace sfvu::pathways {
namespace {

namespace F = torch::nn::functional;

void check_frames(const torch::Tensor& frames, const char* what) {
  if (frames.dim() != 4 || frames.size(3) != 3 || frames.scalar_type() != torch::kUInt8)
    throw UsageError(std::string("CLIP preprocessing (") + what + "): frames must be uint8 [T, H, W, 3]");
}

// One antialiased bicubic pass to [h, w] on uint8 NCHW, rounded back to uint8.
torch::Tensor resize_pass(const torch::Tensor& nchw_u8, int64_t h, int64_t w) {
  torch::Tensor f = F::interpolate(nchw_u8.to(torch::kFloat32), F::InterpolateFuncOptions()
                                                                    .size(std::vector<int64_t>{h, w})
                                                                    .mode(torch::kBicubic)
                                                                    .align_corners(false)
                                                                    .antialias(true));
  return f.round().clamp(0, 255).to(torch::kUInt8);
}

}  // namespace

ClipImageProcessor ClipImageProcessor::for_size(int image_size) {
  ClipImageProcessor p;
  p.shortest_edge = p.crop_height = p.crop_width = image_size;
  return p;
}

ClipImageProcessor ClipImageProcessor::from_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot open");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
    ClipImageProcessor p;
    if (j.contains("size")) {
      const auto& s = j["size"];
      if (s.is_number()) p.shortest_edge = s.get<int>();
      else if (s.contains("shortest_edge")) p.shortest_edge = s["shortest_edge"].get<int>();
      else throw FormatError(path + ": 'size' has no 'shortest_edge'");
    }
    if (j.contains("crop_size")) {
      const auto& c = j["crop_size"];
      if (c.is_number()) p.crop_height = p.crop_width = c.get<int>();
      else {
        p.crop_height = c.at("height").get<int>();
        p.crop_width = c.at("width").get<int>();
      }
    }
    if (j.contains("do_resize")) p.do_resize = j["do_resize"].get<bool>();
    if (j.contains("do_center_crop")) p.do_center_crop = j["do_center_crop"].get<bool>();
    if (j.contains("image_mean")) p.mean = j["image_mean"].get<std::array<float, 3>>();
    if (j.contains("image_std")) p.std = j["image_std"].get<std::array<float, 3>>();
    if (j.contains("resample") && j["resample"].get<int>() != 3)
      throw FormatError(path + ": only bicubic resampling (resample = 3) is supported");
    return p;
  } catch (const nlohmann::json::exception& e) {
    throw FormatError(path + ": bad preprocessor config: " + e.what());
  }
}

ClipImageProcessor ClipImageProcessor::from_pretrained(const std::string& dir, int image_size) {
  std::string path = (std::filesystem::path(dir) / "preprocessor_config.json").string();
  return std::filesystem::exists(path) ? from_file(path) : for_size(image_size);
}

torch::Tensor ClipImageProcessor::resize(const torch::Tensor& frames) const {
  check_frames(frames, "resize");
  const int64_t H = frames.size(1), W = frames.size(2);
  // Shorter side to shortest_edge, longer side truncated (torchvision / transformers).
  int64_t h, w;
  if (H <= W) {
    h = shortest_edge;
    w = static_cast<int64_t>(double(shortest_edge) * double(W) / double(H));
  } else {
    w = shortest_edge;
    h = static_cast<int64_t>(double(shortest_edge) * double(H) / double(W));
  }
  torch::Tensor x = frames.permute({0, 3, 1, 2});  // [T, 3, H, W]
  if (w != W) x = resize_pass(x, H, w);            // horizontal first, as PIL
  if (h != H) x = resize_pass(x, h, w);
  return x.permute({0, 2, 3, 1}).contiguous();
}

torch::Tensor ClipImageProcessor::center_crop(const torch::Tensor& frames) const {
  check_frames(frames, "center crop");
  const int64_t H = frames.size(1), W = frames.size(2), ch = crop_height, cw = crop_width;
  torch::Tensor x = frames;
  if (H < ch || W < cw) {  // pad to at least the crop, centred (torchvision)
    int64_t ph = std::max<int64_t>(0, ch - H), pw = std::max<int64_t>(0, cw - W);
    x = F::pad(x.permute({0, 3, 1, 2}), F::PadFuncOptions({pw / 2, (pw + 1) / 2, ph / 2, (ph + 1) / 2}))
            .permute({0, 2, 3, 1});
  }
  const int64_t h = x.size(1), w = x.size(2);
  // Python's round(): half to even (std::nearbyint in the default rounding mode).
  const int64_t top = static_cast<int64_t>(std::nearbyint(double(h - ch) / 2.0));
  const int64_t left = static_cast<int64_t>(std::nearbyint(double(w - cw) / 2.0));
  return x.slice(1, top, top + ch).slice(2, left, left + cw).contiguous();
}

torch::Tensor ClipImageProcessor::normalize(const torch::Tensor& frames) const {
  check_frames(frames, "normalize");
  torch::Tensor mean_t = torch::tensor(std::vector<float>(mean.begin(), mean.end())).view({1, 3, 1, 1});
  torch::Tensor std_t = torch::tensor(std::vector<float>(std.begin(), std.end())).view({1, 3, 1, 1});
  // Same float32 operations, same order as ToTensor + Normalize.
  torch::Tensor x = frames.permute({0, 3, 1, 2}).to(torch::kFloat32).div(255.0f);
  return x.sub(mean_t).div(std_t).contiguous();
}

torch::Tensor ClipImageProcessor::operator()(const torch::Tensor& frames) const {
  torch::Tensor x = frames;
  if (do_resize) x = resize(x);
  if (do_center_crop) x = center_crop(x);
  return normalize(x);
}

}  // namespace sfvu::pathways
