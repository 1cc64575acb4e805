// sfvu generate --model DIR --input-ids IDS.npy [--pixel-values PV.npy] [--image-sizes SIZES.npy]
//               [--modality image|video] [--layout native|slowfast] [--rope-scaling dynamic:F]
//               --max-new-tokens N (--greedy | --temperature T --top-p P --seed S) --out DIR
//
// The low-level entry (issue 9, contract exact): prompt ids with the media placeholders already
// expanded (as transformers' processors write them), optional pixels, and the model's answer as
//   DIR/generated_ids.npy  int64 [n_new]
//   DIR/logits_last.npy    float32 [vocab]: logits at the last prompt position
// plus a JSON summary on stdout. Inputs as in tests/fixtures/llava_tiny/*/reference/input_*.npy:
// ids [1, T] or [T]; pixels [1, 3, S, S] (an image), [1, n_crops, 3, S, S] + image sizes [1, 2]
// (an anyres image), [1, T, 3, S, S] or [T, 3, S, S] (video frames).
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "llm_options.h"
#include "model_options.h"
#include "sfvu/base/error.h"

namespace sfvu::cli {
namespace {

std::vector<int64_t> ids_from_tensor(const torch::Tensor& t, const std::string& where) {
  if (t.scalar_type() != torch::kInt64 && t.scalar_type() != torch::kInt32)
    throw FormatError(where + ": input ids must be int64 (or int32), not " + std::string(c10::toString(t.scalar_type())));
  if (!(t.dim() == 1 || (t.dim() == 2 && t.size(0) == 1)))
    throw FormatError(where + ": input ids must be [T] or [1, T], got " + std::to_string(t.dim()) + "-d");
  torch::Tensor flat = t.reshape({-1}).to(torch::kInt64).contiguous();
  if (flat.numel() == 0) throw FormatError(where + ": no input ids");
  return std::vector<int64_t>(flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel());
}

// The visual rows for the prompt from the pixels, as the model's own forward computes them.
torch::Tensor visual_embeds(fusion::LlavaModelImpl& llava, torch::Tensor pixels, const po::variables_map& vm,
                            const std::string& modality, const std::string& where) {
  const auto& c = llava.config();
  if (pixels.scalar_type() != torch::kFloat32) pixels = pixels.to(torch::kFloat32);
  if (pixels.dim() == 5) {
    if (pixels.size(0) != 1) throw FormatError(where + ": batch size must be 1, got " + std::to_string(pixels.size(0)));
    pixels = pixels.squeeze(0);
  }
  if (pixels.dim() != 4 || pixels.size(1) != 3 || pixels.size(2) != c.vision_image_size() ||
      pixels.size(3) != c.vision_image_size())
    throw FormatError(where + ": pixel values must be [N, 3, " + std::to_string(c.vision_image_size()) + ", " +
                      std::to_string(c.vision_image_size()) + "] (or with a leading batch of 1)");
  if (modality == "image") {
    std::pair<int64_t, int64_t> size{c.vision_image_size(), c.vision_image_size()};
    if (vm.count("image-sizes")) {
      const std::string path = vm["image-sizes"].as<std::string>();
      torch::Tensor s = read_npy_tensor(path).reshape({-1}).to(torch::kInt64);
      if (s.numel() != 2) throw FormatError(path + ": image sizes must hold one (height, width) pair");
      size = {s[0].item<int64_t>(), s[1].item<int64_t>()};
    } else if (pixels.size(0) > 1) {
      throw UsageError("generate: an anyres image (" + std::to_string(pixels.size(0)) + " crops) needs --image-sizes");
    }
    return llava.image_embeds(pixels, size);
  }
  const std::string default_layout = c.model_type == "llava" ? "slowfast" : "native";
  const std::string layout = vm.count("layout") ? vm["layout"].as<std::string>() : default_layout;
  fusion::SlowFastLayoutOptions slowfast;
  slowfast.n_slow_frames = vm["slow-frames"].as<int>();
  if (slowfast.n_slow_frames < 1) throw UsageError("--slow-frames must be >= 1");
  return llava.video_embeds(pixels, fusion::parse_video_layout(layout), slowfast);
}

}  // namespace

int cmd_generate(const Args& args) {
  po::options_description desc("generate options");
  add_llm_model_options(desc);
  desc.add_options()("input-ids", po::value<std::string>()->required(), "prompt ids .npy (int64 [1, T] or [T])")
      ("pixel-values", po::value<std::string>(), "pixels .npy (float32, preprocessed), see the header")
      ("image-sizes", po::value<std::string>(), "anyres: the original image's (height, width) .npy")
      ("modality", po::value<std::string>(), "image | video (default: video when the ids hold the video token)")
      ("layout", po::value<std::string>(), "video: native | slowfast (default: native; slowfast for llava)")
      ("slow-frames", po::value<int>()->default_value(fusion::SlowFastLayoutOptions().n_slow_frames),
       "slowfast: frames kept at full detail (int32(linspace(0, T, n + 1))[:-1], SF-LLaVA's choice)")
      ("ignore-eos", "do not stop at the end-of-sequence ids")
      ("out", po::value<std::string>()->required(), "output folder (generated_ids.npy, logits_last.npy)");
  add_sampling_options(desc, 32);
  po::variables_map vm;
  if (!parse_args("generate",
                  "--model DIR --input-ids IDS.npy [--pixel-values PV.npy] [--image-sizes SIZES.npy] "
                  "[--modality image|video] [--layout native|slowfast] [--rope-scaling dynamic:F] --max-new-tokens N "
                  "(--greedy | --temperature T --top-p P --seed S) --out DIR",
                  args, desc, po::positional_options_description(), vm))
    return 0;
  const fusion::SamplingOptions sampling = sampling_options(vm);
  const std::string ids_path = vm["input-ids"].as<std::string>();
  const std::vector<int64_t> ids = ids_from_tensor(read_npy_tensor(ids_path), ids_path);
  if (vm.count("modality") && vm["modality"].as<std::string>() != "image" && vm["modality"].as<std::string>() != "video")
    throw UsageError("--modality must be image or video");
  if (vm.count("image-sizes") && !vm.count("pixel-values")) throw UsageError("generate: --image-sizes needs --pixel-values");
  const std::string out_dir = vm["out"].as<std::string>();
  make_dir(out_dir);

  fusion::LlavaModel llava = load_llava(vm);
  const auto& config = llava->config();
  for (int64_t id : ids)
    if (id < 0 || id >= config.text.vocab_size)
      throw FormatError(ids_path + ": token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                        std::to_string(config.text.vocab_size) + ")");
  torch::NoGradGuard no_grad;
  torch::Tensor ids_tensor = torch::tensor(ids, torch::kInt64);
  torch::Tensor embeds;
  int64_t n_visual = 0;
  std::string modality = "text";
  if (vm.count("pixel-values")) {
    const std::string pv_path = vm["pixel-values"].as<std::string>();
    const bool has_video_token = config.video_token_index >= 0 &&
                                 std::find(ids.begin(), ids.end(), config.video_token_index) != ids.end();
    modality = vm.count("modality") ? vm["modality"].as<std::string>() : has_video_token ? "video" : "image";
    torch::Tensor visual = visual_embeds(*llava, read_npy_tensor(pv_path), vm, modality, pv_path);
    n_visual = visual.size(0);
    embeds = llava->merge(ids_tensor, visual);
  } else {
    embeds = llava->language_model()->embed(ids_tensor);
  }
  fusion::GenerateOptions options;
  options.max_new_tokens = vm["max-new-tokens"].as<int>();
  options.sampling = sampling;
  if (!vm.count("ignore-eos")) options.stop_ids = stop_ids(config, nullptr);
  fusion::KvCache cache(config.text, embeds.size(0) + options.max_new_tokens, llava->dtype());
  fusion::GenerateResult r = fusion::generate(*llava->language_model(), embeds, ids, options, cache);

  write_npy_tensor((std::filesystem::path(out_dir) / "generated_ids.npy").string(), torch::tensor(r.ids, torch::kInt64));
  write_npy_tensor((std::filesystem::path(out_dir) / "logits_last.npy").string(), r.logits_last.to(torch::kFloat32));
  std::cout << json{{"out", out_dir},
                    {"modality", modality},
                    {"prompt_tokens", r.prompt_tokens},
                    {"n_visual_tokens", n_visual},
                    {"generated_ids", r.ids},
                    {"stop_reason", r.stop_reason},
                    {"timing", {{"prefill_s", r.prefill_seconds}, {"generate_s", r.generate_seconds}}}}
                   .dump()
            << "\n";
  return 0;
}

}  // namespace sfvu::cli
