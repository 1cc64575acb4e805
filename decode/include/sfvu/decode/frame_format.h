// sfvu/decode/frame_format.h: the RGB24 size each output stream is converted to.
//
// Geometry is applied after rotation (in displayed coordinates):
//   kCrop      scale so the frame covers WxH keeping aspect, then centre-crop (CLIP's way)
//   kLetterbox scale so the frame fits in WxH keeping aspect, pad with black, centred
//   kStretch   scale to exactly WxH
// width = height = 0 keeps the displayed size (no scaling). A size of S x S with kCrop is
// "shorter side S, centre crop", the CLIP preprocessing geometry.
#pragma once

#include <string>

namespace sfvu::decode {

enum class ResizeMode { kCrop, kLetterbox, kStretch };

/// Resampling filter of the scaler (swscale). Bicubic matches the ffmpeg CLI's default.
enum class ScaleFilter { kBicubic, kBilinear, kArea, kLanczos };

struct FrameFormat {
  int width = 0;    ///< 0 with height 0: displayed size
  int height = 0;
  ResizeMode resize = ResizeMode::kCrop;
  ScaleFilter filter = ScaleFilter::kBicubic;

  static FrameFormat native() { return {}; }
  static FrameFormat square(int side, ResizeMode mode = ResizeMode::kCrop) { return {side, side, mode}; }
  bool is_native() const { return width == 0 && height == 0; }
  /// Output size for a displayed frame of dw x dh.
  int out_width(int dw) const { return is_native() ? dw : width; }
  int out_height(int dh) const { return is_native() ? dh : height; }
};

ResizeMode parse_resize_mode(const std::string& name);  ///< "crop"|"letterbox"|"stretch", else UsageError
std::string to_string(ResizeMode mode);
ScaleFilter parse_scale_filter(const std::string& name);  ///< "bicubic"|"bilinear"|"area"|"lanczos"
std::string to_string(ScaleFilter filter);

/// The rectangle a displayed WxH frame is scaled to inside an output of ow x oh:
/// scaled size (sw, sh) and its offset (x, y) in the output; negative offsets mean the scaled
/// image is cropped (kCrop). Shared by the converter and the tests.
struct Placement {
  int scaled_width = 0, scaled_height = 0;
  int x = 0, y = 0;
};
Placement place(int display_width, int display_height, int out_width, int out_height, ResizeMode mode);

}  // namespace sfvu::decode
