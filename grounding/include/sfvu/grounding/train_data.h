// sfvu/grounding/train_data.h: a training/validation split on disk, as `sfvu synth` writes it
// (and as a user lays out real data): DIR/annotations.jsonl (QVHighlights schema: qid, query,
// vid, duration, relevant_windows; optional "kind"), optional DIR/qa.jsonl (qid, vid or
// video, question, options, answer, optional type) and the videos as DIR/videos/<vid>.<ext>.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sfvu/base/progress.h"
#include "sfvu/grounding/grounding_losses.h"
#include "sfvu/pathways/slowfast_options.h"

namespace sfvu::grounding {

struct TrainQuery {
  int64_t qid = 0;
  std::string text, kind;
  std::vector<Window> windows;
};

struct TrainQa {
  std::string qid, question, type;
  std::vector<std::string> options;
  int answer = 0;
};

/// One video with its texts and, once loaded, its frames at the pathways' input sizes.
struct TrainVideo {
  std::string vid, path;
  double duration_seconds = 0;
  std::vector<TrainQuery> queries;
  std::vector<TrainQa> qa;
  torch::Tensor slow_frames, fast_frames;  ///< uint8 [T, S, S, 3]
  std::vector<double> slow_seconds, fast_seconds;
  /// Tokens computed once when the backbone is frozen (pretrained CLIP); frames are dropped.
  std::shared_ptr<struct VideoFeatures> features;
};

struct TrainSplit {
  std::string dir;
  std::vector<TrainVideo> videos;
  int64_t n_queries() const;
  int64_t n_qa() const;
  std::vector<std::string> texts() const;  ///< every query, question and option text
};

/// `dir/videos/<stem>.<ext>` for every regular file in `videos_dir` (non-recursive).
std::map<std::string, std::string> index_videos(const std::string& videos_dir);

/// Reads the annotations (FormatError naming file, line and field) and finds each video
/// (IoError naming the vid when absent). Videos keep the annotation file's order.
TrainSplit load_split(const std::string& dir);

/// Decodes every video's frames as the SlowFast encoder would sample them for a backbone
/// with `vision` (same planner, same decoder resize), keeping uint8 frames in memory.
/// Throws what the decoder throws, naming the video.
void decode_split(TrainSplit& split, const pathways::SlowFastOptions& options,
                  const pathways::ClipVisionConfig& vision, const ProgressCallback& progress = {});

}  // namespace sfvu::grounding
