// sfvu ground --model DIR --query Q [--query Q2 ...] VIDEO... [--out FILE.jsonl] [--plot FILE.png]
//              [--preset sf-llava|default] [--slow-fps F --fast-fps F ...]
//
// One JSON line per (video, query):
//   {"video", "query", "duration", "clip_seconds", "moments": [[start, end, score], ...], "saliency": [...]}
// moments ranked best first, in seconds; saliency one value per clip of --clip-seconds.
// A video that fails gives {"video", "error"} and the batch goes on (exit 3 at the end).
#include <cmath>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "grounding_plot.h"
#include "pipeline_options.h"
#include "sfvu/base/error.h"
#include "sfvu/base/log.h"
#include "video_batch.h"

namespace sfvu::cli {
namespace {

namespace fs = std::filesystem;

// 0.7, not 0.69999999999999996, in --help.
std::string short_number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

json ground_line(const std::string& video, const std::string& query, const grounding::GroundingResult& g) {
  json moments = json::array();
  for (const auto& m : g.moments) moments.push_back({m.start_seconds, m.end_seconds, m.score});
  return json{{"video", video},       {"query", query},     {"duration", g.duration_seconds},
              {"clip_seconds", g.clip_seconds}, {"moments", moments}, {"saliency", g.saliency}};
}

// Up to `n` slow frames (evenly chosen), about 96 px tall, for the plot's strip. A second,
// sparse decode: the session may come from the token cache, which keeps tokens, not pixels.
std::vector<PlotThumbnail> thumbnails(const grounding::VideoSession& s, const decode::DecoderOptions& dec, size_t n) {
  const auto& pts = s.tokens().slow_pts_seconds;
  std::vector<double> times;
  for (size_t k = 0; k < std::min(n, pts.size()); ++k) times.push_back(pts[k * pts.size() / std::min(n, pts.size())]);
  if (times.empty()) return {};
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

// FILE.png for one (video, query); FILE-<video stem>-q<k>.png when there are several.
std::string plot_path(const std::string& plot, const std::string& video, size_t query, bool several) {
  if (!several) return plot;
  fs::path p(plot);
  return (p.parent_path() / (p.stem().string() + "-" + fs::path(video).stem().string() + "-q" + std::to_string(query) +
                             p.extension().string()))
      .string();
}

}  // namespace

int cmd_ground(const Args& args) {
  po::options_description desc("ground options");
  desc.add_options()("query", po::value<std::vector<std::string>>()->required(), "text query (repeatable)")
      ("video", po::value<std::vector<std::string>>(), "video files")
      ("out", po::value<std::string>()->default_value(""), "JSON lines file (default: stdout)")
      ("plot", po::value<std::string>(), "PNG of the saliency curve, moments and slow-frame thumbnails "
                                         "(several videos/queries: FILE-<video>-q<k>.png)")
      ("max-moments", po::value<int64_t>()->default_value(grounding::MomentOptions{}.max_moments), "moments per query")
      ("nms-iou", po::value<double>()->default_value(grounding::MomentOptions{}.nms_iou, short_number(grounding::MomentOptions{}.nms_iou)),
       "NMS IoU threshold")
      ("quiet,q", "no progress on stderr");
  add_pipeline_options(desc);
  po::positional_options_description pos;
  pos.add("video", -1);
  po::variables_map vm;
  if (!parse_args("ground", "--model DIR --query Q [--query Q2 ...] VIDEO... [--out FILE.jsonl] [--plot FILE.png]", args,
                  desc, pos, vm))
    return 0;
  const auto queries = vm["query"].as<std::vector<std::string>>();
  const auto videos = vm.count("video") ? vm["video"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (videos.empty()) throw UsageError("ground: give at least one video");
  grounding::PipelineOptions po_ = pipeline_options(vm);
  po_.head.moments.max_moments = vm["max-moments"].as<int64_t>();
  po_.head.moments.nms_iou = vm["nms-iou"].as<double>();
  auto pipeline = load_pipeline(vm, po_);
  JsonLinesOut out(vm["out"].as<std::string>());
  const bool several_plots = videos.size() * queries.size() > 1;
  return run_video_batch("ground", *pipeline, videos, out, !vm.count("quiet"), [&](const grounding::VideoSession& s) {
    std::vector<PlotThumbnail> thumbs;
    if (vm.count("plot")) thumbs = thumbnails(s, po_.decoder, 24);
    for (size_t q = 0; q < queries.size(); ++q) {
      grounding::GroundingResult g = s.ground(queries[q]);
      out.write(ground_line(s.video(), queries[q], g));
      if (!vm.count("plot")) continue;
      GroundingPlot plot{s.video(), queries[q], g.duration_seconds, g.clip_seconds, g.saliency, {}, thumbs};
      for (const auto& m : g.moments) plot.moments.push_back({m.start_seconds, m.end_seconds, m.score});
      const std::string path = plot_path(vm["plot"].as<std::string>(), s.video(), q, several_plots);
      write_grounding_plot(path, plot);
      log_message(LogLevel::kInfo, "plot: " + path);
    }
  });
}

}  // namespace sfvu::cli
