#include "llm_options.h"

#include <filesystem>

#include "model_options.h"
#include "sfvu/base/error.h"
#include "sfvu/decode/video_reader.h"
#include "sfvu/pathways/clip_preprocess.h"
#include "sfvu/pathways/json_fields.h"
#include "sfvu/pathways/torch_runtime.h"

namespace sfvu::cli {

namespace fs = std::filesystem;

bool is_llava_model_dir(const std::string& dir) {
  const fs::path config = fs::path(dir) / "config.json";
  std::error_code ec;
  if (!fs::is_regular_file(config, ec)) return false;
  const auto j = pathways::read_json_file(config.string());
  const std::string type = j.value("model_type", std::string());
  return type == "llava" || type == "llava_next" || type == "llava_onevision";
}

void add_llm_model_options(po::options_description& desc) {
  desc.add_options()("model", po::value<std::string>()->required(),
                     "LLaVA-family model folder (config.json, safetensors, tokenizer files)")
      ("dtype", po::value<std::string>()->default_value("fp32"), "fp32 | bf16 (weights and activations)")
      ("rope-scaling", po::value<std::string>(),
       "override config.json's rope_scaling: dynamic:F | linear:F | none (SF-LLaVA uses dynamic:2 on Vicuna)");
}

void add_sampling_options(po::options_description& desc, int default_max_new_tokens) {
  const fusion::SamplingOptions d;
  desc.add_options()("max-new-tokens", po::value<int>()->default_value(default_max_new_tokens), "tokens to generate at most")
      ("greedy", "greedy decoding (the default unless --temperature is given)")
      ("temperature", po::value<double>(), "sample at this temperature instead of greedy decoding")
      ("top-k", po::value<int>()->default_value(d.top_k), "sampling: keep the k most likely tokens (0 = all)")
      ("top-p", po::value<double>()->default_value(d.top_p, short_number(d.top_p)),
       "sampling: keep the smallest set of tokens whose probability reaches p")
      ("repetition-penalty", po::value<double>()->default_value(d.repetition_penalty, short_number(d.repetition_penalty)),
       "divide positive / multiply negative logits of tokens already present (1 = off)")
      ("seed", po::value<uint64_t>()->default_value(d.seed), "sampling seed");
}

fusion::SamplingOptions sampling_options(const po::variables_map& vm) {
  fusion::SamplingOptions s;
  if (vm.count("greedy") && vm.count("temperature")) throw UsageError("give --greedy or --temperature, not both");
  s.greedy = vm.count("temperature") == 0;
  if (!s.greedy) {
    s.temperature = vm["temperature"].as<double>();
    if (!(s.temperature > 0)) throw UsageError("--temperature must be > 0");
  }
  s.top_k = vm["top-k"].as<int>();
  s.top_p = vm["top-p"].as<double>();
  s.repetition_penalty = vm["repetition-penalty"].as<double>();
  s.seed = vm["seed"].as<uint64_t>();
  if (s.top_k < 0) throw UsageError("--top-k must be >= 0");
  if (!(s.top_p > 0 && s.top_p <= 1)) throw UsageError("--top-p must be in (0, 1]");
  if (!(s.repetition_penalty > 0)) throw UsageError("--repetition-penalty must be > 0");
  if (vm["max-new-tokens"].as<int>() < 1) throw UsageError("--max-new-tokens must be >= 1");
  return s;
}

fusion::LlavaModel load_llava(const po::variables_map& vm) {
  const std::string dir = vm["model"].as<std::string>();
  const std::string dtype_name = vm["dtype"].as<std::string>();
  if (dtype_name != "fp32" && dtype_name != "bf16")
    throw UsageError("--dtype must be fp32 or bf16 (libtorch has no fp16 CPU matmul), got '" + dtype_name + "'");
  fusion::LlavaConfig config = fusion::LlavaConfig::from_file((fs::path(dir) / "config.json").string());
  if (vm.count("rope-scaling")) config.text.rope_scaling = fusion::RopeScaling::parse(vm["rope-scaling"].as<std::string>());
  return fusion::LlavaModel(fusion::LlavaModelImpl::from_pretrained(dir, config, parse_dtype(dtype_name)));
}

std::unique_ptr<fusion::LlmTokenizer> load_llm_tokenizer(const po::variables_map& vm) {
  return fusion::LlmTokenizer::from_pretrained(vm["model"].as<std::string>());
}

std::vector<int64_t> stop_ids(const fusion::LlavaConfig& config, const fusion::LlmTokenizer* tokenizer) {
  std::vector<int64_t> ids = config.text.eos_token_ids;
  auto add = [&](int64_t id) {
    if (id >= 0 && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
  };
  if (tokenizer) {
    add(tokenizer->eos_id());
    add(tokenizer->token_id("<|im_end|>"));
  }
  return ids;
}

LlmFrames read_llm_frames(const std::string& video, const std::string& model_dir, const fusion::LlavaConfig& config,
                          int n_frames) {
  if (n_frames < 1) throw UsageError("--frames must be >= 1");
  const int size = config.vision_image_size();
  // The model's own normalisation when it ships a preprocessor config; else the tower's.
  pathways::ClipImageProcessor processor = pathways::ClipImageProcessor::for_size(size);
  if (config.vision_kind == fusion::LlavaConfig::VisionKind::kSiglip) {
    processor.mean = {0.5f, 0.5f, 0.5f};
    processor.std = {0.5f, 0.5f, 0.5f};
  }
  const fs::path pre = fs::path(model_dir) / "preprocessor_config.json";
  std::error_code ec;
  if (!model_dir.empty() && fs::is_regular_file(pre, ec)) {
    const pathways::ClipImageProcessor file = pathways::ClipImageProcessor::from_file(pre.string());
    processor.mean = file.mean;
    processor.std = file.std;
  }
  decode::VideoReader reader(decode::Source::path(video));
  // Squashed to the tower's square input, as SlowFast-LLaVA and OneVision's video processor do.
  decode::StreamRequest request{decode::SamplingPlan::uniform(n_frames),
                                decode::FrameFormat::square(size, decode::ResizeMode::kStretch)};
  decode::ReadResult r = reader.read({request});
  LlmFrames out;
  out.duration_seconds = reader.info().duration_seconds;
  decode::FrameBatch& batch = r.streams.at(0);
  if (batch.size() == 0) throw FormatError(video + ": no frames could be decoded");
  out.seconds = batch.pts_seconds;
  out.pixels = processor.normalize(pathways::frames_to_tensor(std::move(batch)));
  return out;
}

std::vector<int64_t> expand_placeholder(const std::vector<int64_t>& ids, int64_t placeholder_id, int64_t n_visual,
                                        const std::string& where) {
  std::vector<int64_t> out;
  int64_t found = 0;
  for (int64_t id : ids) {
    if (id != placeholder_id) {
      out.push_back(id);
      continue;
    }
    ++found;
    out.insert(out.end(), static_cast<size_t>(n_visual), placeholder_id);
  }
  if (found != 1)
    throw UsageError(where + ": the prompt must hold exactly one media placeholder (id " + std::to_string(placeholder_id) +
                     "), it holds " + std::to_string(found));
  return out;
}

}  // namespace sfvu::cli
