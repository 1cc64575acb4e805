// sfvu ground --model DIR --query Q [--query Q2 ...] (VIDEO|DIR|PATTERN)... [--list FILE]
//              [--out FILE.jsonl [--resume]] [--plot FILE.png] [--shard I/N] [--jobs N]
//              [--preset sf-llava|default] [--slow-fps F --fast-fps F ...]
//
// One JSON line per (video, query):
//   {"video", "query", "duration", "clip_seconds", "moments": [[start, end, score], ...], "saliency": [...]
//    (, "plot": PNG path relative to the --out file's folder)}
// moments ranked best first, in seconds; saliency one value per clip of --clip-seconds.
// A video that fails gives {"video", "error"} and the batch goes on (exit 3 at the end).
// The batch machinery (inputs, --resume, --shard, prefetch, progress) is video_batch.h's.
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>

#include "commands.h"
#include "pipeline_options.h"
#include "session_plot.h"
#include "sfvu/base/error.h"
#include "sfvu/pathways/video_tokens.h"
#include "video_batch.h"

namespace sfvu::cli {
namespace {

namespace fs = std::filesystem;

json ground_line(const std::string& video, const std::string& query, const grounding::GroundingResult& g) {
  json moments = json::array();
  for (const auto& m : g.moments) moments.push_back({m.start_seconds, m.end_seconds, m.score});
  return json{{"video", video},       {"query", query},     {"duration", g.duration_seconds},
              {"clip_seconds", g.clip_seconds}, {"moments", moments}, {"saliency", g.saliency}};
}

// FILE.png for one (video, query) when there is one of each; FILE-<video stem>-q<k>.png when
// there are several (with 8 hex digits of the path's hash when two videos share a stem).
std::string plot_path(const std::string& plot, const std::string& video, size_t query, bool several, bool shared_stem) {
  if (!several) return plot;
  fs::path p(plot);
  std::string stem = fs::path(video).stem().string();
  if (shared_stem) stem += "-" + pathways::stable_hash_hex(video).substr(0, 8);
  return (p.parent_path() / (p.stem().string() + "-" + stem + "-q" + std::to_string(query) + p.extension().string()))
      .string();
}

}  // namespace

int cmd_ground(const Args& args) {
  po::options_description desc("ground options");
  desc.add_options()("query", po::value<std::vector<std::string>>()->required(), "text query (repeatable)")
      ("video", po::value<std::vector<std::string>>(), "video files, folders (recursive) or glob patterns")
      ("out", po::value<std::string>()->default_value(""), "JSON lines file (default: stdout)")
      ("plot", po::value<std::string>(), "PNG of the saliency curve, moments and slow-frame thumbnails; several "
                                         "videos/queries: FILE-<video>-q<k>.png; each line gets its \"plot\" path")
      ("max-moments", po::value<int64_t>()->default_value(grounding::MomentOptions{}.max_moments), "moments per query")
      ("nms-iou", po::value<double>()->default_value(grounding::MomentOptions{}.nms_iou, short_number(grounding::MomentOptions{}.nms_iou)),
       "NMS IoU threshold")
      ("quiet,q", "no progress on stderr");
  add_batch_options(desc);
  add_pipeline_options(desc);
  po::positional_options_description pos;
  pos.add("video", -1);
  po::variables_map vm;
  if (!parse_args("ground",
                  "--model DIR --query Q [--query Q2 ...] (VIDEO|DIR|PATTERN)... [--list FILE] [--out FILE.jsonl] "
                  "[--resume] [--plot FILE.png] [--shard I/N] [--jobs N]",
                  args, desc, pos, vm))
    return 0;
  const auto queries = vm["query"].as<std::vector<std::string>>();
  BatchOptions batch = batch_options(vm, "ground");
  const auto videos = batch_inputs(vm, vm.count("video") ? vm["video"].as<std::vector<std::string>>() : std::vector<std::string>{},
                                   "ground", batch.progress);
  grounding::PipelineOptions po_ = pipeline_options(vm);
  po_.head.moments.max_moments = vm["max-moments"].as<int64_t>();
  po_.head.moments.nms_iou = vm["nms-iou"].as<double>();
  const std::string out_path = vm["out"].as<std::string>();
  JsonLinesOut out(out_path, vm.count("resume") > 0, key_by_video("query"), "ground");

  // Per video, the queries still to answer (all of them unless resuming).
  std::vector<BatchItem> items;
  std::vector<std::vector<size_t>> pending;
  for (const auto& v : videos) {
    std::vector<size_t> qs;
    for (size_t q = 0; q < queries.size(); ++q)
      if (!out.has(video_key(v, queries[q]))) qs.push_back(q);
    if (qs.empty()) {
      ++batch.skipped;
      continue;
    }
    items.push_back({v, v, ""});
    pending.push_back(std::move(qs));
  }
  if (items.empty()) {
    if (batch.progress) std::cerr << "sfvu ground: nothing to do: " << out.name() << " has every result\n";
    return 0;
  }
  std::map<std::string, int> stems;
  for (const auto& v : videos) ++stems[fs::path(v).stem().string()];
  const bool several_plots = videos.size() * queries.size() > 1;
  if (vm.count("plot") && !fs::path(vm["plot"].as<std::string>()).parent_path().empty())
    make_dir(fs::path(vm["plot"].as<std::string>()).parent_path().string());

  auto pipeline = load_pipeline(vm, po_);
  const BatchSummary sum = run_video_batch(
      *pipeline, items, batch,
      [&](size_t i, const grounding::VideoSession& s) {
        std::vector<PlotThumbnail> thumbs;
        if (vm.count("plot")) thumbs = session_thumbnails(s, po_.decoder);
        std::vector<json> lines;
        for (size_t q : pending[i]) {
          grounding::GroundingResult g = s.ground(queries[q]);
          json line = ground_line(s.video(), queries[q], g);
          if (vm.count("plot")) {
            const std::string path = plot_path(vm["plot"].as<std::string>(), s.video(), q, several_plots,
                                               stems[fs::path(s.video()).stem().string()] > 1);
            write_result_plot(path, s.video(), queries[q], g, thumbs);
            line["plot"] = path_from_out(path, out_path);
          }
          lines.push_back(std::move(line));
        }
        out.write(lines);  // a video's lines together: --resume never sees half a video
      },
      [&](size_t i, const std::string& error) { out.write(json{{"video", items[i].name}, {"error", error}}); });
  return sum.exit_code();
}

}  // namespace sfvu::cli
