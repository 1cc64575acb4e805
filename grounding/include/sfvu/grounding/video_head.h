// sfvu/grounding/video_head.h: what a head answers about one video's tokens. The
// training-free head (training_free_head.h) and the learned heads share this interface, so
// the pipeline (video_pipeline.h), the CLI and the evaluation harness do not care which runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sfvu/grounding/moments.h"
#include "sfvu/pathways/video_tokens.h"

namespace sfvu::grounding {

struct GroundingResult {
  double duration_seconds = 0;
  double clip_seconds = 2;
  /// One score per clip [i*clip_seconds, (i+1)*clip_seconds) of the video (the last clip may
  /// be shorter): ceil(duration / clip_seconds) values. Higher = more relevant.
  std::vector<float> saliency;
  std::vector<Moment> moments;  ///< ranked, best first
};

struct QaResult {
  int64_t answer_index = -1;
  std::vector<float> probabilities;  ///< one per option, summing to 1
};

/// A head. Implementations are immutable after construction and thread-safe.
class VideoHead {
 public:
  virtual ~VideoHead() = default;
  virtual GroundingResult ground(const pathways::VideoTokens& video, const std::string& query) const = 0;
  /// Throws UsageError when `options` has fewer than two entries.
  virtual QaResult answer(const pathways::VideoTokens& video, const std::string& question,
                          const std::vector<std::string>& options) const = 0;
  virtual std::string name() const = 0;
};

}  // namespace sfvu::grounding
