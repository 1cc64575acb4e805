// What a batch command runs over: the inputs as the user named them (files, folders, glob
// patterns, --list files) expanded into a list of videos, and the share of that list this
// process takes (--shard I/N, or a Slurm array task's).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sfvu::cli {

/// Video file extensions (lower case, with the dot), most common first: what a folder is
/// searched for, and the preference order when several files share a video id.
const std::vector<std::string>& video_extensions();
/// `name` ends in one of video_extensions() (case-insensitive).
bool has_video_extension(const std::string& name);

/// Expands the inputs, in the order given, each path once (first occurrence kept):
///   - a folder: every file under it (recursively, symlinked folders not followed) with a
///     video extension, in name order;
///   - a pattern with * ? or [ that is not an existing path: glob(3), matches in name order
///     (a matched folder is expanded as above);
///   - `list_file` (may be empty): one input per line, expanded the same way; blank lines and
///     lines starting with '#' are skipped; relative paths are taken from the current folder
///     (as `find . -name '*.mp4' > list.txt` writes them);
///   - anything else (a file, a URL, a missing path) as it is: a missing file then fails as an
///     item of the batch, with its error line, and the others go on.
/// A folder or pattern that yields no video is a warning. Throws UsageError when `list_file`
/// cannot be read, or when nothing at all is left.
std::vector<std::string> expand_inputs(const std::vector<std::string>& args, const std::string& list_file);

/// This process's share of a batch: the inputs whose stable hash (FNV-1a of the path as
/// expanded) is `index` modulo `count`. Deterministic across machines and runs, and
/// independent of the order and number of the other inputs, so a job array covers a
/// collection exactly once.
struct Shard {
  int64_t index = 0, count = 1;
  std::string origin;  ///< "--shard", "SLURM_ARRAY_TASK_ID", or "" when not sharded
  bool owns(const std::string& input) const;
  bool active() const { return count > 1; }
};

/// `text` "I/N" (0 <= I < N) from --shard; when empty, a Slurm array job's
/// SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT (with SLURM_ARRAY_TASK_MIN and _STEP, so
/// `--array=1-10` and `--array=0-18:2` work too); otherwise 0/1 (everything). Throws
/// UsageError naming the option or the variable when malformed.
Shard resolve_shard(const std::string& text);

/// `inputs` reduced to `shard`'s share (order kept); a line on stderr says which share when
/// sharded and `verbose`.
std::vector<std::string> apply_shard(const std::vector<std::string>& inputs, const Shard& shard,
                                     const std::string& command, bool verbose);

}  // namespace sfvu::cli
