// sfvu/decode/source.h: what to open.
//
// A Source is a location FFmpeg can open, or bytes in memory:
//   - a local file path ("clip.mp4");
//   - any URL an FFmpeg protocol reads ("http://...", "rtsp://...", "tcp://127.0.0.1:5000",
//     "udp://...");
//   - a capture device through libavdevice: "/dev/video0" (v4l2), or "FORMAT:TARGET" where
//     FORMAT is an input device/format name, e.g. "v4l2:/dev/video0", "lavfi:testsrc2=size=320x240";
//   - an in-memory buffer (Source::memory), read through a custom AVIOContext, seekable.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sfvu::decode {

struct Source {
  /// Path, URL or device string; for memory sources a display name used in messages.
  std::string location;
  /// Non-null for memory sources: the encoded bytes (shared, never copied).
  std::shared_ptr<const std::vector<uint8_t>> bytes;

  static Source path(std::string location) { return Source{std::move(location), nullptr}; }
  static Source memory(std::shared_ptr<const std::vector<uint8_t>> bytes,
                       std::string name = "<memory>") {
    return Source{std::move(name), std::move(bytes)};
  }
  bool is_memory() const { return bytes != nullptr; }
};

/// How to open a Source. Defaults are the single source of truth (the CLI prints them).
struct InputOptions {
  /// Force an input format/device ("v4l2", "mpegts", ...). Empty: detect (and "FORMAT:" prefixes).
  std::string format;
  /// Any blocking read/connect gives up after this long without progress (live inputs can
  /// otherwise block forever). Also passed to protocols as rw_timeout / RTSP timeout.
  double timeout_seconds = 10.0;
  /// Extra demuxer/protocol options (av_dict), e.g. {"video_size","640x480"} for v4l2.
  std::map<std::string, std::string> demuxer_options;
};

}  // namespace sfvu::decode
