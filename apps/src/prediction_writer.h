// The files of `sfvu predict`: the submission JSON lines (resumable: whole lines, one write and
// flush per video), its errors side file, and the folder of videos looked up by id.
#pragma once

#include <cstdint>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "cli_common.h"
#include "sfvu/grounding/mcqa_eval.h"
#include "sfvu/grounding/video_head.h"
#include "video_batch.h"

namespace sfvu::cli {

/// The resume key of a prediction: its qid as text (12 and "12" alike), or, for a QA question
/// without an id (`qid` empty), video + '\x1f' + question.
std::string prediction_key(const std::string& qid, const std::string& video, const std::string& question);

/// A qa prediction line: {"qid", "vid", "answer_index", "probabilities"}; a question without
/// an id gets "video" and "question" instead of "qid" (what `sfvu eval mcqa` matches it by).
json qa_prediction_line(const grounding::McqaQuestion& q, const grounding::QaResult& r);

/// The submission file PRED.jsonl.
/// Without `resume`, an existing non-empty file is a UsageError ("exists; pass --resume or
/// remove it"); it is then created (truncated). With `resume`, an existing file keeps its
/// complete lines: a torn last line (no final newline: the run was killed mid-write) is cut
/// off the file, the keys of the others are remembered (has()), and new lines are appended.
/// A complete line that is not a JSON object is a FormatError naming the file and line.
class PredictionFile {
 public:
  PredictionFile(const std::string& path, bool resume);
  /// A line with this key is already in the file (from an earlier run).
  bool has(const std::string& key) const { return out_.has(key); }
  int64_t n_resumed() const { return out_.n_resumed(); }
  /// Appends the lines in one write and flushes. Throws IoError naming the file.
  void append(const std::vector<json>& lines) { out_.write(lines); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  JsonLinesOut out_;  ///< every line of the submission has a key (failures go to PredictionErrors)
};

/// PRED.jsonl.errors.jsonl: one {"vid", "qids", "error"} line per failed video, so the
/// submission stays valid for the evaluators. A file left by an earlier run is removed at
/// construction (its videos are retried); the file is created at the first failure.
class PredictionErrors {
 public:
  explicit PredictionErrors(const std::string& submission_path);
  void add(const std::string& vid, const json& qids, const std::string& error);
  int64_t count() const { return count_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream file_;
  int64_t count_ = 0;
};

/// The video files of one folder by id: `<vid>.<extension>`, listed once, not recursive.
class VideoFolder {
 public:
  /// Throws UsageError when `dir` is not a readable folder.
  explicit VideoFolder(const std::string& dir);
  /// The path of `vid`'s file; IoError "no file <vid>.* in DIR" when there is none. When
  /// several files share the stem, the most common video extension wins (mp4, mkv, webm, ...,
  /// then name order) and a warning names the choice (once per id).
  std::string find(const std::string& vid) const;

 private:
  std::string dir_;
  std::map<std::string, std::vector<std::string>> names_by_stem_;  ///< file names, best first
};

}  // namespace sfvu::cli
