#include "sfvu/decode/frame_format.h"

#include <cmath>

#include "sfvu/base/error.h"

namespace sfvu::decode {

ResizeMode parse_resize_mode(const std::string& name) {
  if (name == "crop") return ResizeMode::kCrop;
  if (name == "letterbox") return ResizeMode::kLetterbox;
  if (name == "stretch") return ResizeMode::kStretch;
  throw UsageError("unknown resize mode '" + name + "' (expected crop, letterbox or stretch)");
}

std::string to_string(ResizeMode mode) {
  switch (mode) {
    case ResizeMode::kCrop: return "crop";
    case ResizeMode::kLetterbox: return "letterbox";
    case ResizeMode::kStretch: return "stretch";
  }
  return "crop";
}

ScaleFilter parse_scale_filter(const std::string& name) {
  if (name == "bicubic") return ScaleFilter::kBicubic;
  if (name == "bilinear") return ScaleFilter::kBilinear;
  if (name == "area") return ScaleFilter::kArea;
  if (name == "lanczos") return ScaleFilter::kLanczos;
  throw UsageError("unknown scale filter '" + name + "' (expected bicubic, bilinear, area or lanczos)");
}

std::string to_string(ScaleFilter filter) {
  switch (filter) {
    case ScaleFilter::kBicubic: return "bicubic";
    case ScaleFilter::kBilinear: return "bilinear";
    case ScaleFilter::kArea: return "area";
    case ScaleFilter::kLanczos: return "lanczos";
  }
  return "bicubic";
}

Placement place(int dw, int dh, int ow, int oh, ResizeMode mode) {
  Placement p;
  if (mode == ResizeMode::kStretch || (dw * int64_t(oh) == dh * int64_t(ow))) {
    p.scaled_width = ow;
    p.scaled_height = oh;
    return p;
  }
  double sx = double(ow) / dw, sy = double(oh) / dh;
  // Crop covers the output (larger scale); letterbox fits inside it (smaller scale).
  double s = mode == ResizeMode::kCrop ? std::max(sx, sy) : std::min(sx, sy);
  p.scaled_width = std::max(1, static_cast<int>(std::lround(dw * s)));
  p.scaled_height = std::max(1, static_cast<int>(std::lround(dh * s)));
  // The dimension that matches exactly stays exact (avoids an off-by-one border).
  if (mode == ResizeMode::kCrop) {
    if (sx >= sy) p.scaled_width = ow; else p.scaled_height = oh;
  } else {
    if (sx <= sy) p.scaled_width = ow; else p.scaled_height = oh;
  }
  p.x = (ow - p.scaled_width) / 2;
  p.y = (oh - p.scaled_height) / 2;
  return p;
}

}  // namespace sfvu::decode
