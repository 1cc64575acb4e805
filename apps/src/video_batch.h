// The batch machinery shared by `sfvu ground`, `qa`, `extract` and `predict`:
//   - JsonLinesOut: results as JSON lines (a file or stdout), each written whole and flushed,
//     resumable (--resume keeps the results of an earlier run and drops its failures);
//   - batch options (--list, --shard, --jobs, --no-overlap, --resume) and the items of a batch;
//   - run_batch(): every item in order, a failure recorded and the batch going on, progress
//     on stderr (a bar on a terminal, a line every few seconds otherwise), a summary at the end;
//   - run_video_batch(): the same over a video pipeline, with decoding of the next videos
//     overlapping inference on the current one (video_prefetch.h, Note [Batch prefetch]).
#pragma once

#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "batch_inputs.h"
#include "cli_common.h"
#include "sfvu/grounding/video_pipeline.h"

namespace sfvu::cli {

/// Exit code of a batch in which some items failed (0 when none did).
constexpr int kExitSomeFailed = 3;

/// The complete lines of an interrupted JSON lines file, for --resume. A torn last line (no
/// final newline: the run was killed mid-write) is cut off the file, with a warning. A
/// complete line that is not a JSON object is a FormatError naming the file and line. A
/// missing file gives no lines.
struct NumberedLine {
  int64_t line_no = 0;  ///< 1-based, in the file
  json line;
};
std::vector<NumberedLine> read_resumable_lines(const std::string& path, const std::string& command);

class JsonLinesOut {
 public:
  /// The resume key of a result line, or nullopt for a line to drop on resume (a failure).
  /// `line_no` (1-based in the file) is for error messages naming the line.
  using KeyOf = std::function<std::optional<std::string>(const json& line, int64_t line_no)>;

  /// `path` empty: stdout (resume is then a UsageError). Without `resume` the file is created
  /// (truncated). With `resume`, the lines an earlier run left (read_resumable_lines) with a
  /// key are kept and their keys remembered (has()); the others (failures: retried now) are
  /// removed from the file (atomic rewrite); new lines are appended. Throws IoError naming the file.
  JsonLinesOut(const std::string& path, bool resume = false, const KeyOf& key_of = {},
               const std::string& command = "sfvu");
  bool has(const std::string& key) const { return keys_.count(key) > 0; }
  int64_t n_resumed() const { return static_cast<int64_t>(keys_.size()); }
  /// One line: one write, flushed.
  void write(const json& line) { write(std::vector<json>{line}); }
  /// Several lines in one write, flushed (a video's lines stay together).
  void write(const std::vector<json>& lines);
  /// "stdout" or the path.
  std::string name() const { return path_.empty() ? "stdout" : path_; }

 private:
  std::ofstream file_;
  std::string path_;
  std::unordered_set<std::string> keys_;
};

/// The resume key of a result about `video` (and, for ground/qa, its query or question).
std::string video_key(const std::string& video, const std::string& second = "");
/// KeyOf for lines {"video", <field>, ...}: video_key(video, line[field]) (`field` empty: the
/// video alone). Failure lines and lines without those strings have none (they are redone).
JsonLinesOut::KeyOf key_by_video(const std::string& field = "");
/// KeyOf for per-video output files (extract, encode): video_key(video) while the file the
/// line's `file_field` names still exists (a deleted output is redone).
JsonLinesOut::KeyOf key_by_video_file(const std::string& file_field);

/// --list, --shard, --jobs, --no-overlap; --resume where the command supports it.
void add_batch_options(po::options_description& desc, bool with_resume = true);
/// The videos of a batch command from its positional inputs and --list, reduced to this
/// process's --shard (or Slurm array task).
std::vector<std::string> batch_inputs(const po::variables_map& vm, const std::vector<std::string>& positional,
                                      const std::string& command, bool verbose);

/// One unit of a batch: usually a video.
struct BatchItem {
  std::string name;    ///< how error lines and progress name it (the path, or predict's vid)
  std::string path;    ///< the video to open; empty when `error` says why there is none
  std::string error;   ///< a failure known before opening (e.g. no file for this vid)
};

struct BatchOptions {
  std::string command;   ///< "ground", ... (progress and summary lines)
  bool progress = true;
  int jobs = 1;          ///< decoder threads running ahead of inference (run_video_batch)
  bool overlap = true;   ///< false: each video decoded and encoded in one go on this thread
  int64_t skipped = 0;   ///< items left out before the run (--resume), for the summary
};
BatchOptions batch_options(const po::variables_map& vm, const std::string& command);

/// The items of commands writing one file per video, `out_dir`/<video stem><extension>: the
/// videos `out` does not have yet (the others are counted in `options.skipped`); a video whose
/// stem another video of the batch already took fails (its file would overwrite the other's).
std::vector<BatchItem> per_file_items(const std::vector<std::string>& videos, const JsonLinesOut& out,
                                      const std::string& out_dir, const std::string& extension, BatchOptions& options);

struct BatchSummary {
  int64_t done = 0, failed = 0, skipped = 0, cached = 0, frames = 0;
  double seconds = 0;
  int exit_code() const { return failed ? kExitSomeFailed : 0; }
};

/// Runs `work(i, progress)` on each item in order (items with an `error` fail without it);
/// `work` returns the frames it decoded. A thrown UsageError stops the batch (a bad option);
/// any other exception fails the item: `fail(i, message)` records it (an error line) and the
/// batch goes on. The error also goes to stderr. Prints the summary on stderr.
BatchSummary run_batch(const std::vector<BatchItem>& items, const BatchOptions& options,
                       const std::function<int64_t(size_t, const ProgressCallback&)>& work,
                       const std::function<void(size_t, const std::string&)>& fail);

/// run_batch() over a video pipeline: each item's session (from the token cache, or decoded
/// by the prefetch threads and encoded here) goes to `each`.
BatchSummary run_video_batch(const grounding::VideoPipeline& pipeline, const std::vector<BatchItem>& items,
                             const BatchOptions& options,
                             const std::function<void(size_t, const grounding::VideoSession&)>& each,
                             const std::function<void(size_t, const std::string&)>& fail);

}  // namespace sfvu::cli
