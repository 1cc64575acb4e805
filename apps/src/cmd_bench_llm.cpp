// sfvu bench llm: the LLM decoder in the real llava-onevision-qwen2-0.5b shape (Qwen2-0.5B:
// 896 wide, 24 layers, 14/2 heads, ff 4864, vocab 152000, tied), random weights (no download).
// Peers measured in the same run, on the same machine:
//   - prefill: GFLOP/s against this machine's GEMM rate at the prefill's own MLP shape;
//   - decode: tokens/s against the memory-bandwidth bound (weight bytes read per token /
//     measured copy bandwidth): a decode step must read every weight once.
// Then end to end: one question about a 2-minute video (generated here) through the whole
// `sfvu ask` path with the SlowFast layout: decode, SigLIP-so400m/14-384, projector, prompt,
// prefill, generation.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "bench_timing.h"
#include "commands.h"
#include "llm_options.h"
#include "model_options.h"
#include "sfvu/base/clock.h"
#include "sfvu/base/error.h"
#include "sfvu/decode/video_writer.h"
#include "sfvu/pathways/torch_runtime.h"

#include <torch/csrc/autograd/profiler.h>

namespace sfvu::cli {
namespace {

// Bytes a decode step reads: every layer weight, the final norm and the lm head (the tied
// embedding matrix, read whole by the head; the embedding lookup reads one row).
double weight_bytes_per_token(const fusion::LlmConfig& c, torch::Dtype dtype) {
  const double head = double(c.vocab_size) * c.hidden_size;
  const double params = double(c.parameter_count()) - (c.tie_word_embeddings ? 0.0 : head);  // lookup table not read
  return params * double(torch::elementSize(dtype));
}

// Prefill FLOPs of T tokens: 2 per weight per token in the layers, causal attention
// (QK^T and AV over T(T+1)/2 pairs per head), and the head on the last position only.
double prefill_flops(const fusion::LlmConfig& c, int64_t T) {
  const double D = c.hidden_size, hd = c.head_dim(), Hkv = c.num_key_value_heads, F = c.intermediate_size;
  const double per_layer = 2.0 * T * (D * D * 2 + D * hd * Hkv * 2 + 3 * D * F);
  const double attention = 2.0 * 2.0 * c.num_attention_heads * hd * double(T) * double(T + 1) / 2.0;
  return c.num_hidden_layers * (per_layer + attention) + 2.0 * D * double(c.vocab_size);
}

double gemm_gflops(int64_t m, int64_t k, int64_t n, torch::Dtype dtype) {
  torch::Tensor a = torch::randn({m, k}).to(dtype), b = torch::randn({k, n}).to(dtype);
  const double s = best_seconds(3, [&] { (void)torch::mm(a, b); }, true);
  return 2.0 * double(m) * double(k) * double(n) / s / 1e9;
}

// Copy bandwidth in GB/s counting bytes read + written (STREAM "copy"), over a buffer far
// larger than the caches.
double copy_bandwidth_gbs(int64_t bytes) {
  torch::Tensor src = torch::ones({bytes / 4}), dst = torch::empty_like(src);
  const double s = best_seconds(5, [&] { dst.copy_(src); }, true);
  return 2.0 * double(bytes) / s / 1e9;
}

// A 2-minute 320x240 24 fps H.264 video of moving shapes, written with sfvu's own encoder.
std::string make_video(const std::string& path, int seconds) {
  const int w = 320, h = 240, fps = 24;
  decode::VideoWriterOptions o;
  o.preset = "ultrafast";
  decode::VideoWriter writer(path, w, h, fps, 1, o);
  std::vector<uint8_t> rgb(size_t(w) * h * 3);
  for (int f = 0; f < seconds * fps; ++f) {
    const int cx = (f * 3) % w, cy = h / 2 + int(60 * std::sin(f / 20.0));
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        uint8_t* p = &rgb[(size_t(y) * w + x) * 3];
        const bool box = std::abs(x - cx) < 20 && std::abs(y - cy) < 20;
        p[0] = box ? 230 : uint8_t((x + f) & 0xff);
        p[1] = box ? 40 : uint8_t(y);
        p[2] = box ? 40 : uint8_t((f / 24 * 16) & 0xff);
      }
    writer.write(rgb.data());
  }
  writer.finish();
  return path;
}

// Random weights (models are built empty: from_pretrained fills them), small enough to keep
// activations finite through 24 layers.
void fill_random(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.named_parameters()) {
    const bool norm = p.key().find("norm") != std::string::npos;
    const bool bias = p.key().size() >= 4 && p.key().compare(p.key().size() - 4, 4, "bias") == 0;
    if (norm) p.value().fill_(bias ? 0.0 : 1.0);
    else p.value().normal_(0.0, 0.02);
  }
}

}  // namespace

int bench_llm(const Args& args) {
  po::options_description desc("bench llm options");
  desc.add_options()("dtypes", po::value<std::string>()->default_value("fp32,bf16"), "comma list of fp32, bf16")
      ("prompt-tokens", po::value<int>()->default_value(1024), "prefill length")
      ("new-tokens", po::value<int>()->default_value(16), "decode steps timed")
      ("layers", po::value<int>()->default_value(0), "decoder layers (0 = the real 24; fewer for a quick smoke run)")
      ("no-e2e", "skip the end-to-end question about a 2-minute video")
      ("e2e-dtype", po::value<std::string>()->default_value("bf16"), "fp32 | bf16 for the end-to-end run")
      ("e2e-frames", po::value<int>()->default_value(50), "end to end: frames sampled (SF-LLaVA: 50)")
      ("e2e-slow-frames", po::value<int>()->default_value(10), "end to end: slow frames (SF-LLaVA: 10)")
      ("e2e-new-tokens", po::value<int>()->default_value(32), "end to end: tokens generated")
      ("vision-layers", po::value<int>()->default_value(0), "SigLIP layers (0 = the real 26; fewer for a smoke run)")
      ("tokenizer", po::value<std::string>()->default_value(SFVU_BENCH_TOKENIZER),
       "a Qwen2 tokenizer folder for the end-to-end prompt (ids < 152000)")
      ("video", po::value<std::string>(), "end to end: this video instead of a generated 2-minute one")
      ("profile", po::value<std::string>(), "also write a chrome://tracing profile of one decode step per dtype (FILE.<dtype>.json)")
      ("work", po::value<std::string>()->default_value("sfvu-bench-llm"), "scratch folder for the generated video");
  po::variables_map vm;
  if (!parse_args("bench llm", "[--dtypes fp32,bf16] [--prompt-tokens N] [--new-tokens N] [--no-e2e]", args, desc,
                  po::positional_options_description(), vm))
    return 0;
  const int T = vm["prompt-tokens"].as<int>(), n_new = vm["new-tokens"].as<int>();
  if (T < 1 || n_new < 1) throw UsageError("bench llm: --prompt-tokens and --new-tokens must be >= 1");
  pathways::TorchRuntimeInfo rt = pathways::configure_torch_runtime();
  std::cout << "torch threads " << rt.intra_op_threads << ", BLAS " << rt.blas_library << "\n";
  torch::NoGradGuard no_grad;
  torch::manual_seed(0);
  fusion::LlmConfig config = fusion::LlmConfig::qwen2_0_5b();
  if (vm["layers"].as<int>() > 0) config.num_hidden_layers = vm["layers"].as<int>();
  const double bandwidth = copy_bandwidth_gbs(int64_t(512) << 20);
  std::cout << std::fixed << std::setprecision(2) << "Qwen2-0.5B shape: " << config.num_hidden_layers << " layers, "
            << double(config.parameter_count()) / 1e6 << " M parameters; copy bandwidth " << bandwidth << " GB/s\n";

  std::stringstream list(vm["dtypes"].as<std::string>());
  std::string name;
  while (std::getline(list, name, ',')) {
    const torch::Dtype dtype = parse_dtype(name);
    fusion::LlmForCausalLM lm(config, dtype);
    fill_random(*lm);
    const std::vector<int64_t> ids(size_t(T), 100);
    torch::Tensor embeds = lm->embed(torch::randint(0, 151000, {T}, torch::kInt64));
    fusion::KvCache cache(config, T + n_new + 1, dtype);
    // Prefill: the whole prompt, logits of its last position only.
    const double prefill_s = best_seconds(2, [&] {
      cache.clear();
      (void)lm->logits(lm->forward(embeds, cache).slice(0, T - 1));
    });
    const double prefill_gflops = prefill_flops(config, T) / prefill_s / 1e9;
    const double gemm = gemm_gflops(T, config.hidden_size, config.intermediate_size, dtype);
    // Decode: one token at a time after the prompt.
    fusion::GenerateOptions options;
    options.max_new_tokens = n_new;
    cache.clear();
    fusion::GenerateResult r = fusion::generate(*lm, embeds, ids, options, cache);
    if (vm.count("profile")) {
      torch::Tensor one = lm->embed(torch::tensor({int64_t(100)}, torch::kInt64));
      torch::autograd::profiler::RecordProfile trace(vm["profile"].as<std::string>() + "." + name + ".json");
      (void)lm->logits(lm->forward(one, cache));
    }
    const double decode_tps = double(r.ids.size() - 1) / r.generate_seconds;  // the first id comes from prefill
    const double bound_tps = bandwidth * 1e9 / weight_bytes_per_token(config, dtype);
    std::cout << std::setprecision(2) << name << ": prefill " << T << " tokens " << prefill_s << " s = "
              << double(T) / prefill_s << " tokens/s, " << prefill_gflops << " GFLOP/s = "
              << prefill_gflops / gemm << "x GEMM (" << gemm << " GFLOP/s); decode " << decode_tps
              << " tokens/s = " << decode_tps / bound_tps << "x memory bound (" << bound_tps << " tokens/s at "
              << weight_bytes_per_token(config, dtype) / 1e9 << " GB/token); KV cache "
              << double(cache.bytes()) / 1e6 << " MB\n";
  }
  if (vm.count("no-e2e")) return 0;

  // End to end through the `sfvu ask` path.
  const auto tokenizer = fusion::LlmTokenizer::from_pretrained(vm["tokenizer"].as<std::string>());
  fusion::LlavaConfig lc = fusion::LlavaConfig::onevision_0_5b();
  lc.text.num_hidden_layers = config.num_hidden_layers;
  if (vm["vision-layers"].as<int>() > 0) lc.siglip_vision.num_hidden_layers = vm["vision-layers"].as<int>();
  const torch::Dtype e2e_dtype = parse_dtype(vm["e2e-dtype"].as<std::string>());
  // The prompt's placeholder ids are the tokenizer's (a tiny tokenizer's differ from the real 151647).
  lc.video_token_index = tokenizer->token_id("<video>");
  lc.image_token_index = tokenizer->token_id("<image>");
  auto llava = std::make_shared<fusion::LlavaModelImpl>(lc, e2e_dtype);
  fill_random(*llava);
  std::string video;
  if (vm.count("video")) {
    video = vm["video"].as<std::string>();
  } else {
    make_dir(vm["work"].as<std::string>());
    const double t0 = steady_seconds();
    video = make_video((std::filesystem::path(vm["work"].as<std::string>()) / "two_minutes.mp4").string(), 120);
    std::cout << "wrote a 2-minute 320x240 video in " << steady_seconds() - t0 << " s\n";
  }
  AskSettings s;
  s.question = "What happens in the video?";
  s.layout = fusion::VideoLayout::kSlowFast;
  s.n_frames = vm["e2e-frames"].as<int>();
  s.slowfast.n_slow_frames = vm["e2e-slow-frames"].as<int>();
  s.slowfast.append_newline = true;
  s.chat = fusion::ChatTemplate::kChatML;
  s.generate.max_new_tokens = vm["e2e-new-tokens"].as<int>();
  const double t0 = steady_seconds();
  json line = answer_video(*llava, *tokenizer, "", video, s);
  const double total = steady_seconds() - t0;
  const json& t = line["timing"];
  std::cout << std::setprecision(1) << "end to end (" << vm["e2e-dtype"].as<std::string>() << ", SlowFast "
            << s.n_frames << " frames / " << s.slowfast.n_slow_frames << " slow, "
            << line["n_visual_tokens"].get<int64_t>() << " visual tokens, " << line["prompt_tokens"].get<int64_t>()
            << " prompt tokens, " << line["generated_tokens"].get<int64_t>() << " generated): " << total
            << " s to answer (decode " << t["decode_s"].get<double>() << " s, vision " << t["vision_s"].get<double>()
            << " s, prefill " << t["prefill_s"].get<double>() << " s, generate " << t["generate_s"].get<double>()
            << " s)\n";
  return 0;
}

}  // namespace sfvu::cli
