// sfvu/grounding/qvhighlights_eval.h: QVHighlights moment retrieval (MR) and highlight
// detection (HD) metrics with parity to the official evaluator (moment_detr
// standalone_eval/eval.py). The behaviour is specified in shared/specs/qvhighlights_metrics.md;
// section numbers below (§) refer to it.
//
// Usage:
//   auto gt = sfvu::grounding::load_qvhighlights_gt("highlight_val_release.jsonl");
//   auto pred = sfvu::grounding::load_qvhighlights_predictions("preds.jsonl");
//   QvMetrics m = sfvu::grounding::evaluate_qvhighlights(gt, pred);
//   nlohmann::ordered_json j = sfvu::grounding::qvhighlights_metrics_json(m);  // official layout
//
// Units: window coordinates are seconds, used exactly as given (never clipped, §2). Metric
// values in QvMetrics are fractions in [0, 1] and unrounded; qvhighlights_metrics_json()
// turns them into percentages rounded as the official code does (Python "{:.2f}" on
// 100 * value, then float), so the JSON reads 32.2, not 32.20.
//
// Errors: bad input throws sfvu::FormatError naming the file, the line and the field; a
// missing file throws sfvu::IoError. See Note [Where the official code crashes] in
// qvhighlights_eval.cpp for what is reported instead of the official crashes.
// Thread safety: all functions are pure; call them from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sfvu::grounding {

/// IoU thresholds 0.5, 0.55, ..., 0.95, as the doubles nearest those decimals (§2).
inline constexpr std::array<double, 10> kQvIouThresholds = {0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95};
/// Their JSON keys: Python str(float) of the thresholds.
inline constexpr std::array<const char*, 10> kQvIouThresholdKeys = {"0.5", "0.55", "0.6", "0.65", "0.7",
                                                                    "0.75", "0.8", "0.85", "0.9", "0.95"};
/// GT durations above this are rejected (a sanity bound; the official code has none).
inline constexpr double kQvMaxDurationSeconds = 1e7;
/// Only the first this-many predicted windows (list order) count for MR-mAP (§3.3).
inline constexpr int kQvMaxPredWindowsForMap = 10;

struct QvWindow {
  double start_seconds = 0;
  double end_seconds = 0;
  double score = 0;  ///< predictions only; 0 for ground truth
};

/// One GT line.
struct QvGroundTruth {
  int64_t qid = 0;
  double duration_seconds = 0;
  std::vector<QvWindow> relevant_windows;
  bool has_saliency = false;  ///< both relevant_clip_ids and saliency_scores were present
  std::vector<int64_t> relevant_clip_ids;
  std::vector<std::array<double, 3>> saliency_scores;  ///< 3 annotators per relevant clip, 0..4
  int64_t line = 0;                                    ///< 1-based line in the GT file
};

struct QvGroundTruthFile {
  std::string path;
  std::vector<QvGroundTruth> queries;  ///< file order; qids are unique
};

/// One submission line.
struct QvPrediction {
  int64_t qid = 0;
  std::vector<QvWindow> windows;  ///< pred_relevant_windows, list order, [start, end, score]
  std::vector<double> saliency_scores;  ///< pred_saliency_scores, one per 2-second clip
  int64_t line = 0;
};

struct QvPredictionFile {
  std::string path;
  /// As in the official code, the FIRST line decides what is evaluated (§1): MR if it has
  /// pred_relevant_windows, HD if it has pred_saliency_scores. Every later line must then
  /// have the same field (the official code would crash with KeyError).
  bool has_windows = false;
  bool has_saliency = false;
  std::vector<QvPrediction> predictions;  ///< file order; qids are unique (duplicates rejected)
};

/// Reads the GT JSON-lines file. Validates types, finite numbers, start <= end, unique qids,
/// clip ids inside [0, floor(duration / 2)) and one score triple per clip id.
QvGroundTruthFile load_qvhighlights_gt(const std::string& path);
/// Reads a submission. Validates types, finite numbers, start <= end (reversed windows are
/// rejected: the official code turns them into NaN IoUs that count as matches, §2) and
/// rejects duplicate qids (§6).
QvPredictionFile load_qvhighlights_predictions(const std::string& path);

/// MR metrics of one length bucket (§3.1). Fractions, unrounded.
struct QvBucketMetrics {
  std::string name;  ///< "full", "long", "middle", "short"
  int64_t n_queries = 0;  ///< queries with at least one GT window in the bucket
  int64_t n_queries_in_map = 0;  ///< of those, queries with at least one predicted window
  std::array<double, 10> r1{};   ///< R1 at kQvIouThresholds
  std::array<double, 10> map{};  ///< mAP at kQvIouThresholds
  double map_average = 0;        ///< mean of the 10 unrounded mAP values
};

/// HD metrics of one saliency level (§4).
struct QvHighlightMetrics {
  std::string name;  ///< "Fair", "Good", "VeryGood"
  int min_score = 0;  ///< 2, 3, 4: a clip is positive for an annotator when its score >= this
  double map = 0;     ///< mean AP over (query, annotator)
  double hit1 = 0;    ///< mean HIT@1 over queries
};

struct QvMetrics {
  bool has_mr = false;
  bool has_hd = false;
  std::vector<QvBucketMetrics> buckets;      ///< full, long, middle, short (JSON key order)
  std::vector<QvHighlightMetrics> highlight;  ///< Fair, Good, VeryGood
};

/// Computes every metric the official evaluator reports. Throws FormatError when a
/// prediction has an unknown qid (naming the submission line), when a GT query has no
/// prediction (naming the GT line), or when HD is requested but a GT line lacks saliency.
QvMetrics evaluate_qvhighlights(const QvGroundTruthFile& gt, const QvPredictionFile& pred);

/// The official output object: "brief", then "HL-min-Fair", "HL-min-Good",
/// "HL-min-VeryGood", "full", "long", "middle", "short" (only the parts evaluated, as
/// the official code). Values are 100 * fraction formatted with `decimals` digits then
/// re-read (2 = official; 10 = the *_unrounded.json fixtures).
nlohmann::ordered_json qvhighlights_metrics_json(const QvMetrics& metrics, int decimals = 2);

}  // namespace sfvu::grounding
