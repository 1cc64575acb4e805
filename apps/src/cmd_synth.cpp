#include <filesystem>
#include <iostream>
#include <sstream>
#include <tuple>

#include "cli_common.h"
#include "commands.h"
#include "sfvu/base/error.h"
#include "sfvu/grounding/synth.h"

namespace sfvu::cli {
namespace {

double parse_seconds(const std::string& text) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) throw UsageError("synth: --seconds: '" + text + "' is not a number");
  return v;
}

// "20-40" -> {20, 40}; "30" -> {30, 30}.
std::pair<double, double> parse_seconds_range(const std::string& text) {
  const size_t dash = text.find('-', 1);
  if (dash == std::string::npos) {
    const double v = parse_seconds(text);
    return {v, v};
  }
  return {parse_seconds(text.substr(0, dash)), parse_seconds(text.substr(dash + 1))};
}

std::string format_seconds(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

// sfvu synth --out DIR --videos N --seed S: the synthetic grounding + QA benchmark
// (sfvu/grounding/synth.h). Prints a one-line JSON summary.
int cmd_synth(const Args& args) {
  const grounding::SynthOptions defaults;
  po::options_description desc("synth options");
  desc.add_options()("out", po::value<std::string>()->required(), "output directory")
      ("videos", po::value<int64_t>()->required(), "number of videos (1..10000)")
      ("extra-queries", "training splits: also annotate the scene's other events (same videos)")
      ("seed", po::value<int64_t>()->required(), "dataset seed (>= 0); a video depends only on seed, index, options")
      ("size", po::value<int>()->default_value(defaults.size), "frame width = height, pixels (even, 64..512)")
      ("seconds", po::value<std::string>()->default_value(format_seconds(defaults.min_seconds) + "-" +
                                                           format_seconds(defaults.max_seconds)),
       "video duration range A-B (drawn uniformly per video) or one number, seconds (20..150)")
      ("fps", po::value<int>()->default_value(defaults.fps), "frames per second")
      ("jobs", po::value<int>()->default_value(0), "videos generated in parallel; 0 = hardware threads")
      ("force", "overwrite a dataset already in --out")
      ("quiet", "no progress on stderr");
  po::positional_options_description pos;
  po::variables_map vm;
  if (!parse_args("synth", "--out DIR --videos N --seed S [options]", args, desc, pos, vm)) return 0;

  grounding::SynthOptions options;
  options.size = vm["size"].as<int>();
  std::tie(options.min_seconds, options.max_seconds) = parse_seconds_range(vm["seconds"].as<std::string>());
  options.fps = vm["fps"].as<int>();
  options.extra_queries = vm.count("extra-queries") > 0;
  grounding::validate(options);
  grounding::SynthDatasetOptions dataset;
  dataset.n_videos = vm["videos"].as<int64_t>();
  dataset.seed = vm["seed"].as<int64_t>();
  dataset.jobs = vm["jobs"].as<int>();
  dataset.overwrite = vm.count("force") > 0;
  if (dataset.n_videos < 1 || dataset.n_videos > grounding::kSynthMaxVideos)
    throw UsageError("synth: --videos must be in [1, " + std::to_string(grounding::kSynthMaxVideos) + "]");
  if (dataset.seed < 0 || dataset.seed > grounding::kSynthMaxSeed)
    throw UsageError("synth: --seed must be in [0, " + std::to_string(grounding::kSynthMaxSeed) + "]");
  if (dataset.jobs < 0) throw UsageError("synth: --jobs must be >= 0");
  const std::string out = vm["out"].as<std::string>();
  std::error_code ec;
  if (!dataset.overwrite && std::filesystem::exists(out + "/annotations.jsonl", ec))
    throw UsageError("synth: " + out + " already holds a dataset (annotations.jsonl); use --force to overwrite it");

  grounding::SynthSummary s;
  {
    ProgressReporter reporter("synth " + out, !vm.count("quiet"));  // ends its line before the summary
    s = grounding::write_synth_dataset(out, dataset, options, reporter.callback());
  }
  std::cout << json{{"out", s.out_dir},
                    {"videos", s.videos},
                    {"queries", s.queries},
                    {"qa", s.qa},
                    {"seconds_of_video", s.seconds_of_video}}
                   .dump()
            << std::endl;
  return 0;
}

}  // namespace sfvu::cli
