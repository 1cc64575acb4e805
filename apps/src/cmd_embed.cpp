#include <iostream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "cli_common.h"
#include "commands.h"
#include "model_options.h"
#include "sfvu/base/error.h"

namespace sfvu::cli {
namespace {

// One image file as uint8 [1, H, W, 3] RGB.
torch::Tensor read_image(const std::string& path) {
  cv::Mat bgr = cv::imread(path, cv::IMREAD_COLOR);
  if (bgr.empty()) throw IoError(path + ": cannot read as an image");
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return torch::from_blob(rgb.data, {1, rgb.rows, rgb.cols, 3}, torch::kUInt8).clone();
}

}  // namespace

// sfvu embed --model DIR (--pixels FILE.npy | --image FILE... | --text T...) --out FILE.npy
//   [--layer K] [--normalize] [--dtype fp32|bf16]
int cmd_embed(const Args& args) {
  po::options_description desc("embed options");
  desc.add_options()("pixels", po::value<std::string>(), "preprocessed float32 [N,3,H,W] .npy")
      ("image", po::value<std::vector<std::string>>()->multitoken(), "image files (PNG, JPEG, ...)")
      ("text", po::value<std::vector<std::string>>()->multitoken(), "texts")
      ("out", po::value<std::string>()->required(), "output .npy (float32)")
      ("layer", po::value<int>(), "write the hidden states of layer K [N, T, D] instead of embeddings "
                                  "(0 = embeddings output, -1 = last, -2 = penultimate)")
      ("normalize", "L2-normalise the embeddings");
  add_model_options(desc);
  po::positional_options_description pos;
  po::variables_map vm;
  if (!parse_args("embed", "--model DIR (--pixels FILE.npy | --image FILE... | --text T...) --out FILE.npy", args, desc,
                  pos, vm))
    return 0;
  int inputs = int(vm.count("pixels")) + int(vm.count("image")) + int(vm.count("text"));
  if (inputs != 1) throw UsageError("embed: give exactly one of --pixels, --image, --text");
  if (vm.count("layer") && vm.count("normalize")) throw UsageError("embed: --normalize applies to embeddings, not --layer");
  ModelOptions mo = model_options(vm);
  LoadedClip clip = load_clip(mo);
  torch::NoGradGuard no_grad;
  torch::Tensor out;
  if (vm.count("text")) {
    const auto& texts = vm["text"].as<std::vector<std::string>>();
    std::vector<int64_t> ids;
    for (const auto& t : texts) {
      auto row = clip.require_tokenizer().encode_padded(t);
      ids.insert(ids.end(), row.begin(), row.end());
    }
    torch::Tensor id_tensor =
        torch::from_blob(ids.data(), {int64_t(texts.size()), pathways::ClipTokenizer::kContextLength}, torch::kInt64)
            .clone();
    std::optional<int> layer;
    if (vm.count("layer"))
      layer = resolve_layer(vm["layer"].as<int>(), clip.model->config().text.num_hidden_layers, "text");
    pathways::TextOutput t = clip.model->text(id_tensor, layer.has_value());
    if (layer) out = t.hidden_states[size_t(*layer)];
    else if (t.embeds.defined()) out = t.embeds;
    else throw UsageError("this checkpoint has no text_projection: use --layer");
  } else {
    torch::Tensor pixels;
    if (vm.count("pixels")) {
      pixels = read_npy_tensor(vm["pixels"].as<std::string>());
      if (pixels.dim() != 4 || pixels.size(1) != 3 || pixels.scalar_type() != torch::kFloat32)
        throw FormatError(vm["pixels"].as<std::string>() + ": expected float32 [N, 3, H, W] pixels");
    } else {
      std::vector<torch::Tensor> each;
      for (const auto& path : vm["image"].as<std::vector<std::string>>()) each.push_back(clip.processor(read_image(path)));
      pixels = torch::cat(each, 0);
    }
    std::optional<int> layer;
    if (vm.count("layer"))
      layer = resolve_layer(vm["layer"].as<int>(), clip.model->config().vision.num_hidden_layers, "vision");
    out = image_features(clip, pixels, mo.batch, layer);
  }
  out = out.to(torch::kCPU, torch::kFloat32);
  if (vm.count("normalize")) out = out / out.norm(2, -1, true);
  write_npy_tensor(vm["out"].as<std::string>(), out);
  std::cerr << "sfvu: wrote " << vm["out"].as<std::string>() << " " << out.sizes() << "\n";
  return 0;
}

}  // namespace sfvu::cli
