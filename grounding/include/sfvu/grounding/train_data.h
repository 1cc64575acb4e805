// sfvu/grounding/train_data.h: a training/validation split on disk, as `sfvu synth` writes it
// (and as a user lays out real data): DIR/annotations.jsonl (QVHighlights schema: qid, query,
// vid, duration, relevant_windows; optional "kind"), optional DIR/qa.jsonl (qid, vid or
// video, question, options, answer, optional type) and the videos as DIR/videos/<vid>.<ext>.
// A feature split has pre-extracted features (feature_data.h) instead of videos: per-video
// and per-query files found by qid and vid; its qa.jsonl is not read (no option features).
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

class FeatureReader;  // feature_data.h

struct TrainQuery {
  int64_t qid = 0;
  std::string text, kind;
  std::vector<Window> windows;
  torch::Tensor features;  ///< feature splits: the query's rows [Lq, D] (FeatureReader::query)
};

struct TrainQa {
  std::string qid, question, type;
  std::vector<std::string> options;
  int answer = 0;
  /// When the asked event happens (qa.jsonl "relevant_windows"), empty when not given: the
  /// question is then also a grounding query per option (Note [Grounded QA] in train_data.cpp).
  std::vector<Window> windows;
  /// False in a crop that misses the event: nothing in it answers the question, so its options
  /// are only "not here" for grounding, not a multiple-choice sample.
  bool answerable = true;
};

/// One video with its texts and, once loaded, its frames at the pathways' input sizes.
struct TrainVideo {
  std::string vid, path;
  double duration_seconds = 0;
  std::vector<TrainQuery> queries;
  std::vector<TrainQa> qa;
  torch::Tensor slow_frames, fast_frames;  ///< uint8 [T, S, S, 3]
  std::vector<double> slow_seconds, fast_seconds;
  /// Tokens computed once when the backbone is frozen (pretrained CLIP), frames dropped; or
  /// the clip rows of a feature split (FeatureReader::video).
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

/// What a split's videos are read from.
enum class SplitMedia { kVideos, kFeatures };

/// Reads the annotations (FormatError naming file, line and field) and, for kVideos, finds
/// each video (IoError naming the vid when absent) and reads qa.jsonl. Videos keep the
/// annotation file's order.
TrainSplit load_split(const std::string& dir, SplitMedia media = SplitMedia::kVideos);

/// Reads every video's clip rows and every query's rows through `reader` into the split
/// (TrainVideo::features, TrainQuery::features), in parallel. Throws what the reader throws
/// (naming the file), Cancelled when `progress` returns false (stage "load").
void load_split_features(TrainSplit& split, const FeatureReader& reader, const ProgressCallback& progress = {});

/// Decodes every video's frames as the SlowFast encoder would sample them for a backbone
/// with `vision` (same planner, same decoder resize), keeping uint8 frames in memory.
/// Throws what the decoder throws, naming the video.
void decode_split(TrainSplit& split, const pathways::SlowFastOptions& options,
                  const pathways::ClipVisionConfig& vision, const ProgressCallback& progress = {});

/// The texts one training sample grounds, with their windows: its queries, then, `with_options`
/// (a model that scores options by fusing them: qa_scoring "option"), each option of its
/// grounded questions as "question option", the answer with the question's windows and the
/// others with none (Note [Grounded QA] in train_data.cpp).
struct GroundingTexts {
  std::vector<std::string> texts;
  std::vector<std::vector<Window>> windows;
  /// Per question of the video: the row of its first option's text, -1 when not grounded.
  std::vector<int64_t> qa_rows;
};
GroundingTexts grounding_texts(const TrainVideo& v, bool with_options);

/// Note [Training crops] (trainer.cpp): the part of a decoded video whose frames lie in
/// [start, start + length) (views of its frame tensors, no copy), frames keeping their
/// timestamps (the model's time features and the windows stay absolute), with the queries
/// whose every window lies inside it; with `negatives`, also the queries none of whose
/// windows crosses the span's edges, keeping only their windows inside it (none: a query
/// that is not in the crop, every step negative). Multiple-choice questions without windows
/// are dropped (what they ask about may be outside); a grounded one (TrainQa::windows) is kept
/// when its windows lie inside, and with `negatives` also when they all lie outside, then
/// `answerable` false. Throws UsageError for a video without frames (a feature
/// split or a frozen backbone's cached tokens) or length <= 0.
TrainVideo crop_for_training(const TrainVideo& v, double start_seconds, double length_seconds,
                             bool negatives = false);

}  // namespace sfvu::grounding
