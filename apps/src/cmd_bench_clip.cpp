// sfvu bench clip: CLIP vision-tower throughput with random weights in the real ViT-B/32 and
// ViT-B/16 shapes (no download), fp32 and bf16, against the machine's own GEMM rate measured
// by this binary in the same run (the peer here is the BLAS itself).
#include <chrono>
#include <iomanip>
#include <iostream>

#include "bench_timing.h"
#include "sfvu/pathways/slowfast_options.h"
#include "cli_common.h"
#include "commands.h"
#include "model_options.h"
#include "sfvu/base/error.h"
#include "sfvu/pathways/torch_runtime.h"

#include <torch/csrc/autograd/profiler.h>

namespace sfvu::cli {
namespace {


double vision_flops(const pathways::ClipConfig& c) {
  return pathways::vision_flops(c.vision, c.projection_dim, c.vision.image_size);
}

double gemm_gflops(int64_t m, int64_t k, int64_t n, torch::Dtype dtype, int repeat) {
  torch::Tensor a = torch::randn({m, k}).to(dtype), b = torch::randn({k, n}).to(dtype);
  double s = best_seconds(repeat, [&] { (void)torch::mm(a, b); }, true);
  return 2.0 * m * k * n / s / 1e9;
}

}  // namespace

int bench_clip(const Args& args) {
  po::options_description desc("bench clip options");
  desc.add_options()("models", po::value<std::string>()->default_value("b32,b16"), "b32, b16, l14-336 (comma list)")
      ("batch", po::value<int>()->default_value(16), "images per forward pass (video frames come in batches)")
      ("repeat", po::value<int>()->default_value(3), "timed runs (best kept) after one warm-up")
      ("profile", po::value<std::string>(), "also write a chrome://tracing profile of one fp32 forward here");
  po::positional_options_description pos;
  po::variables_map vm;
  if (!parse_args("bench clip", "[--models b32,b16] [--batch 8]", args, desc, pos, vm)) return 0;
  const int batch = vm["batch"].as<int>(), repeat = std::max(1, vm["repeat"].as<int>());
  pathways::TorchRuntimeInfo rt = pathways::configure_torch_runtime();
  std::cout << "torch threads " << rt.intra_op_threads << ", BLAS " << rt.blas_library << "\n";
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  std::stringstream list(vm["models"].as<std::string>());
  std::string name;
  while (std::getline(list, name, ',')) {
    pathways::ClipConfig cfg = name == "b32"       ? pathways::ClipConfig::vit_b32()
                               : name == "b16"     ? pathways::ClipConfig::vit_b16()
                               : name == "l14-336" ? pathways::ClipConfig::vit_l14_336()
                                                   : throw UsageError("bench clip: unknown model '" + name + "'");
    pathways::ClipModel model(cfg, pathways::ClipParts{false, true, false});
    model->eval();
    const auto& v = cfg.vision;
    torch::Tensor px = torch::randn({batch, 3, v.image_size, v.image_size});
    const double flops = vision_flops(cfg) * batch;
    // The GEMM a layer spends most time in (MLP fc1), at this batch's token count.
    const int64_t tokens = int64_t(batch) * (int64_t(v.grid()) * v.grid() + 1);
    const double gemm32 = gemm_gflops(tokens, v.hidden_size, v.intermediate_size, torch::kFloat32, repeat);
    const double gemm16 = gemm_gflops(tokens, v.hidden_size, v.intermediate_size, torch::kBFloat16, repeat);
    const double t32 = best_seconds(repeat, [&] { (void)model->vision(px); }, true);
    if (vm.count("profile")) {
      torch::autograd::profiler::RecordProfile trace(vm["profile"].as<std::string>() + "." + name + ".json");
      (void)model->vision(px);
    }
    model->to(torch::kBFloat16);
    torch::Tensor px16 = px.to(torch::kBFloat16);
    const double t16 = best_seconds(repeat, [&] { (void)model->vision(px16); }, true);
    std::cout << std::fixed << std::setprecision(1) << "ViT-" << name << " " << v.image_size << "px, batch " << batch
              << ", " << vision_flops(cfg) / 1e9 << " GFLOP/image\n"
              << "  GEMM " << tokens << "x" << v.hidden_size << "x" << v.intermediate_size << " (peer): fp32 "
              << gemm32 << " GFLOP/s, bf16 " << gemm16 << " GFLOP/s\n"
              << "  fp32: " << batch / t32 << " images/s, " << flops / t32 / 1e9 << " GFLOP/s = " << std::setprecision(2)
              << flops / t32 / 1e9 / gemm32 << "x GEMM rate (target >= 0.5)\n"
              << std::setprecision(1) << "  bf16: " << batch / t16 << " images/s, " << flops / t16 / 1e9
              << " GFLOP/s = " << std::setprecision(2) << t32 / t16 << "x fp32 images/s (target >= 1.8)\n";
  }
  return 0;
}

int cmd_bench(const Args& args) {
  if (args.empty()) throw UsageError("bench: expected 'sfvu bench decode FILE...', 'sfvu bench clip' or 'sfvu bench pathways'");
  Args rest(args.begin() + 1, args.end());
  if (args[0] == "decode") return bench_decode(rest);
  if (args[0] == "clip") return bench_clip(rest);
  if (args[0] == "pathways") return bench_pathways(rest);
  if (args[0] == "ablation") return bench_ablation(rest);
  if (args[0] == "alignment") return bench_alignment(rest);
  if (args[0] == "llm") return bench_llm(rest);
  throw UsageError("bench: unknown benchmark '" + args[0] + "' (decode, clip, pathways, ablation, alignment, llm)");
}

}  // namespace sfvu::cli
