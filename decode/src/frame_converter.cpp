#include "frame_converter.h"

#include <cstring>
#include <string>

#include "sfvu/base/error.h"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace sfvu::decode {
namespace {

constexpr int kSwsBlockPixels = 32;

int sws_flags_for(ScaleFilter f) {
  switch (f) {
    case ScaleFilter::kBicubic: return SWS_BICUBIC;
    case ScaleFilter::kBilinear: return SWS_BILINEAR;
    case ScaleFilter::kArea: return SWS_AREA;
    case ScaleFilter::kLanczos: return SWS_LANCZOS;
  }
  return SWS_BICUBIC;
}

// The deprecated full-range "J" formats: swscale wants the plain format plus range=full.
AVPixelFormat unjay(AVPixelFormat f, bool* full_range) {
  switch (f) {
    case AV_PIX_FMT_YUVJ420P: *full_range = true; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full_range = true; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full_range = true; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full_range = true; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full_range = true; return AV_PIX_FMT_YUV411P;
    default: return f;
  }
}

}  // namespace

FrameConverter::FrameConverter(FrameFormat format, int clockwise_rotation, int display_width,
                               int display_height)
    : format_(format), rotation_(clockwise_rotation) {
  out_w_ = format_.out_width(display_width);
  out_h_ = format_.out_height(display_height);
}

void FrameConverter::ensure_context(const AVFrame& frame, int scaled_w, int scaled_h) {
  bool full_range = frame.color_range == AVCOL_RANGE_JPEG;
  AVPixelFormat src_fmt = unjay(static_cast<AVPixelFormat>(frame.format), &full_range);
  int space = frame.colorspace;
  if (sws_ && src_w_ == frame.width && src_h_ == frame.height && src_fmt_ == src_fmt &&
      src_space_ == space && src_range_ == int(full_range) && dst_w_ == scaled_w && dst_h_ == scaled_h)
    return;
  sws_.reset(sws_getContext(frame.width, frame.height, src_fmt, scaled_w, scaled_h, AV_PIX_FMT_RGB24,
                            sws_flags_for(format_.filter), nullptr, nullptr, nullptr));
  if (!sws_) {
    const char* name = av_get_pix_fmt_name(src_fmt);
    throw FormatError(std::string("cannot convert pixel format ") + (name ? name : "?") + " " +
                      std::to_string(frame.width) + "x" + std::to_string(frame.height) + " to rgb24 " +
                      std::to_string(scaled_w) + "x" + std::to_string(scaled_h));
  }
  // Use the frame's own matrix and range, as the ffmpeg CLI's scale filter does by default
  // (unspecified matrices fall back to BT.601 inside swscale, also as the CLI does).
  sws_setColorspaceDetails(sws_.get(), sws_getCoefficients(space), full_range ? 1 : 0,
                           sws_getCoefficients(SWS_CS_DEFAULT), 1, 0, 1 << 16, 1 << 16);
  src_w_ = frame.width;
  src_h_ = frame.height;
  src_fmt_ = src_fmt;
  src_space_ = space;
  src_range_ = full_range;
  dst_w_ = scaled_w;
  dst_h_ = scaled_h;
}

void FrameConverter::convert(const AVFrame& frame, uint8_t* dst) {
  const bool transposed = rotation_ == 90 || rotation_ == 270;
  // Displayed size of this frame, then where its scaled image lands in the output.
  const int dw = transposed ? frame.height : frame.width;
  const int dh = transposed ? frame.width : frame.height;
  const Placement p = format_.is_native() && dw == out_w_ && dh == out_h_
                          ? Placement{out_w_, out_h_, 0, 0}
                          : place(dw, dh, out_w_, out_h_, format_.resize);
  // Scaled size in the frame's own (stored) orientation.
  const int sw = transposed ? p.scaled_height : p.scaled_width;
  const int sh = transposed ? p.scaled_width : p.scaled_height;
  ensure_context(frame, sw, sh);

  const int out_stride = out_w_ * 3;
  // Note [swscale writes past the row]: its SIMD paths store whole blocks of pixels, so a row
  // whose width is not a multiple of the block spills a few bytes past its end (torchcodec
  // saw the same). Write straight into the output only when rows are whole blocks; else go
  // through a padded scratch image.
  const bool direct = rotation_ == 0 && p.x >= 0 && p.y >= 0 && sw % kSwsBlockPixels == 0;
  if (p.x > 0 || p.y > 0) std::memset(dst, 0, size_t(out_stride) * out_h_);  // letterbox bars

  uint8_t* target;
  int target_stride;
  if (direct) {
    target = dst + size_t(p.y) * out_stride + size_t(p.x) * 3;
    target_stride = out_stride;
  } else {
    target_stride = (sw + kSwsBlockPixels) * 3;
    scratch_.resize(size_t(target_stride) * (sh + 1));
    target = scratch_.data();
  }
  uint8_t* planes[4] = {target, nullptr, nullptr, nullptr};
  int strides[4] = {target_stride, 0, 0, 0};
  sws_scale(sws_.get(), frame.data, frame.linesize, 0, frame.height, planes, strides);
  if (direct) return;

  // Copy the visible part of the scaled image into the output, rotating on the way.
  // Displayed scaled pixel (u, v) sits at output (u + p.x, v + p.y).
  const int u0 = std::max(0, -p.x), v0 = std::max(0, -p.y);
  const int u1 = std::min(p.scaled_width, out_w_ - p.x), v1 = std::min(p.scaled_height, out_h_ - p.y);
  const uint8_t* src = scratch_.data();
  for (int v = v0; v < v1; ++v) {
    uint8_t* row = dst + size_t(v + p.y) * out_stride + size_t(u0 + p.x) * 3;
    if (rotation_ == 0) {
      std::memcpy(row, src + size_t(v) * target_stride + size_t(u0) * 3, size_t(u1 - u0) * 3);
      continue;
    }
    for (int u = u0; u < u1; ++u, row += 3) {
      int x, y;  // source-orientation pixel shown at displayed (u, v)
      switch (rotation_) {
        case 90: x = v; y = sh - 1 - u; break;    // transpose=clock
        case 270: x = sw - 1 - v; y = u; break;   // transpose=cclock
        default: x = sw - 1 - u; y = sh - 1 - v;  // 180: hflip + vflip
      }
      const uint8_t* s = src + size_t(y) * target_stride + size_t(x) * 3;
      row[0] = s[0];
      row[1] = s[1];
      row[2] = s[2];
    }
  }
}

}  // namespace sfvu::decode
