// sfvu/grounding/mcqa_eval.h: multiple-choice video QA accuracy, overall and per question type
// (issue 6).
//
// Usage:
//   auto gt = sfvu::grounding::load_mcqa_gt("val.csv");          // or gt.jsonl
//   auto pred = sfvu::grounding::load_mcqa_predictions("qa.jsonl", gt);
//   nlohmann::ordered_json report = sfvu::grounding::evaluate_mcqa(gt, pred);
//   report["brief"]["accuracy"];                                   // percent
//
// GT, either
//   - our jsonl (any extension but .csv), one question per line:
//       {"qid": optional (string or integer), "video" (or "vid"): "...", "question": "...",
//        "options": ["...", ...] (at least 2), "answer": 0-based index, "type": optional string,
//        "relevant_windows": optional [[start, end], ...] seconds, when the asked event happens
//        (grounded QA, as NExT-GQA pairs questions with moments; training uses it, scoring not)}
//   - a NExT-QA CSV (header row; columns video, question, answer, a0..a4, type; extra
//     columns such as qid/frame_count are allowed). `answer` is the 0-based option index;
//     options are the non-empty a0..a9 columns present. When a `qid` column exists the
//     question's id is "<video>_<qid>" (NExT-QA's own result key).
// Predictions (our qa.jsonl), one JSON object per answered question:
//   {"qid": ..., "answer_index": int, ...}  or  {"video": ..., "question": ..., "answer_index": int, ...}
//   "qid" wins when present (compared as a string: 12 and "12" are the same). Other fields
//   (scores, the model's text) are ignored.
//
// Errors (FormatError naming file, line and field): malformed JSON/CSV, missing field,
// answer/answer_index not an integer or outside the options, duplicate GT id, a prediction
// for an unknown question or matching several GT questions by video+question, a duplicate
// prediction, and a GT question without a prediction (names the first few missing ids).
//
// Report: {"brief": {"accuracy": %, "<type>": % ...}, "n_questions", "n_correct",
// "per_type": {"<type>": {"correct", "total", "accuracy"}}}. Percentages are rounded to
// `round_digits` (2, as NExT-QA prints) in "brief" and exact in "per_type". Questions without
// a type are counted in "accuracy" only. When every type is a NExT-QA type (CW CH TN TC TP DL
// DC DO), the groups "C" (CW CH), "T" (TN TC TP) and "D" (DL DC DO) are added to "brief".
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sfvu::grounding {

struct McqaQuestion {
  std::string id;  ///< qid (as text), or empty when the GT has none
  std::string video;
  std::string question;
  std::vector<std::string> options;
  int answer_index = 0;  ///< -1 when the file has no answer (only with require_answer = false)
  std::string type;  ///< empty when unknown
  std::vector<std::pair<double, double>> windows;  ///< "relevant_windows" (seconds), empty when absent
};

struct McqaGroundTruth {
  std::string path;
  std::vector<McqaQuestion> questions;  ///< file order
};

/// Predicted option index for each GT question (same order as `gt.questions`).
struct McqaPredictions {
  std::vector<int> answer_index;
};

/// `require_answer` false reads questions to predict (`sfvu predict --task qa`): a missing or
/// null "answer" (jsonl), or a missing column / empty cell (CSV), gives answer_index -1.
McqaGroundTruth load_mcqa_gt(const std::string& path, bool require_answer = true);
McqaPredictions load_mcqa_predictions(const std::string& path, const McqaGroundTruth& gt);

struct McqaEvalOptions {
  int round_digits = 2;
};

nlohmann::ordered_json evaluate_mcqa(const McqaGroundTruth& gt, const McqaPredictions& pred,
                                     const McqaEvalOptions& options = {});

}  // namespace sfvu::grounding
