// sfvu/decode/video_writer.h: encoding RGB frames into an H.264 MP4 (libavcodec + libavformat).
//
// Usage:
//   sfvu::decode::VideoWriter writer("out.mp4", 128, 128, 24, 1);   // 24 fps
//   for (...) writer.write(rgb);   // width*height*3 bytes, packed RGB24, row-major
//   writer.finish();               // flush the encoder, write the trailer, rename into place
//
// Frame k gets pts k * fps_den / fps_num seconds, so the file's duration is exactly
// n_frames / fps. Frames are converted to yuv420p (BT.601, limited range, tagged as such)
// with swscale. The file is written as `path + ".part"` and renamed to `path` by finish(),
// so an interrupted run never leaves a truncated mp4 under the final name.
//
// Thread safety: one writer per thread; writers in different threads are independent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace sfvu::decode {

struct VideoWriterOptions {
  int crf = 14;                      ///< x264 constant rate factor (lower = better quality)
  std::string preset = "veryfast";   ///< x264 preset
  std::string codec = "libx264";     ///< libavcodec encoder name
  int gop_frames = 48;               ///< keyframe interval, frames
  int threads = 0;                   ///< encoder threads; 0 = the encoder's choice (all cores)
};

class VideoWriter {
 public:
  /// Opens `path + ".part"` for writing. Throws UsageError (odd or non-positive size, bad
  /// fps), FormatError (encoder not found or refuses the settings) or IoError (cannot create
  /// the file), each naming `path` and quoting FFmpeg's error text.
  VideoWriter(const std::string& path, int width, int height, int fps_num, int fps_den,
              VideoWriterOptions options = {});
  /// Not yet finished: finishes quietly (errors swallowed, the .part file removed on
  /// failure) unless the destructor runs while an exception unwinds the stack; then the
  /// .part file is deleted, since the video is incomplete.
  ~VideoWriter();
  VideoWriter(const VideoWriter&) = delete;
  VideoWriter& operator=(const VideoWriter&) = delete;

  /// Encodes one frame: `rgb` holds width*height*3 bytes. Throws IoError/FormatError.
  void write(const uint8_t* rgb);
  /// Flushes the encoder, writes the trailer and renames the file into place. Idempotent.
  void finish();

  int64_t frames_written() const;
  const std::string& path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sfvu::decode
