#include "model_options.h"

#include <filesystem>

#include "sfvu/base/error.h"
#include "sfvu/pathways/torch_runtime.h"

namespace sfvu::cli {

void add_model_options(po::options_description& desc, bool model_required) {
  ModelOptions d;
  auto model = po::value<std::string>();
  if (model_required) model->required();
  desc.add_options()("model", model, "CLIP folder (config.json, model.safetensors, vocab.json, merges.txt)")
      ("dtype", po::value<std::string>()->default_value(d.dtype), "fp32 | bf16 | fp16")
      ("device", po::value<std::string>()->default_value(d.device), "cpu | cuda | cuda:N")
      ("torch-threads", po::value<int>()->default_value(d.threads), "torch threads (0 = one per core)")
      ("batch", po::value<int>()->default_value(d.batch), "images per forward pass");
}

ModelOptions model_options(const po::variables_map& vm) {
  ModelOptions o;
  if (vm.count("model")) o.model_dir = vm["model"].as<std::string>();
  o.dtype = vm["dtype"].as<std::string>();
  o.device = vm["device"].as<std::string>();
  o.threads = vm["torch-threads"].as<int>();
  o.batch = vm["batch"].as<int>();
  if (o.batch <= 0) throw UsageError("--batch must be > 0");
  return o;
}

torch::Dtype parse_dtype(const std::string& name) {
  if (name == "fp32") return torch::kFloat32;
  if (name == "bf16") return torch::kBFloat16;
  if (name == "fp16") return torch::kFloat16;
  throw UsageError("--dtype must be fp32, bf16 or fp16, got '" + name + "'");
}

torch::Device parse_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw UsageError("--device " + name + ": this libtorch build has no CUDA (or no GPU is visible)");
    return torch::Device(name);
  }
  throw UsageError("--device must be cpu or cuda[:N], got '" + name + "'");
}

LoadedClip load_clip(const ModelOptions& o) {
  if (o.threads > 0) pathways::configure_torch_runtime(o.threads);
  return pathways::ClipBundle::load(o.model_dir, parse_dtype(o.dtype), parse_device(o.device));
}

int resolve_layer(int layer, int num_layers, const std::string& what) {
  int index = layer < 0 ? num_layers + 1 + layer : layer;
  if (index < 0 || index > num_layers)
    throw UsageError(what + ": --layer " + std::to_string(layer) + " is outside 0.." + std::to_string(num_layers) +
                     " (or -1..-" + std::to_string(num_layers + 1) + " from the end)");
  return index;
}

torch::Tensor image_features(LoadedClip& clip, const torch::Tensor& pixels, int batch, std::optional<int> layer) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < pixels.size(0); i += batch) {
    torch::Tensor chunk = pixels.slice(0, i, std::min<int64_t>(pixels.size(0), i + batch));
    pathways::VisionOutput v = clip.model->vision(chunk, layer.has_value());
    torch::Tensor r;
    if (layer) {
      r = v.hidden_states[size_t(*layer)];
    } else {
      if (!v.embeds.defined()) throw UsageError("this checkpoint has no visual_projection: use --layer");
      r = v.embeds;
    }
    out.push_back(r.to(torch::kCPU, torch::kFloat32));
  }
  return out.empty() ? torch::zeros({0}) : torch::cat(out, 0);
}

}  // namespace sfvu::cli

