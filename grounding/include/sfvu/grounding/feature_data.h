// sfvu/grounding/feature_data.h: pre-extracted features in the layout the grounding literature
// shares (Moment-DETR, lighthouse: ../shared/specs/feature_layout.md), read as a feature model
// (learned_model.h) sees them.
//
// A feature folder ROOT holds, per video source (e.g. "slowfast", "clip") and for the queries:
//   ROOT/<source>_features/<vid>.npz   or ROOT/<source>/<vid>.npz      key "features" [L, D]
//   ROOT/clip_text_features/qid<qid>.npz or ROOT/clip_text/qid<qid>.npz
//                                      keys "last_hidden_state" [Lq, D], "pooler_output" [D]
// Row i of a video file is the clip [i * s, (i + 1) * s) (s = 2 for QVHighlights). ROOT is
// the folder given, or its features/, QVHighlight/ or features/QVHighlight/ (lighthouse keeps
// one such folder per dataset; give Charades' folder itself). `sfvu extract` writes one
// source's files and the query files.
//
// Usage:
//   FeatureReader reader(find_feature_layout("qvh/features", {"slowfast", "clip"}), model.config().features);
//   VideoFeatures video = reader.video("NUsG9BgSes0_210.0_360.0", 150.0);
//   TextBatch text = query_batch({reader.query(2579)});
//   GroundingOutput out = model.ground(video, text, &times);
//
// Note [Feature input]
// A feature model runs the fusion and grounding head of a video model, unchanged, on clip
// rows instead of backbone tokens: one timeline step per row (at the clip's midpoint), each
// step's input the row of every source concatenated (+ Moment-DETR's two temporal columns),
// which the fusion's timeline projection maps to its width; the "slow" detail the text reads
// is the CLIP source's row of the same clip (one token per step, so the text's detail at a
// step is its own clip's appearance), or the whole row without a CLIP source. The query's
// token rows take the place of the text tower's output and are projected by the fusion's
// text projection. Rows are prepared as Moment-DETR's loader does (spec §3): the first
// max_rows rows of each source, each row x / (|x|_2 + 1e-5), every source cut to the
// shortest, concatenated in config order, then [i/L, i/L + 1/L]; queries keep their first
// max_query_tokens rows, normalised the same way. No backbone means no alignment loss and
// no QA head (the layout has no features for answer options). config.json records the
// sources, their order and widths, so prediction reads exactly what training read.
//
// Errors: IoError for a missing folder or file, FormatError for a file without the key, with
// the wrong rank or width, or without a row; each names the file.
// Thread safety: FeatureReader is immutable; its methods may run concurrently.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sfvu/grounding/learned_model.h"

namespace sfvu::grounding {

/// The sources read when none are named, in Moment-DETR's train.sh order (lighthouse puts
/// clip first: weights trained with one order do not read the other).
inline const std::vector<std::string> kDefaultFeatureSources{"slowfast", "clip"};

struct FeatureLayout {
  std::string root;                      ///< the folder holding the source folders
  std::vector<std::string> sources;      ///< source names, in concatenation order
  std::vector<std::string> source_dirs;  ///< one folder per source
  std::string query_dir;                 ///< qid<qid>.npz files
};

/// Finds the layout in `dir` (see above). `sources` empty: those of kDefaultFeatureSources
/// present, in that order. Throws IoError naming `dir` and what is missing.
FeatureLayout find_feature_layout(const std::string& dir, const std::vector<std::string>& sources = {});
/// True when `dir` holds a feature layout (a query folder and at least one default source).
bool has_feature_layout(const std::string& dir);

class FeatureReader {
 public:
  /// `config.sources` must equal `layout.sources` (UsageError otherwise).
  FeatureReader(FeatureLayout layout, FeatureInputConfig config);
  /// The input config of a new model for `layout`: widths from `vid`'s and `qid`'s files,
  /// detail from the "clip" source when there is one; the other fields keep their defaults
  /// (`base` gives them).
  static FeatureInputConfig probe(const FeatureLayout& layout, const std::string& vid, int64_t qid,
                                  FeatureInputConfig base = {});

  std::string video_path(size_t source, const std::string& vid) const;
  std::string query_path(int64_t qid) const;
  /// One video as the model reads it (Note [Feature input]): fast = timeline rows [L, 1, 1,
  /// timeline_dim], slow = detail rows [L, 1, 1, detail_dim], times at the clips' midpoints.
  /// `duration_seconds` <= 0: L * clip_seconds.
  VideoFeatures video(const std::string& vid, double duration_seconds) const;
  /// One query's rows [Lq, query_dim] (the first max_query_tokens, normalised).
  torch::Tensor query(int64_t qid) const;

  const FeatureLayout& layout() const { return layout_; }
  const FeatureInputConfig& config() const { return config_; }

 private:
  FeatureLayout layout_;
  FeatureInputConfig config_;
};

/// Query rows [Lq_b, D] padded into one batch [B, max Lq_b, D] with its mask.
TextBatch query_batch(const std::vector<torch::Tensor>& queries);

}  // namespace sfvu::grounding
