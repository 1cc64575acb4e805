// sfvu bench pathways [--model DIR | --arch b32|b16|l14-336] [VIDEO] [--memory-video FILE]
//
// 1. The fast pathway two ways on the same decoded frames (Note [Low-resolution fast
//    pathway]): (a) backbone at full resolution then pool, as SlowFast-LLaVA; (b) backbone at
//    the low input size then pool. Prints GFLOPs, time, their ratios, and the cosine
//    similarity between (a) and (b) tokens and embeddings.
// 2. Whole-video encoding (decode + both pathways) with the default preset, the default with
//    a full-resolution fast pathway, and the sf-llava preset: tokens, GFLOPs, time.
// 3. --memory-video: encodes a long video at default settings first and prints the peak RSS
//    against the 2 GiB target (apps/bench/pathways_bench.sh generates a 1-hour input).
// Without --model, random weights in the real shapes (speed and memory are what they measure;
// the cosines then only show that (b) is a resampling of (a), not semantic agreement).
#include <sys/resource.h>

#include <chrono>
#include <iomanip>
#include <iostream>

#include "bench_timing.h"
#include "commands.h"
#include "pipeline_options.h"
#include "sfvu/base/error.h"
#include "sfvu/pathways/slowfast_encoder.h"
#include "sfvu/pathways/torch_runtime.h"

namespace sfvu::cli {
namespace {

double peak_rss_mib() {
  struct rusage u {};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // Linux: KiB
}

pathways::ClipBundle bench_model(const po::variables_map& vm) {
  if (vm.count("model")) return pathways::ClipBundle::load(vm["model"].as<std::string>());
  const std::string arch = vm["arch"].as<std::string>();
  pathways::ClipConfig cfg = arch == "b32"       ? pathways::ClipConfig::vit_b32()
                             : arch == "b16"     ? pathways::ClipConfig::vit_b16()
                             : arch == "l14-336" ? pathways::ClipConfig::vit_l14_336()
                                                 : throw UsageError("bench pathways: unknown --arch '" + arch + "'");
  torch::manual_seed(0);
  pathways::ClipBundle b;
  b.model = pathways::ClipModel(cfg, pathways::ClipParts{false, true, false});
  b.model->eval();
  b.processor = pathways::ClipImageProcessor::for_size(cfg.vision.image_size);
  b.dir = "random ViT-" + arch;
  return b;
}

// Mean and minimum cosine similarity over the last dimension.
std::pair<double, double> cosine(const torch::Tensor& a, const torch::Tensor& b) {
  torch::Tensor c = torch::cosine_similarity(a.reshape({-1, a.size(-1)}), b.reshape({-1, b.size(-1)}), 1);
  return {c.mean().item<double>(), c.min().item<double>()};
}

void memory_run(const pathways::ClipBundle& clip, const std::string& video, int batch) {
  const double before = peak_rss_mib();
  pathways::SlowFastOptions o;
  o.batch = batch;
  pathways::SlowFastEncoder encoder(clip, o);
  decode::VideoReader reader(decode::Source::path(video));
  pathways::EncodeStats st;
  ProgressReporter progress("encode " + video, true);
  pathways::VideoTokens t = encoder.encode(reader, progress.callback(), &st);
  const double peak = peak_rss_mib();
  std::cout << std::fixed << std::setprecision(1) << "memory: " << video << " (" << reader.info().duration_seconds
            << " s) at default settings: " << encoder.plan(reader).describe() << "\n"
            << "  decoded " << st.decode.frames_decoded << " frames, encoded " << st.backbone_images << " in "
            << st.total_seconds << " s; peak RSS " << peak << " MiB (model loaded: " << before << " MiB) = "
            << std::setprecision(2) << peak / 2048.0 << "x the 2 GiB target (target < 1)\n";
  (void)t;
}

}  // namespace

int bench_pathways(const Args& args) {
  po::options_description desc("bench pathways options");
  desc.add_options()("video", po::value<std::string>()->default_value(SFVU_SAMPLE_VIDEO), "video to encode")
      ("model", po::value<std::string>(), "CLIP folder (default: random weights of --arch)")
      ("arch", po::value<std::string>()->default_value("b16"), "b32 | b16 | l14-336 (random weights)")
      ("batch", po::value<int>()->default_value(16), "frames per forward pass")
      ("repeat", po::value<int>()->default_value(2), "timed runs of the fast pathway (best kept)")
      ("memory-video", po::value<std::string>(), "first encode this (long) video and report peak RSS");
  po::positional_options_description pos;
  pos.add("video", 1);
  po::variables_map vm;
  if (!parse_args("bench pathways", "[--model DIR | --arch b16] [VIDEO] [--memory-video FILE]", args, desc, pos, vm))
    return 0;
  const int batch = vm["batch"].as<int>(), repeat = std::max(1, vm["repeat"].as<int>());
  pathways::TorchRuntimeInfo rt = pathways::configure_torch_runtime();
  std::cout << "torch threads " << rt.intra_op_threads << ", BLAS " << rt.blas_library << "\n";
  torch::NoGradGuard no_grad;
  pathways::ClipBundle clip = bench_model(vm);
  const auto& vision = clip.model->config().vision;
  const int proj = clip.model->config().projection_dim;
  std::cout << "model: " << clip.dir << " (" << vision.image_size << " px, patch " << vision.patch_size << ")\n";
  if (vm.count("memory-video")) memory_run(clip, vm["memory-video"].as<std::string>(), batch);

  // 1. Fast pathway (a) vs (b) on the same frames.
  const std::string video = vm["video"].as<std::string>();
  pathways::SlowFastOptions low;  // the default: low-resolution fast pathway
  low.batch = batch;
  pathways::SlowFastOptions full = low;
  full.fast.input_size = 0;
  pathways::SlowFastEncoder enc_low(clip, low), enc_full(clip, full);
  decode::VideoReader reader(decode::Source::path(video));
  pathways::SlowFastPlan plan_low = enc_low.plan(reader), plan_full = enc_full.plan(reader);
  const auto fmt = [&](int s) { return decode::FrameFormat{s, s, low.resize}; };
  decode::ReadResult frames = reader.read({{decode::SamplingPlan::at(plan_low.fast.times_seconds), fmt(plan_full.fast.input_size)},
                                           {decode::SamplingPlan::at(plan_low.fast.times_seconds), fmt(plan_low.fast.input_size)}});
  torch::Tensor f_full = pathways::frames_to_tensor(std::move(frames.streams[0]));
  torch::Tensor f_low = pathways::frames_to_tensor(std::move(frames.streams[1]));
  auto run = [&](const pathways::SlowFastEncoder& e, const torch::Tensor& f, const pathways::PathwayPlan& p) {
    std::vector<torch::Tensor> tok, emb;
    for (int64_t i = 0; i < f.size(0); i += batch) {
      auto out = e.encode_frames(f.slice(0, i, std::min(f.size(0), i + batch)), p);
      tok.push_back(out.tokens);
      emb.push_back(out.embeds);
    }
    return std::make_pair(torch::cat(tok), torch::cat(emb));
  };
  std::pair<torch::Tensor, torch::Tensor> a, b;
  const double ta = best_seconds(repeat, [&] { a = run(enc_full, f_full, plan_full.fast); });
  const double tb = best_seconds(repeat, [&] { b = run(enc_low, f_low, plan_low.fast); });
  const int64_t n = f_full.size(0);
  const double ga = n * pathways::vision_flops(vision, proj, plan_full.fast.input_size) / 1e9;
  const double gb = n * pathways::vision_flops(vision, proj, plan_low.fast.input_size) / 1e9;
  auto [tok_mean, tok_min] = cosine(a.first, b.first);
  auto [emb_mean, emb_min] = cosine(a.second, b.second);
  std::cout << std::fixed << std::setprecision(2) << "fast pathway on " << video << ": " << n << " frames at "
            << low.fast.fps << " fps, " << plan_low.fast.tokens_h << "x" << plan_low.fast.tokens_w << " tokens each\n"
            << "  (a) full resolution " << plan_full.fast.input_size << " px then pool: " << ga << " GFLOP, " << ta
            << " s (" << n / ta << " frames/s)\n"
            << "  (b) low resolution  " << plan_low.fast.input_size << " px then pool: " << gb << " GFLOP, " << tb
            << " s (" << n / tb << " frames/s)\n"
            << "  (b)/(a): " << std::setprecision(3) << gb / ga << "x FLOPs, " << tb / ta << "x time\n"
            << "  cosine (a) vs (b): tokens mean " << tok_mean << " (min " << tok_min << "), embeddings mean "
            << emb_mean << " (min " << emb_min << ")\n";

  // 2. Whole-video encoding.
  std::cout << "whole video (decode + slow + fast):\n";
  auto whole = [&](const std::string& name, pathways::SlowFastOptions o) {
    o.batch = batch;
    pathways::SlowFastEncoder e(clip, o);
    decode::VideoReader r(decode::Source::path(video));
    pathways::EncodeStats st;
    pathways::SlowFastPlan p = e.plan(r);
    pathways::VideoTokens t = e.encode(r, p, {}, &st);
    std::cout << std::setprecision(2) << "  " << std::left << std::setw(24) << name << std::right << p.describe()
              << "\n    " << st.backbone_images << " backbone images, " << st.backbone_gflop << " GFLOP, "
              << st.total_seconds << " s (backbone " << st.backbone_seconds << " s)\n";
    return st.total_seconds;
  };
  const double t_default = whole("default", low);
  const double t_full = whole("default, fast full-res", full);
  const double t_sf = whole("sf-llava", pathways::SlowFastOptions::preset("sf-llava"));
  std::cout << "  default / fast full-res: " << std::setprecision(3) << t_default / t_full
            << "x time; default / sf-llava: " << t_default / t_sf << "x time\n";
  return 0;
}

}  // namespace sfvu::cli
