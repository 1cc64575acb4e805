// sfvu/decode/video_reader.h: one decode pass, any number of sampled RGB streams.
//
// Usage:
//   sfvu::decode::VideoReader reader(sfvu::decode::Source::path("clip.mp4"));
//   auto slow = StreamRequest{SamplingPlan::at_fps(1), FrameFormat::square(224)};
//   auto fast = StreamRequest{SamplingPlan::at_fps(8), FrameFormat::square(112)};
//   auto result = reader.read({slow, fast});          // whole batches in memory
//   // or, bounded memory for long/live inputs:
//   reader.decode({slow, fast}, [](FrameChunk&& c) { ... });
//
// One pass serves every stream: each needed frame is decoded once and converted once per
// stream format, straight from the decoder's pixel format to RGB24 at the target size.
// Sparse plans seek (to our own indexed keyframe before the target) when that skips
// decoding; dense plans decode through. Times follow Note [Frame displayed at time t]
// (sampling.h). Corrupt packets are skipped and counted; a truncated file yields the frames
// before the cut (stats.truncated, one warning).
//
// Thread safety: a VideoReader is a per-input session, used from one thread at a time,
// except interrupt(), which any thread may call to make a blocked read return.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sfvu/base/bytes.h"
#include "sfvu/base/progress.h"
#include "sfvu/decode/frame_format.h"
#include "sfvu/decode/frame_index.h"
#include "sfvu/decode/media_info.h"
#include "sfvu/decode/sampling.h"
#include "sfvu/decode/source.h"

namespace sfvu::decode {

enum class IndexMode {
  kAuto,    ///< index local files and memory buffers; network/device inputs stream forward-only
  kAlways,  ///< index any seekable input (an http file is read once for it)
  kNever,   ///< forward-only: no seeking, counts estimated
};

struct DecoderOptions {
  InputOptions input;
  IndexMode index = IndexMode::kAuto;
  int stream_index = -1;       ///< video stream to use; -1 = FFmpeg's best video stream
  int threads = 0;             ///< decoder threads; 0 = hardware concurrency
  bool keyframes_only = false; ///< drop non-key packets before the decoder
  bool allow_seek = true;      ///< false: always decode through (for benchmarks/tests)
  /// Indexed inputs: frames no request needs are not decoded when no other frame
  /// references them (Note [Skipping unneeded frames] in decode_pass.cpp).
  bool skip_unneeded = true;
  int chunk_frames = 32;       ///< frames per FrameChunk handed to the sink
};

/// Counters of one decode pass; returned with every result (tests assert on them).
struct DecodeStats {
  int64_t packets_read = 0;      ///< packets of the video stream read from the demuxer
  int64_t packets_skipped = 0;   ///< dropped before decoding (keyframes-only mode)
  int64_t frames_decoded = 0;    ///< frames produced by the decoder
  int64_t frames_converted = 0;  ///< colour conversions run (one per frame per distinct format)
  int64_t frames_returned = 0;   ///< frames handed out over all streams (duplicates included)
  int64_t seeks = 0;
  int64_t decode_errors = 0;     ///< corrupt packets/frames skipped
  bool truncated = false;        ///< input ended early with a read error
  std::string last_error;        ///< FFmpeg text of the last error, if any
};

/// One output stream: which times, at which size.
struct StreamRequest {
  SamplingPlan plan;
  FrameFormat format;
};

/// A run of frames of one stream. `rgb` is [n, height, width, 3] uint8, row-major.
struct FrameChunk {
  int stream = 0;                   ///< position in the request list
  int width = 0, height = 0;
  std::vector<int64_t> slots;       ///< output position of each frame (request order)
  std::vector<int64_t> indices;     ///< frame index in presentation order
  std::vector<double> pts_seconds;  ///< presentation time, seconds from the first frame
  Bytes rgb;
  int64_t size() const { return static_cast<int64_t>(slots.size()); }
};

/// Receives each chunk. A sink that keeps the pixels moves `rgb` out; one that copies them
/// leaves it, and the decoder reuses that buffer for the next chunk (no reallocation).
using ChunkSink = std::function<void(FrameChunk&&)>;

/// All frames of one stream, in slot order (request order).
struct FrameBatch {
  int width = 0, height = 0;
  std::vector<int64_t> indices;
  std::vector<double> pts_seconds;
  Bytes rgb;                        ///< [n, height, width, 3]
  int64_t size() const { return static_cast<int64_t>(indices.size()); }
  const uint8_t* frame(int64_t i) const { return rgb.data() + i * int64_t(width) * height * 3; }
  /// Appends a chunk's frames (same stream, same size) after the ones held.
  void append(const FrameChunk& chunk);
};

struct ReadResult {
  std::vector<FrameBatch> streams;  ///< one per request
  DecodeStats stats;
};

class VideoReader {
 public:
  /// Opens the input, selects the video stream, builds the packet index when IndexMode
  /// allows. Throws IoError (cannot open/read) or FormatError (no video stream, unsupported
  /// codec, empty file), naming the source and quoting FFmpeg's error text.
  explicit VideoReader(Source source, DecoderOptions options = {});
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  const MediaInfo& info() const;
  /// The packet index, or nullptr for forward-only inputs.
  const FrameIndex* index() const;

  /// Runs one decode pass over all requests, delivering chunks as they fill (memory stays
  /// bounded by chunk_frames per stream). May be called again (it re-seeks; forward-only
  /// inputs continue where they are). `progress` may cancel (then throws sfvu::Cancelled).
  DecodeStats decode(const std::vector<StreamRequest>& requests, const ChunkSink& sink,
                     const ProgressCallback& progress = {});

  /// decode() collected into whole batches.
  ReadResult read(const std::vector<StreamRequest>& requests,
                  const ProgressCallback& progress = {});

  /// How many frames `plan` will yield on this input (an upper bound for kAll ranges);
  /// -1 when unknown (unbounded live plans, kAll without an index).
  int64_t expected_frames(const SamplingPlan& plan) const;

  /// Makes a blocked or running decode stop soon (it ends as if the input ended).
  void interrupt();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Opens `source` and reports its MediaInfo (builds the index for exact counts).
MediaInfo probe(const Source& source, const DecoderOptions& options = {});

/// Routes FFmpeg's av_log through sfvu's log sink (warnings and errors only). Idempotent.
void install_ffmpeg_log_bridge();

/// FFmpeg's text for an AVERROR code.
std::string ffmpeg_error_text(int averror);

}  // namespace sfvu::decode
