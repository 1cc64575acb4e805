#include "sfvu/pathways/clip_model.h"

#include <cmath>
#include <filesystem>

#include "sfvu/base/error.h"
#include "sfvu/base/safetensors.h"
#include "sfvu/pathways/checkpoint_io.h"

namespace sfvu::pathways {

ClipModelImpl::ClipModelImpl(const ClipConfig& config, ClipParts parts) : config_(config), parts_(parts) {
  if (!parts_.text) parts_.text_projection = false;
  vision_model = register_module("vision_model", ClipVisionTransformer(config_.vision));
  if (parts_.visual_projection)
    visual_projection = register_module(
        "visual_projection",
        torch::nn::Linear(torch::nn::LinearOptions(config_.vision.hidden_size, config_.projection_dim).bias(false)));
  if (parts_.text) {
    text_model = register_module("text_model", ClipTextTransformer(config_.text));
    if (parts_.text_projection)
      text_projection = register_module(
          "text_projection",
          torch::nn::Linear(torch::nn::LinearOptions(config_.text.hidden_size, config_.projection_dim).bias(false)));
    logit_scale = register_parameter("logit_scale", torch::full({}, config_.logit_scale_init_value));
  }
}

std::shared_ptr<ClipModelImpl> ClipModelImpl::from_pretrained(const std::string& dir, torch::Dtype dtype,
                                                              torch::Device device) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw IoError(dir + ": not a model directory");
  ClipConfig config = ClipConfig::from_file((fs::path(dir) / "config.json").string());
  SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint::open(dir);
  ClipParts parts;
  parts.text = false;
  for (const std::string& name : checkpoint.names())
    if (name.rfind("text_model.", 0) == 0) parts.text = true;
  parts.visual_projection = checkpoint.contains("visual_projection.weight");
  parts.text_projection = checkpoint.contains("text_projection.weight");
  auto model = std::make_shared<ClipModelImpl>(config, parts);
  load_checkpoint(*model, checkpoint);
  model->eval();
  model->to(device, dtype);
  return model;
}

VisionOutput ClipModelImpl::vision(const torch::Tensor& pixels, bool keep_hidden_states) {
  if (pixels.dim() != 4 || pixels.size(1) != config_.vision.num_channels)
    throw UsageError("CLIP vision: pixels must be [batch, " + std::to_string(config_.vision.num_channels) +
                     ", height, width]");
  VisionOutput out = vision_model->forward(pixels, keep_hidden_states);
  if (parts_.visual_projection) out.embeds = visual_projection(out.pooled);
  return out;
}

TextOutput ClipModelImpl::text(const torch::Tensor& ids, bool keep_hidden_states) {
  if (!parts_.text) throw UsageError("this CLIP checkpoint has no text tower (vision-only)");
  TextOutput out = text_model->forward(ids, keep_hidden_states);
  if (parts_.text_projection) out.embeds = text_projection(out.pooled);
  return out;
}

double ClipModelImpl::logit_scale_exp() const {
  return logit_scale.defined() ? std::exp(logit_scale.to(torch::kCPU, torch::kFloat64).item<double>()) : 1.0;
}

torch::Tensor ClipModelImpl::logits_per_image(const torch::Tensor& image_embeds, const torch::Tensor& text_embeds) {
  if (!logit_scale.defined()) throw UsageError("this CLIP checkpoint has no logit_scale (vision-only)");
  torch::Tensor i = image_embeds / image_embeds.norm(2, -1, true);
  torch::Tensor t = text_embeds / text_embeds.norm(2, -1, true);
  return logit_scale.exp() * torch::matmul(i, t.t());
}

torch::Dtype ClipModelImpl::dtype() const {
  return parameters().front().scalar_type();
}

torch::Device ClipModelImpl::device() const { return parameters().front().device(); }

}  // namespace sfvu::pathways
