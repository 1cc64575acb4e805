// Private: converts decoded AVFrames to RGB24 at one FrameFormat, rotation applied.
#pragma once

#include <cstdint>
#include <vector>

#include "ffmpeg_common.h"
#include "sfvu/base/bytes.h"
#include "sfvu/decode/frame_format.h"

namespace sfvu::decode {

/// One per output stream format. Caches its swscale context across frames and re-creates
/// it when the input size, pixel format or colour description changes mid-stream.
class FrameConverter {
 public:
  /// `clockwise_rotation`: 0/90/180/270, the rotation the ffmpeg CLI applies by default.
  /// `display_width/height`: the stream's displayed size (used for native output size, so a
  /// mid-stream size change still yields frames of the size promised up front).
  FrameConverter(FrameFormat format, int clockwise_rotation, int display_width, int display_height);

  int out_width() const { return out_w_; }
  int out_height() const { return out_h_; }
  /// Writes out_height x out_width x 3 bytes to `dst`.
  void convert(const AVFrame& frame, uint8_t* dst);

 private:
  void ensure_context(const AVFrame& frame, int scaled_w, int scaled_h);
  FrameFormat format_;
  int rotation_;
  int out_w_, out_h_;
  ff::SwsContextPtr sws_;
  // Key of the cached context.
  int src_w_ = -1, src_h_ = -1, src_fmt_ = -1, src_space_ = -1, src_range_ = -1, dst_w_ = -1, dst_h_ = -1;
  Bytes scratch_;
};

}  // namespace sfvu::decode
