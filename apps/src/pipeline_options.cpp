#include "pipeline_options.h"

#include <sstream>

#include "sfvu/base/error.h"
#include "sfvu/pathways/torch_runtime.h"

namespace sfvu::cli {
namespace {

std::string pool_text(int h, int w) { return h > 0 ? std::to_string(h) + "x" + std::to_string(w) : "none"; }

// "4x4" | "4" | "none" -> (h, w); (0, 0) for none.
std::pair<int, int> parse_pool(const std::string& text, const std::string& option) {
  if (text == "none" || text == "0") return {0, 0};
  int h = 0, w = 0;
  char x = 0;
  std::istringstream s(text);
  if (s >> h) {
    if (s >> x) {
      if ((x != 'x' && x != 'X') || !(s >> w)) h = -1;
    } else {
      w = h;
    }
  }
  if (h <= 0 || w <= 0 || !s.eof()) throw UsageError(option + " must be HxW, N or none, got '" + text + "'");
  return {h, w};
}

bool given(const po::variables_map& vm, const char* name) { return vm.count(name) && !vm[name].defaulted(); }

}  // namespace

void add_pipeline_options(po::options_description& desc) {
  const pathways::SlowFastOptions d;
  const grounding::TrainingFreeOptions h;
  desc.add_options()
      ("preset", po::value<std::string>()->default_value("default"),
       "default | sf-llava (SlowFast-LLaVA's 50-frame recipe); the flags below override it")
      ("slow-fps", po::value<double>()->default_value(d.slow.fps), "slow pathway frames per second")
      ("fast-fps", po::value<double>()->default_value(d.fast.fps), "fast pathway frames per second")
      ("slow-frames", po::value<int64_t>(), "slow pathway: this many frames at segment midpoints instead of --slow-fps")
      ("fast-frames", po::value<int64_t>(), "fast pathway: this many frames instead of --fast-fps")
      ("slow-size", po::value<int>()->default_value(d.slow.input_size), "slow input side in pixels (0 = the model's)")
      ("fast-size", po::value<int>()->default_value(d.fast.input_size),
       "fast input side (0 = the model's: pool after a full-resolution pass; -1 = automatic low resolution)")
      ("slow-pool", po::value<std::string>()->default_value(pool_text(d.slow.pool_h, d.slow.pool_w)),
       "slow token grid after adaptive average pooling: HxW or none")
      ("fast-pool", po::value<std::string>()->default_value(pool_text(d.fast.pool_h, d.fast.pool_w)),
       "fast token grid after adaptive average pooling: HxW or none")
      ("slow-pairs", "slow: max-pool adjacent token pairs (SF-LLaVA 24x24 -> 24x12)")
      ("layer", po::value<int>()->default_value(d.layer), "hidden state the tokens come from (-1 last, -2 penultimate)")
      ("resize", po::value<std::string>()->default_value(decode::to_string(d.resize)), "crop (CLIP) | stretch | letterbox")
      ("token-budget", po::value<int64_t>()->default_value(d.token_budget),
       "most slow + fast tokens per video (0 = no limit); long videos are thinned evenly")
      ("clip-seconds", po::value<double>()->default_value(h.clip_seconds), "saliency clip length in seconds")
      ("slow-weight", po::value<double>()->default_value(h.slow_weight), "weight of the slow pathway in the saliency (0..1)")
      ("cache-dir", po::value<std::string>()->default_value(pathways::TokenCache::default_dir()),
       "per-video token cache (many queries encode a video once)")
      ("no-cache", "neither read nor write the token cache");
  add_model_options(desc);
  add_decoder_options(desc);
}

grounding::PipelineOptions pipeline_options(const po::variables_map& vm) {
  grounding::PipelineOptions o;
  auto& sf = o.slowfast;
  sf = pathways::SlowFastOptions::preset(vm["preset"].as<std::string>());
  const bool preset = vm["preset"].as<std::string>() != "default";
  // A preset keeps its own values unless a flag is given; the default preset takes all.
  auto take = [&](const char* name) { return given(vm, name) || !preset; };
  if (take("slow-fps")) sf.slow.fps = vm["slow-fps"].as<double>();
  if (take("fast-fps")) sf.fast.fps = vm["fast-fps"].as<double>();
  if (vm.count("slow-frames")) sf.slow.n_frames = vm["slow-frames"].as<int64_t>();
  if (vm.count("fast-frames")) sf.fast.n_frames = vm["fast-frames"].as<int64_t>();
  if (preset && (given(vm, "slow-fps") || given(vm, "fast-fps") || vm.count("slow-frames") || vm.count("fast-frames")))
    sf.sf_llava_sampling = false;  // explicit rates replace the preset's frame choice
  if (take("slow-size")) sf.slow.input_size = vm["slow-size"].as<int>();
  if (take("fast-size")) sf.fast.input_size = vm["fast-size"].as<int>();
  if (take("slow-pool")) std::tie(sf.slow.pool_h, sf.slow.pool_w) = parse_pool(vm["slow-pool"].as<std::string>(), "--slow-pool");
  if (take("fast-pool")) std::tie(sf.fast.pool_h, sf.fast.pool_w) = parse_pool(vm["fast-pool"].as<std::string>(), "--fast-pool");
  if (vm.count("slow-pairs")) sf.slow.pair_max_pool = true;
  if (take("layer")) sf.layer = vm["layer"].as<int>();
  if (take("resize")) sf.resize = decode::parse_resize_mode(vm["resize"].as<std::string>());
  if (take("token-budget")) sf.token_budget = vm["token-budget"].as<int64_t>();
  o.head.clip_seconds = vm["clip-seconds"].as<double>();
  sf.clip_seconds = o.head.clip_seconds;
  o.head.slow_weight = vm["slow-weight"].as<double>();
  if (!(o.head.slow_weight >= 0 && o.head.slow_weight <= 1)) throw UsageError("--slow-weight must be in [0, 1]");
  ModelOptions mo = model_options(vm);
  sf.batch = mo.batch;
  sf.validate();
  o.dtype = parse_dtype(mo.dtype);
  o.device = parse_device(mo.device);
  o.cache_dir = vm.count("no-cache") ? "" : vm["cache-dir"].as<std::string>();
  o.decoder = decoder_options(vm);
  return o;
}

std::shared_ptr<const grounding::VideoPipeline> load_pipeline(const po::variables_map& vm,
                                                              const grounding::PipelineOptions& o) {
  ModelOptions mo = model_options(vm);
  if (mo.threads > 0) pathways::configure_torch_runtime(mo.threads);
  return grounding::VideoPipeline::load(mo.model_dir, o);
}

}  // namespace sfvu::cli
