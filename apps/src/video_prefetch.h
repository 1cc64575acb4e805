// Decoding of the next videos overlapping inference on the current one.
//
// Note [Batch prefetch]
// A batch spends its time in two places: FFmpeg decoding + colour conversion (decoder
// threads, mostly scalar code) and the CLIP backbone + head (libtorch's intra-op pool). Run in
// one thread they take turns and each leaves the other's cores idle. Here `jobs` decoder
// threads each take the next video in input order, plan it, and push its decoded chunks into
// that video's bounded queue; the calling thread takes the videos in order and runs the
// backbone on each chunk as it arrives (pathways::TokenAssembler), so the backbone works on
// video i while video i+1 (… i+jobs) decodes. Memory stays bounded: at most `jobs` videos
// ahead of the current one, and at most kQueueChunks chunks waiting per video (a decoder
// whose queue is full waits: this is a batch, not a live capture, so nothing is dropped).
// Cache hits skip decoding altogether. Output order is the input order whatever `jobs` is,
// so results do not depend on it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sfvu/base/progress.h"
#include "sfvu/grounding/video_pipeline.h"

namespace sfvu::cli {

class VideoPrefetcher {
 public:
  /// Chunks (of DecoderOptions::chunk_frames frames) waiting per video at most.
  static constexpr size_t kQueueChunks = 4;

  /// Starts `jobs` (>= 1) decoder threads over `paths`; an empty path is an item with nothing
  /// to decode (never opened).
  VideoPrefetcher(const grounding::VideoPipeline& pipeline, std::vector<std::string> paths, int jobs);
  /// Stops the decoders (a blocked one gives up its video) and joins them.
  ~VideoPrefetcher();
  VideoPrefetcher(const VideoPrefetcher&) = delete;
  VideoPrefetcher& operator=(const VideoPrefetcher&) = delete;

  /// The session of paths[i], encoded on the calling thread as its chunks arrive. Calls must
  /// come in increasing `i`. Throws what opening/decoding the video threw (rethrown here),
  /// Cancelled when `progress` returns false.
  std::unique_ptr<grounding::VideoSession> open(size_t i, const ProgressCallback& progress = {});

 private:
  struct Feed;
  void decoder_loop();
  void decode_one(size_t i, Feed& feed);

  const grounding::VideoPipeline& pipeline_;
  std::vector<std::string> paths_;
  std::vector<std::unique_ptr<Feed>> feeds_;
  int jobs_;
  std::mutex mutex_;                // guards next_, current_
  std::condition_variable window_;  // decoders wait here for their next video to be within reach
  size_t next_ = 0;                 // next video a decoder takes
  size_t current_ = 0;              // video the caller is on
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace sfvu::cli
