// Private: state of an open VideoReader (one input, one video stream, one decoder).
#pragma once

#include <memory>
#include <optional>

#include "ffmpeg_common.h"
#include "media_input.h"
#include "sfvu/decode/video_reader.h"
#include "stream_scan.h"

namespace sfvu::decode {

struct VideoReader::Impl {
  Impl(const Source& source, DecoderOptions options);

  /// Runs one pass (decode_pass.cpp).
  DecodeStats decode(const std::vector<StreamRequest>& requests, const ChunkSink& sink,
                     const ProgressCallback& progress);

  /// Seeks the demuxer so that decoding reaches keyframe `kf`; flushes the decoder.
  /// Returns false if the demuxer refused (the caller then decodes through).
  bool seek_to(const IndexEntry& kf);

  DecoderOptions options;
  std::unique_ptr<MediaInput> input;
  int stream = -1;
  AVStream* st = nullptr;
  ff::CodecContextPtr decoder;
  std::optional<FrameIndex> index;
  bool scan_truncated = false;
  std::string scan_error;
  MediaInfo info;
  int clockwise_rotation = 0;   ///< what the CLI applies: (360 - rotation_degrees) % 360
  /// Forward-only inputs: the timeline origin is the first decoded frame's timestamp.
  std::optional<int64_t> live_origin_pts;
  int64_t live_frame_counter = 0;
  bool positioned = false;      ///< the demuxer is where the last pass left it (no seek needed)
};

}  // namespace sfvu::decode
