// LlavaModel: the modules (vision tower, projector, image_newline, language model), loading
// both checkpoint layouts, and the placeholder merge. Anyres images: llava_anyres.cpp; video
// layouts: llava_video.cpp.
#include "sfvu/fusion/llava_model.h"

#include <cmath>
#include <filesystem>

#include "sfvu/base/error.h"
#include "sfvu/base/log.h"
#include "sfvu/base/safetensors.h"
#include "sfvu/pathways/checkpoint_io.h"

namespace sfvu::fusion {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// Parameter paths are the old layout's keys; the new layout (transformers >= 4.52) moved
// everything but lm_head under "model." and dropped the language model's inner "model.".
struct LayoutRename {
  const char* old_prefix;
  const char* new_prefix;
};
constexpr LayoutRename kRenames[] = {{"language_model.model.", "model.language_model."},
                                     {"language_model.lm_head.", "lm_head."},
                                     {"vision_tower.", "model.vision_tower."},
                                     {"multi_modal_projector.", "model.multi_modal_projector."},
                                     {"image_newline", "model.image_newline"}};

std::string to_new_layout(const std::string& name) {
  for (const auto& r : kRenames)
    if (starts_with(name, r.old_prefix)) return r.new_prefix + name.substr(std::string(r.old_prefix).size());
  return name;
}

std::string to_old_layout(const std::string& name) {
  for (const auto& r : kRenames)
    if (starts_with(name, r.new_prefix)) return r.old_prefix + name.substr(std::string(r.new_prefix).size());
  return name;
}

bool is_new_layout(const SafetensorsCheckpoint& checkpoint) {
  for (const std::string& name : checkpoint.names())
    if (starts_with(name, "model.") || name == "lm_head.weight") return true;
  return false;
}

// Checkpoint tensors the model deliberately does not build (spec §2 "unused-but-present"):
// vision layers past the feature layer, SigLIP's attention-pool head, a tied model's lm_head.
bool known_unused(const std::string& old_name, const LlavaConfig& config) {
  const std::string layers = "vision_tower.vision_model.encoder.layers.";
  if (starts_with(old_name, layers)) {
    const std::string rest = old_name.substr(layers.size());
    try {
      return std::stoi(rest.substr(0, rest.find('.'))) >= config.vision_layers_needed();
    } catch (const std::exception&) {
      return false;
    }
  }
  if (starts_with(old_name, "vision_tower.vision_model.head.")) return true;
  return config.text.tie_word_embeddings && old_name == "language_model.lm_head.weight";
}

}  // namespace

VideoLayout parse_video_layout(const std::string& name) {
  if (name == "native") return VideoLayout::kNative;
  if (name == "slowfast") return VideoLayout::kSlowFast;
  throw UsageError("video layout must be native or slowfast, got '" + name + "'");
}

std::string to_string(VideoLayout layout) { return layout == VideoLayout::kNative ? "native" : "slowfast"; }

LlavaProjectorImpl::LlavaProjectorImpl(const LlavaConfig& c)
    : act_(pathways::parse_activation(c.projector_hidden_act, "projector_hidden_act")),
      linear_1(register_module("linear_1", torch::nn::Linear(c.vision_hidden_size(), c.text.hidden_size))),
      linear_2(register_module("linear_2", torch::nn::Linear(c.text.hidden_size, c.text.hidden_size))) {}

torch::Tensor LlavaProjectorImpl::forward(const torch::Tensor& features) {
  return linear_2(pathways::activate(linear_1(features.to(linear_1->weight.scalar_type())), act_));
}

LlavaVisionTowerImpl::LlavaVisionTowerImpl(const LlavaConfig& c)
    : drop_cls_(c.vision_feature_select_strategy == "default") {
  // hidden_states[k] is the output of layer k: build only the layers the feature layer reads.
  if (c.vision_kind == LlavaConfig::VisionKind::kClip) {
    pathways::ClipVisionConfig v = c.clip_vision;
    v.num_hidden_layers = c.vision_layers_needed();
    clip_ = register_module("vision_model", pathways::ClipVisionTransformer(v));
  } else {
    pathways::SiglipVisionConfig v = c.siglip_vision;
    v.num_hidden_layers = c.vision_layers_needed();
    siglip_ = register_module("vision_model", pathways::SiglipVisionTransformer(v));
  }
}

torch::Tensor LlavaVisionTowerImpl::forward(const torch::Tensor& pixels, std::vector<torch::Tensor>* hidden_states) {
  torch::Tensor x;  // [B, T, D]: hidden_states[feature layer]
  if (clip_) {
    pathways::VisionOutput out = clip_->forward(pixels, hidden_states != nullptr);
    if (hidden_states) *hidden_states = std::move(out.hidden_states);
    x = out.last_hidden_state;
  } else {
    x = siglip_->forward(pixels, hidden_states);
  }
  // transformers drops the first token under "default" whatever the tower (CLIP: the CLS).
  return drop_cls_ ? x.slice(1, 1) : x;
}

LlavaModelImpl::LlavaModelImpl(const LlavaConfig& config, torch::Dtype dtype)
    : config_(config),
      vision_tower_(register_module("vision_tower", LlavaVisionTower(config))),
      projector_(register_module("multi_modal_projector", LlavaProjector(config))),
      language_model_(register_module("language_model", LlmForCausalLM(config.text, dtype))) {
  vision_tower_->to(dtype);
  projector_->to(dtype);
  if (config_.has_image_newline()) {
    const int64_t d = config_.text.hidden_size;
    image_newline_ = register_parameter("image_newline", (torch::randn({d}) / std::sqrt(double(d))).to(dtype));
  }
}

std::shared_ptr<LlavaModelImpl> LlavaModelImpl::from_pretrained(const std::string& dir, torch::Dtype dtype,
                                                                torch::Device device) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw IoError(dir + ": not a model directory");
  return from_pretrained(dir, LlavaConfig::from_file((fs::path(dir) / "config.json").string()), dtype, device);
}

std::shared_ptr<LlavaModelImpl> LlavaModelImpl::from_pretrained(const std::string& dir, const LlavaConfig& config,
                                                                torch::Dtype dtype, torch::Device device) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) throw IoError(dir + ": not a model directory");
  const SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint::open(dir);
  const bool new_layout = is_new_layout(checkpoint);
  auto key = [new_layout](const std::string& name) { return new_layout ? to_new_layout(name) : name; };

  LlavaConfig c = config;
  // A top-level tie_word_embeddings with no lm_head on disk and a text_config silent on it:
  // transformers would leave lm_head random; tying is what such a checkpoint means.
  if (!c.text.tie_word_embeddings && c.tie_word_embeddings &&
      !checkpoint.contains(key("language_model.lm_head.weight")))
    c.text.tie_word_embeddings = true;

  auto model = std::make_shared<LlavaModelImpl>(c, dtype);  // the checkpoint's F16 / BF16 converts on copy
  pathways::LoadOptions options;
  // post_layernorm: never applied (LLaVA takes the encoder's hidden states), so neither
  // loaded nor required. inv_freq: stored by old Llama checkpoints, recomputed.
  options.ignore_suffixes = {"position_ids", "vision_model.post_layernorm.weight", "vision_model.post_layernorm.bias",
                             "rotary_emb.inv_freq"};
  options.checkpoint_key = key;
  options.report_unexpected = false;
  const pathways::LoadReport report = pathways::load_checkpoint(*model, checkpoint, options);

  std::vector<std::string> unexpected;
  for (const std::string& name : report.unexpected)
    if (!known_unused(to_old_layout(name), c)) unexpected.push_back(name);
  if (!unexpected.empty()) {
    std::string list;
    for (size_t i = 0; i < unexpected.size() && i < 8; ++i) list += (i ? ", " : "") + unexpected[i];
    if (unexpected.size() > 8) list += ", ... (" + std::to_string(unexpected.size()) + " in all)";
    log_message(LogLevel::kWarning, checkpoint.path() + ": ignored " + std::to_string(unexpected.size()) +
                                        " tensor(s) the model does not use: " + list);
  }
  model->to(device);
  model->eval();
  return model;
}

torch::Tensor LlavaModelImpl::image_features(const torch::Tensor& pixels, std::vector<torch::Tensor>* hidden_states) {
  torch::NoGradGuard no_grad;
  const int s = config_.vision_image_size();
  if (pixels.dim() != 4 || pixels.size(1) != 3 || pixels.size(2) != s || pixels.size(3) != s)
    throw UsageError("LLaVA vision tower: pixels must be [batch, 3, " + std::to_string(s) + ", " + std::to_string(s) +
                     "]");
  return vision_tower_->forward(pixels, hidden_states);
}

torch::Tensor LlavaModelImpl::project(const torch::Tensor& features) {
  torch::NoGradGuard no_grad;
  return projector_->forward(features);
}

torch::Tensor LlavaModelImpl::projected_features(const torch::Tensor& pixels, int64_t frames_per_chunk) {
  if (frames_per_chunk < 1) throw UsageError("frames_per_chunk must be >= 1");
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < pixels.size(0); i += frames_per_chunk)
    parts.push_back(project(image_features(pixels.slice(0, i, i + frames_per_chunk))));
  if (parts.size() == 1) return parts[0];
  return torch::cat(parts, 0);
}

torch::Tensor LlavaModelImpl::merge(const torch::Tensor& input_ids, const torch::Tensor& visual) {
  torch::NoGradGuard no_grad;
  torch::Tensor ids = input_ids.reshape({-1}).to(device(), torch::kInt64);
  torch::Tensor embeds = language_model_->embed(ids);  // [T, D]
  torch::Tensor slots = ids == config_.image_token_index;
  if (config_.video_token_index >= 0) slots = slots | (ids == config_.video_token_index);
  const int64_t n_slots = slots.sum().item<int64_t>();
  const int64_t n_visual = visual.defined() ? visual.size(0) : 0;
  if (n_slots != n_visual)
    throw FormatError("LLaVA merge: the prompt has " + std::to_string(n_slots) + " placeholder slots (ids " +
                      std::to_string(config_.image_token_index) +
                      (config_.video_token_index >= 0 ? " / " + std::to_string(config_.video_token_index) : "") +
                      ") but there are " + std::to_string(n_visual) + " visual embeddings");
  if (n_slots == 0) return embeds;
  if (visual.dim() != 2 || visual.size(1) != embeds.size(1))
    throw UsageError("LLaVA merge: visual embeddings must be [N, " + std::to_string(embeds.size(1)) + "]");
  embeds.index_put_({slots}, visual.to(embeds.device(), embeds.scalar_type()));
  return embeds;
}

torch::Dtype LlavaModelImpl::dtype() const { return projector_->parameters().front().scalar_type(); }

torch::Device LlavaModelImpl::device() const { return projector_->parameters().front().device(); }

}  // namespace sfvu::fusion
