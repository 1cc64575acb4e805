// sfvu/grounding/charades_eval.h: Charades-STA moment-retrieval metrics (issue 6) with the
// numbers of the three common evaluators, as specified in shared/specs/charades_sta_metrics.md.
//
// Usage:
//   auto gt = sfvu::grounding::load_charades_gt("charades_sta_test.txt", "Charades_v1_test.csv");
//   auto preds = sfvu::grounding::load_charades_predictions("preds.jsonl", gt);
//   sfvu::grounding::CharadesEvalOptions opt;             // univtg, 2 decimals
//   nlohmann::ordered_json report = sfvu::grounding::evaluate_charades(gt, preds, opt);
//   report["brief"]["R1@0.5"];                             // percent
//
// Inputs
//   GT, either
//   - the 2D-TAN/VSLNet `.txt` (`VID START END##SENTENCE`), qid = first_qid + 0-based line
//     index (line/lighthouse numbering; 12404 for the test split), plus the Charades
//     `Charades_v1_*.csv` (columns `id`, `length`) for durations. Without the CSV the GT is
//     used RAW (not clipped) and `gt_clipped` is false in the report; or
//   - the Moment-DETR jsonl {"qid", "duration", "relevant_windows": [[s, e]]} (exactly one
//     window per query, as in Charades-STA; lighthouse's copy is already clipped).
//   Whenever a duration is known the GT end is clipped: end := min(end, duration) (all three
//   evaluators do this). `.txt` lines with start >= end after clipping are dropped and counted
//   (2D-TAN and lighthouse drop the same 4 train lines); in the jsonl they are an error.
//   Predictions: Moment-DETR jsonl {"qid", "pred_relevant_windows": [[s, e(, score)], ...]},
//   rank = list order. Score defaults to 0 when absent (only mAP uses it). Other fields are
//   ignored.
//
// Bad input (documented choices; the official code crashes or asserts on all of these):
//   FormatError naming file, line and field for: malformed JSON, missing field, unknown qid,
//   duplicate qid, empty prediction list, non-numeric / non-finite / reversed (s > e) window.
//   A GT query without a prediction line: FormatError naming the GT file and the qid.
//
// Conventions (all units percent, all IoUs in double):
//   kUnivtg (default): UniVTG/Moment-DETR eval.py. R1/R5 at IoU >= t, raw list order, no
//     NMS, mIoU, VOC mAP over the top 10 at 0.5:0.05:0.95, length buckets; every number
//     rounded as Python `f"{x:.Nf}"` with N = round_digits (2 as printed by UniVTG). The
//     report's "univtg" member has UniVTG's own layout (brief/full/long/middle/short).
//   k2dtan: 2D-TAN eval.py. NMS (overlap > nms_threshold removed, keep 5) on the list order,
//     then R@n at IoU > t (strict). mIoU = first window. Hull IoU without zero guard (NaN ->
//     null in JSON).
//   kVslnet: VSLNet runner_utils.py. Top-1 only, IoU >= t, IoU clamped at 0. R5 is null.
//   "brief" always holds R1@0.3/0.5/0.7, R5@0.3/0.5/0.7, mIoU and mAP. mAP is UniVTG's
//   definition for every convention (the other two evaluators define none), computed on the
//   raw list. For 2dtan/vslnet, brief values are rounded to round_digits (as they print 2
//   decimals) and the "unrounded" member holds the exact values.
//
// Thread safety: pure functions; no shared state.
#pragma once

#include <cstdint>
#include <istream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sfvu::grounding {

enum class CharadesConvention { kUnivtg, k2dtan, kVslnet };

/// "univtg" | "2dtan" | "vslnet" -> convention; anything else throws UsageError.
CharadesConvention parse_charades_convention(const std::string& name);
std::string to_string(CharadesConvention c);

struct CharadesQuery {
  int64_t qid = 0;
  std::string vid;
  std::string query;            ///< the sentence (jsonl: "query"; empty when absent)
  double start_seconds = 0;
  double end_seconds = 0;       ///< after clipping when gt_clipped
  double duration_seconds = -1;  ///< -1 when unknown
};

struct CharadesGroundTruth {
  std::string path;
  std::vector<CharadesQuery> queries;  ///< file order
  bool gt_clipped = false;             ///< end clipped to the duration
  int64_t n_clipped = 0;               ///< windows whose end moved
  int64_t n_dropped = 0;               ///< .txt lines with start >= end after clipping
  std::vector<int64_t> dropped_qids;
};

struct CharadesWindow {
  double start_seconds = 0;
  double end_seconds = 0;
  double score = 0;
};

/// Predictions by qid, each list in submitted (rank) order.
using CharadesPredictions = std::map<int64_t, std::vector<CharadesWindow>>;

/// Reads the GT: `.jsonl` by extension, otherwise the `.txt` format. `durations_csv` may be
/// empty (txt: raw GT; jsonl: ignored, the record's duration is used).
CharadesGroundTruth load_charades_gt(const std::string& path, const std::string& durations_csv = "",
                                     int64_t first_qid = 12404);

/// Charades_v1 CSV (quoted, multi-line fields allowed) -> {id: length}.
std::map<std::string, double> load_charades_durations(const std::string& csv_path);

/// Reads and validates the prediction jsonl against `gt` (see "Bad input").
CharadesPredictions load_charades_predictions(const std::string& path, const CharadesGroundTruth& gt);

struct CharadesEvalOptions {
  CharadesConvention convention = CharadesConvention::kUnivtg;
  int round_digits = 2;         ///< decimals of the reported numbers (UniVTG prints 2)
  double nms_threshold = 0.5;   ///< 2dtan only (Charades configs: 0.5; 1.0 disables NMS)
};

/// The report: {"brief": {...}, "convention", "gt_clipped", "n_queries", ...}.
nlohmann::ordered_json evaluate_charades(const CharadesGroundTruth& gt, const CharadesPredictions& preds,
                                         const CharadesEvalOptions& options = {});

// Building blocks, exposed for tests.
/// IoU over the hull: inter / (max(e) - min(s)); 0 when the hull is 0.
double charades_hull_iou(double ps, double pe, double gs, double ge);
/// One CSV record (RFC 4180: quoted fields may hold commas, "" and newlines); false at end of
/// input. `line_no` counts the physical lines consumed. Shared with the MCQA CSV reader.
bool read_csv_record(std::istream& in, std::vector<std::string>& fields, int64_t& line_no);
/// numpy's pairwise float64 sum (np.add.reduce on a contiguous 1-D array).
double numpy_pairwise_sum(const double* x, int64_t n);

}  // namespace sfvu::grounding
