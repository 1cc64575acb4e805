#include "session_plot.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace sfvu::cli {

namespace fs = std::filesystem;

std::vector<PlotThumbnail> session_thumbnails(const grounding::VideoSession& s, const decode::DecoderOptions& dec,
                                              size_t n) {
  const auto& pts = s.tokens().slow_pts_seconds;
  std::error_code ec;
  if (pts.empty() || n == 0 || !fs::is_regular_file(s.video(), ec)) return {};
  const size_t k_max = std::min(n, pts.size());
  std::vector<double> times;
  for (size_t k = 0; k < k_max; ++k) times.push_back(pts[k * pts.size() / k_max]);
  decode::VideoReader reader(decode::Source::path(s.video()), dec);
  const auto& v = reader.info().video;
  const int h = 96, w = std::max(2, int(std::lround(96.0 * v.width / std::max(1, v.height))) & ~1);
  auto result = reader.read({{decode::SamplingPlan::at(times), decode::FrameFormat{w, h, decode::ResizeMode::kStretch}}});
  std::vector<PlotThumbnail> out;
  const auto& b = result.streams[0];
  for (int64_t i = 0; i < b.size(); ++i) {
    PlotThumbnail t{b.pts_seconds[size_t(i)], b.width, b.height, {}};
    t.rgb.assign(b.frame(i), b.frame(i) + size_t(b.width) * b.height * 3);
    out.push_back(std::move(t));
  }
  return out;
}

void write_result_plot(const std::string& png_path, const std::string& video, const std::string& query,
                       const grounding::GroundingResult& g, const std::vector<PlotThumbnail>& thumbnails) {
  GroundingPlot plot{video, query, g.duration_seconds, g.clip_seconds, g.saliency, {}, thumbnails};
  for (const auto& m : g.moments) plot.moments.push_back({m.start_seconds, m.end_seconds, m.score});
  write_grounding_plot(png_path, plot);
}

std::string path_from_out(const std::string& file, const std::string& out) {
  if (out.empty()) return fs::absolute(file).lexically_normal().string();
  return fs::absolute(file).lexically_normal().lexically_relative(fs::absolute(out).parent_path()).string();
}

}  // namespace sfvu::cli
