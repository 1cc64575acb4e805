// sfvu/grounding/annotations.h: the queries of a grounding benchmark file, read for prediction
// (`sfvu predict --task grounding`), with the qids the evaluators use.
//
// Usage:
//   auto queries = sfvu::grounding::load_grounding_queries("highlight_test_release.jsonl");
//   for (const auto& q : queries.queries) ...  // q.qid, q.query, q.vid, q.duration_seconds
//
// Formats (by extension, as load_charades_gt decides):
//   - `.jsonl` / `.json`: one query per line, {"qid": int, "query": str, "vid": str,
//     "duration": seconds (optional), ...}; other fields (relevant_windows, saliency) are
//     ignored, so the QVHighlights releases (test without windows) and the Charades-STA
//     Moment-DETR jsonl both read.
//   - anything else: the Charades-STA `.txt` (`VID START END##SENTENCE`), read by
//     load_charades_gt itself, so qid = 12404 + 0-based line index exactly as
//     `sfvu eval charades-sta` numbers the GT. Lines with start >= end are skipped (the
//     evaluator drops them too) and counted in n_skipped. Durations are unknown (-1).
//
// Errors: FormatError naming file, line and field (missing/mistyped field, duplicate qid, no
// query at all); IoError when the file cannot be read.
// Thread safety: pure function.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sfvu::grounding {

struct GroundingQuery {
  int64_t qid = 0;
  std::string query;
  std::string vid;               ///< video id: the file is <vid>.<extension>
  double duration_seconds = -1;  ///< from the annotation; -1 when it has none
};

struct GroundingQueries {
  std::string path;
  std::vector<GroundingQuery> queries;  ///< file order; qids are unique
  int64_t n_skipped = 0;                ///< Charades .txt lines with start >= end
};

GroundingQueries load_grounding_queries(const std::string& path);

}  // namespace sfvu::grounding
