// The per-video loop shared by `sfvu ground` and `sfvu qa`: open each video through the
// pipeline (cache or encode, with progress), hand the session to the command, turn a failure
// into one {"video", "error"} line and go on; JSON lines go to --out or stdout, whole and
// flushed; a summary on stderr at the end.
#pragma once

#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "sfvu/grounding/video_pipeline.h"

namespace sfvu::cli {

/// Exit code of a batch in which some items failed (0 when none did).
constexpr int kExitSomeFailed = 3;

class JsonLinesOut {
 public:
  /// `path` empty: stdout. Throws IoError naming the file.
  explicit JsonLinesOut(const std::string& path);
  void write(const json& line);

 private:
  std::ofstream file_;
  std::string path_;
};

struct BatchSummary {
  int64_t done = 0, failed = 0, cached = 0, frames = 0;
  double seconds = 0;
};

/// Runs `each` on a session per video; returns the exit code (0, or kExitSomeFailed).
/// UsageError from `each` (a bad option) stops the batch; any other exception fails the video.
int run_video_batch(const std::string& command, const grounding::VideoPipeline& pipeline,
                    const std::vector<std::string>& videos, JsonLinesOut& out, bool progress,
                    const std::function<void(const grounding::VideoSession&)>& each);

}  // namespace sfvu::cli
