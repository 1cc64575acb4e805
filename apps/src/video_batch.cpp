#include "video_batch.h"

#include <chrono>
#include <iomanip>
#include <iostream>

#include "sfvu/base/error.h"

namespace sfvu::cli {

JsonLinesOut::JsonLinesOut(const std::string& path) : path_(path) {
  if (path.empty()) return;
  file_.open(path, std::ios::out | std::ios::trunc);
  if (!file_) throw IoError(path + ": cannot open for writing");
}

void JsonLinesOut::write(const json& line) {
  // One write per line, flushed: a crash never leaves a torn line behind.
  const std::string text = line.dump() + "\n";
  std::ostream& os = path_.empty() ? std::cout : static_cast<std::ostream&>(file_);
  os.write(text.data(), std::streamsize(text.size()));
  os.flush();
  if (!os) throw IoError((path_.empty() ? std::string("stdout") : path_) + ": write failed");
}

int run_video_batch(const std::string& command, const grounding::VideoPipeline& pipeline,
                    const std::vector<std::string>& videos, JsonLinesOut& out, bool progress,
                    const std::function<void(const grounding::VideoSession&)>& each) {
  BatchSummary sum;
  const auto t0 = std::chrono::steady_clock::now();
  for (const std::string& video : videos) {
    try {
      ProgressReporter reporter(command + " " + video, progress);
      auto session = pipeline.open(video, reporter.callback());
      if (session->from_cache) ++sum.cached;
      sum.frames += session->stats.decode.frames_decoded;
      each(*session);
      ++sum.done;
    } catch (const UsageError&) {
      throw;
    } catch (const std::exception& e) {
      ++sum.failed;
      std::cerr << "sfvu: error: " << e.what() << "\n";
      out.write(json{{"video", video}, {"error", e.what()}});
    }
  }
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (progress || sum.failed)
    std::cerr << "sfvu " << command << ": " << sum.done << " done, " << sum.failed << " failed (" << sum.cached
              << " from the token cache), " << sum.frames << " frames decoded in " << std::fixed << std::setprecision(1)
              << sum.seconds << " s\n";
  return sum.failed ? kExitSomeFailed : 0;
}

}  // namespace sfvu::cli
