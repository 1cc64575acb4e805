// sfvu bench alignment --model DIR --data SPLIT [--videos N]
//
// What a trained video model's backbone sees, per query kind, before the fusion: for every
// query of a split (a folder with annotations.jsonl and videos/, as `sfvu synth` writes), the
// backbone alignment logits (Note [Backbone alignment]) of its video's slow frames and of its
// fast frames, and the detail probe's logits when the model has one (Note [Detail probe]).
// Two numbers per source and kind: the ranking AUC of the frames inside the query's windows
// against those outside (0.5 = blind), and how often the top frame lies inside ("top in"), next
// to the share of frames inside (what a random frame scores). The synthetic detail query
// names the dotted shape; when its slow AUC is no better than its fast one (the fast frames
// cannot show the dot), the backbone finds the shape, not the dot. For a model reading the
// fast frames' flow, one more line: the size of what its place norms read (Note [Flow share]).
#include <cmath>
#include <iostream>
#include <map>

#include "cli_common.h"
#include "commands.h"
#include "sfvu/base/error.h"
#include "sfvu/grounding/grounding_losses.h"
#include "sfvu/grounding/learned_model.h"
#include "sfvu/grounding/train_data.h"

namespace sfvu::cli {
namespace {
struct RankScore {
  double auc = 0, top_in = 0, chance = 0;
  int64_t n = 0;  ///< queries with frames both inside and outside their windows
  void add(const torch::Tensor& logits, const std::vector<double>& times, const std::vector<grounding::Window>& windows) {
    torch::Tensor s = logits.to(torch::kCPU, torch::kFloat64).contiguous();
    const double* p = s.data_ptr<double>();
    const std::vector<float> flags = grounding::inside_windows(windows, times);  // the trainer's labels
    std::vector<double> in, out;
    size_t best = 0;
    bool best_inside = false;
    for (size_t t = 0; t < times.size(); ++t) {
      const bool inside = flags[t] > 0.5f;
      (inside ? in : out).push_back(p[t]);
      if (t == 0 || p[t] > p[best]) best = t, best_inside = inside;
    }
    if (in.empty() || out.empty()) return;
    double pairs = 0;
    for (double a : in)
      for (double b : out) pairs += a > b ? 1.0 : a == b ? 0.5 : 0.0;
    auc += pairs / double(in.size() * out.size());
    top_in += best_inside;
    chance += double(in.size()) / double(times.size());
    ++n;
  }
  json to_json() const {
    if (n == 0) return json{{"queries", 0}};
    return json{{"auc", auc / n}, {"top_in", top_in / n}, {"inside_share", chance / n}, {"queries", n}};
  }
};

// Note [Flow share]: what the place norms of the fast timeline read (Note [Place flow], Note
// [Flow gain] in grounding/learned_model.cpp), per channel: the backbone's token, its change
// over +-motion_seconds (when the model joins it) and the 4 flow channels. A layer norm divides a place's channels by their
// joint spread, so the flow's share of that spread is what the gains start from.
struct PlaceInput {
  double token = 0, change = 0, flow = 0;  ///< sums of squares
  int64_t frames = 0, places = 0;
  int64_t token_channels = 0, change_channels = 0, flow_channels = 0;
  void add(const grounding::LearnedModelConfig& c, const grounding::VideoFeatures& f) {
    torch::NoGradGuard no_grad;
    torch::Tensor grid = f.fast.to(torch::kCPU, torch::kFloat64);
    const int64_t D = grid.size(3);
    const int64_t C = c.fusion.motion_seconds > 0 ? D : 0;  // the change's channels, as the model joins them
    torch::Tensor joined = C > 0 ? grounding::with_motion(grid, grounding::motion_steps(f.fast_seconds, c.fusion.motion_seconds)) : grid;
    joined = grounding::with_flow(joined, f.fast_flow.to(torch::kCPU, torch::kFloat64),
                                  grounding::motion_steps(f.fast_seconds, std::max(c.fusion.motion_seconds, 0.5)));
    token += joined.narrow(3, 0, D).pow(2).sum().item<double>();
    if (C > 0) change += joined.narrow(3, D, C).pow(2).sum().item<double>();
    flow += joined.narrow(3, D + C, joined.size(3) - D - C).pow(2).sum().item<double>();
    token_channels = D;
    change_channels = C;
    flow_channels = joined.size(3) - D - C;
    frames += grid.size(0);
    places += grid.size(0) * grid.size(1) * grid.size(2);
  }
  double flow_share() const { return flow / std::max(1e-30, token + change + flow); }
  json to_json() const {
    return json{{"token_rms", std::sqrt(token / double(places * token_channels))},
                {"change_rms", change_channels > 0 ? std::sqrt(change / double(places * change_channels)) : 0.0},
                {"flow_rms", std::sqrt(flow / double(places * std::max<int64_t>(1, flow_channels)))},
                {"flow_share", flow_share()}, {"frames", frames}};
  }
};

}  // namespace

int bench_alignment(const Args& args) {
  po::options_description desc("bench alignment options");
  desc.add_options()("model", po::value<std::string>()->required(), "trained video model folder (sfvu train)")
      ("data", po::value<std::string>()->required(), "split folder: annotations.jsonl and videos/")
      ("videos", po::value<int64_t>()->default_value(30), "videos of the split to read (0 = all)")
      ("quiet,q", "no progress on stderr");
  po::variables_map vm;
  if (!parse_args("bench alignment", "--model DIR --data SPLIT [--videos N]", args, desc, {}, vm)) return 0;
  const std::string model_dir = vm["model"].as<std::string>();
  const int64_t max_videos = vm["videos"].as<int64_t>();
  if (max_videos < 0) throw UsageError("bench alignment: --videos must be >= 0");
  torch::NoGradGuard no_grad;
  auto model = grounding::LearnedModelImpl::load(model_dir);
  if (model->config().reads_features())
    throw UsageError("bench alignment: " + model_dir + " reads pre-extracted features: it has no backbone to measure");
  model->eval();
  grounding::TrainSplit split = grounding::load_split(vm["data"].as<std::string>());
  if (max_videos > 0 && int64_t(split.videos.size()) > max_videos) split.videos.resize(size_t(max_videos));
  const bool quiet = vm.count("quiet") > 0;
  {
    ProgressReporter progress("decode", !quiet);
    grounding::decode_split(split, model->config().slowfast, model->config().backbone.vision, progress.callback());
  }
  // kind -> source -> score
  std::map<std::string, std::map<std::string, RankScore>> scores;
  PlaceInput places;
  ProgressReporter progress("measure", !quiet);
  int64_t done = 0;
  for (const auto& v : split.videos) {
    if (v.queries.empty()) continue;
    grounding::VideoFeatures f =
        model->encode_frames(v.slow_frames, v.slow_seconds, v.fast_frames, v.fast_seconds, v.duration_seconds);
    std::vector<std::string> texts;
    for (const auto& q : v.queries) texts.push_back(q.text);
    grounding::TextBatch text = model->encode_text(texts);
    std::map<std::string, std::pair<torch::Tensor, std::vector<double>>> sources;
    if (f.slow.defined() && f.slow.size(0) > 0) sources["slow"] = {model->align_logits(f.slow, text), f.slow_seconds};
    if (f.fast.defined() && f.fast.size(0) > 0) sources["fast"] = {model->align_logits(f.fast, text, grounding::AlignFrames::kFast), f.fast_seconds};
    if (f.fast_flow.defined() && f.fast.defined() && f.fast.size(0) > 1) places.add(model->config(), f);
    if (model->config().fusion.detail_probe) {
      std::vector<double> times;
      grounding::DetailProbe probe;
      model->ground(f, text, &times, &probe);
      if (probe.logits.defined()) sources["probe"] = {probe.logits, probe.seconds};
    }
    for (size_t i = 0; i < v.queries.size(); ++i) {
      const auto& q = v.queries[i];
      for (const auto& [name, logits] : sources) {
        scores[q.kind.empty() ? "query" : q.kind][name].add(logits.first[int64_t(i)], logits.second, q.windows);
        scores["all"][name].add(logits.first[int64_t(i)], logits.second, q.windows);
      }
    }
    progress({"videos", ++done, int64_t(split.videos.size()), 0});
  }
  json out = json::object();
  std::fprintf(stderr, "\n%-8s | %-6s | %-22s | %-22s | %-22s\n", "kind", "n", "slow AUC / top in", "fast AUC / top in",
               "probe AUC / top in");
  for (const auto& [kind, by_source] : scores) {
    int64_t n = 0;
    for (const auto& [name, s] : by_source) n = std::max(n, s.n);
    std::fprintf(stderr, "%-8s | %6lld |", kind.c_str(), (long long)n);
    for (const char* name : {"slow", "fast", "probe"}) {
      auto it = by_source.find(name);
      if (it == by_source.end()) {
        std::fprintf(stderr, " %-22s |", "-");
        continue;
      }
      const RankScore& s = it->second;
      out[kind][name] = s.to_json();
      if (s.n == 0) {
        std::fprintf(stderr, " %-22s |", "no frame inside");
        continue;
      }
      std::fprintf(stderr, " %5.3f / %4.2f (%4.2f)    |", s.auc / s.n, s.top_in / s.n, s.chance / s.n);
    }
    std::fprintf(stderr, "\n");
  }
  std::fprintf(stderr, "(top in: share of queries whose top frame lies in a window; in brackets, the share of frames that do)\n");
  if (places.frames > 0) {
    json p = places.to_json();
    p["flow_scale"] = model->config().fusion.flow_scale;
    out["place_input"] = p;
    std::fprintf(stderr, "place input (fast timeline, raw, before its norms): RMS token %.3f, change %.3f, flow %.3f px per "
                 "channel; the flow's share of the squares %.2e; this model reads the flow %s (Note [Flow scale])\n",
                 p["token_rms"].get<double>(), p["change_rms"].get<double>(), p["flow_rms"].get<double>(),
                 places.flow_share(), model->config().fusion.flow_scale.c_str());
  }
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace sfvu::cli
