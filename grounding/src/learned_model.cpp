#include "sfvu/grounding/learned_model.h"
#include "sfvu/grounding/learned_head.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "sfvu/base/error.h"
#include "sfvu/base/safetensors.h"
#include "sfvu/pathways/checkpoint_io.h"
#include "sfvu/pathways/json_fields.h"
#include "sfvu/pathways/place_flow.h"
#include "sfvu/pathways/slowfast_encoder.h"
#include "sfvu/pathways/slowfast_layout.h"

namespace sfvu::grounding {
namespace fs = std::filesystem;

namespace {

// Note [Place flow]: the fast timeline reads the fast frames' motion when the model was trained so.
bool reads_flow(const LearnedModelConfig& c) {
  return c.slowfast.fast_flow && !c.reads_features() && c.pathways != PathwayMode::kSlow;
}
constexpr int kFlowChannels = 4;  // per place: u, v and their means over the window (with_flow)

// Note [Flow gain]
// Each place's entry in the timeline is its token, the token's change and 4 flow channels
// (Note [Place flow]): 128 channels against 4 at the benchmark's width, and the flow is
// 0.3-0.7 px a step where a shape moves. Behind a layer norm whose gains all start at 1, the
// flow carries a few percent of what the match's convolution and the timeline projection see,
// and the direction is learned only once training has grown those weights several times over:
// the bundled model (it tells a move from the move back) ended with its motion match's weights
// on the flow channels at 2.7-3.3 (norm over outputs and taps) against 0.66 on the tokens and
// 1.5 on the changes, its norm's flow gains at 1.6-1.8; two 1550-step runs that never told "moves
// up" from "moves down" (their moments and scores equal to 3 decimals) at 0.9-1.6 and 1.2-1.4.
// Fresh models therefore start each of the three norms that read a place's channels with the
// flow's gains at sqrt(other channels / flow channels), so the flow carries as much of the
// input's variance as the rest does; the other gains stay 1. Loaded models keep their own.
void raise_flow_gain(torch::nn::LayerNormImpl& norm, int64_t width) {
  if (width <= kFlowChannels || norm.weight.numel() % width != 0)
    throw UsageError("flow gain: a norm over places of " + std::to_string(width) + " channels");
  torch::NoGradGuard no_grad;
  const double gain = std::sqrt(double(width - kFlowChannels) / kFlowChannels);
  norm.weight.view({-1, width}).narrow(1, width - kFlowChannels, kFlowChannels).fill_(gain);
}

// Note [Flow scale]
// The place norms read a place's token, its change and its flow together (Note [Flow gain]), so
// the flow's part of what they pass on is its size against the tokens'. The tokens' size is the
// backbone's to choose: `sfvu bench alignment` measured the fast tokens' RMS per channel at
// 2.2-2.3 in two trained models of the pixel / grid-16 recipe and 3.2-3.9 in two of the same
// recipe's models after a slow warm-up, against a flow of 0.07 px per channel (a moving place 0.3-0.7),
// and none of those with a warm-up told a move from the move back. With fusion.flow_scale
// "tokens" each step's flow channels are multiplied by that step's RMS over its token and change
// channels (no gradient through it) over 0.5 px: a place moving 0.5 px a step then has flow
// channels as large as its average token channel, whatever the backbone's scale, which is what
// the flow gains were set for. "raw" (pixels per step) is what models before it read.
// Measured (README, "What the warm-up cost: the flow's share"; pixel / grid-16 recipe, dot
// warm-up with fast frames, 1600 steps): seeds 0 and 1 told the moves apart (motion R1@0.5 90.0
// and 86.7, from 45.0 at seed 0 without it) and scored test R1@0.5 / R1@0.7 80.0 / 73.3 and
// 76.1 / 70.0, QA 85.0 % both.
constexpr double kFlowUnit = 0.5;  // pixels per step at the fast size

// Each text's mean token over its real tokens: [B, L, D] -> [B, D].
torch::Tensor mean_token(const TextBatch& text) {
  torch::Tensor m = text.mask.unsqueeze(-1).to(text.features.scalar_type());
  return (text.features * m).sum(1) / m.sum(1).clamp_min(1);
}

// Late interaction (Note [Backbone alignment], Note [Motion match]): each text's projected
// mean token `words` [B, A] against every place `places` [T, P, A] of every frame, by cosine;
// a frame's logit is scale.exp() times its best place's cosine plus bias: [B, T].
torch::Tensor best_place_logits(const torch::Tensor& places, const torch::Tensor& words, const torch::Tensor& scale,
                                const torch::Tensor& bias) {
  namespace F = torch::nn::functional;
  torch::Tensor sim = torch::einsum("ba,tpa->btp", {F::normalize(words, F::NormalizeFuncOptions().dim(1)),
                                                    F::normalize(places, F::NormalizeFuncOptions().dim(2))});
  return scale.exp() * std::get<0>(sim.max(2)) + bias;
}

// Token grid of one pathway's frames after pooling (the planner's rule).
std::pair<int, int> token_grid(const pathways::PathwayOptions& p, const pathways::ClipVisionConfig& vision) {
  const int grid = pathways::resolve_input_size(p, vision) / vision.patch_size;
  int h = p.pool_h > 0 ? std::min(p.pool_h, grid) : grid;
  int w = p.pool_w > 0 ? std::min(p.pool_w, grid) : grid;
  if (p.pair_max_pool) w /= 2;
  return {h, w};
}

// The planner's pooling for this pathway (a pool larger than the grid keeps the grid).
pathways::PathwayPlan pooling_of(const pathways::PathwayOptions& p, const pathways::ClipVisionConfig& vision) {
  const int grid = pathways::resolve_input_size(p, vision) / vision.patch_size;
  pathways::PathwayPlan plan;
  plan.pool_h = p.pool_h > 0 ? std::min(p.pool_h, grid) : 0;
  plan.pool_w = p.pool_w > 0 ? std::min(p.pool_w, grid) : 0;
  plan.pair_max_pool = p.pair_max_pool;
  return plan;
}

int resolved_layer(const LearnedModelConfig& c) {
  const int L = c.backbone.vision.num_hidden_layers;
  return c.slowfast.layer < 0 ? L + 1 + c.slowfast.layer : c.slowfast.layer;
}

}  // namespace

// Note [Motion tokens]
// A movement is in no single frame, and the fusion meets each fast frame's tokens one step at
// a time: a movement had to be pieced together from the positions that the steps' tokens
// encode, through the temporal convolution and attention after the text enters. With
// fusion.motion_seconds S, each step's tokens are joined by their change around it,
// token[t + K] - token[t - K] with K = S in steps (indices clamped at the ends: a crop or a
// video's edge has no change beyond it), token by token at the same place in the grid: a shape
// that moves leaves some patches and enters others, which the difference of their embeddings
// shows directly (the patch projection is linear). The timeline input and the tokens each text
// matches per step (Note [SlowFast fusion]) are twice as wide; nothing else changes. S is in
// seconds so that a slow-only timeline (1 fps) compares the same span as the fast one (8 fps).
// Measured on the synthetic benchmark (20-minute runs on the same machine, grounded QA both):
// +-1 s (8 fast steps) took test R1@0.5 / R1@0.7 from 32.2 / 24.4 to 47.2 / 39.4 (motion
// 16.7 -> 48.3) and found one of the queried shape's two moves for 110 of 120 motion queries
// instead of 60; +-0.25 s (2 steps, about a pixel of travel at the fast size) did less (30.6 /
// 27.2, 98 of 120). Which way the shape moved was still not told apart (the top moment was the
// queried move or the one back equally often) until the timeline also read the pixels' motion
// (Note [Place flow] in pathways/src/place_flow.cpp).
int motion_steps(const std::vector<double>& times, double seconds) {
  if (times.size() < 2) return 1;
  const double step = (times.back() - times.front()) / double(times.size() - 1);
  return step > 0 ? int(std::max<long long>(1, std::llround(seconds / step))) : 1;
}

torch::Tensor with_motion(const torch::Tensor& grid, int offset) {
  if (grid.dim() != 4 || offset <= 0) throw UsageError("with_motion: token grids [T, h, w, D] and an offset > 0");
  const int64_t T = grid.size(0);
  torch::Tensor later = torch::arange(T, torch::kInt64).add(offset).clamp_max(T - 1).to(grid.device());
  torch::Tensor earlier = torch::arange(T, torch::kInt64).sub(offset).clamp_min(0).to(grid.device());
  return torch::cat({grid, grid.index_select(0, later) - grid.index_select(0, earlier)}, -1);
}

torch::Tensor flow_to_token_scale(const torch::Tensor& grid) {
  if (grid.dim() != 4 || grid.size(3) <= kFlowChannels)
    throw UsageError("flow_to_token_scale: grids [T, h, w, D + " + std::to_string(kFlowChannels) + " flow channels]");
  const int64_t rest = grid.size(3) - kFlowChannels;
  torch::Tensor tokens = grid.narrow(3, 0, rest);
  torch::Tensor scale = tokens.detach().pow(2).mean({1, 2, 3}, /*keepdim=*/true).sqrt() / kFlowUnit;
  return torch::cat({tokens, grid.narrow(3, rest, kFlowChannels) * scale}, 3);
}

torch::Tensor with_flow(const torch::Tensor& grid, const torch::Tensor& flow, int window) {
  if (grid.dim() != 4 || flow.dim() != 4 || flow.size(3) != 2 || flow.size(0) != grid.size(0) ||
      flow.size(1) != grid.size(1) || flow.size(2) != grid.size(2) || window < 0)
    throw UsageError("with_flow: grids [T, h, w, D], flow [T, h, w, 2] and a window >= 0");
  const int64_t T = grid.size(0);
  torch::Tensor f = flow.to(grid.device(), grid.scalar_type());
  // Window sums from a cumulative sum: rows [lo, hi] = cs[hi + 1] - cs[lo].
  torch::Tensor cs = torch::cat({torch::zeros_like(f.narrow(0, 0, 1)), f.cumsum(0)});
  torch::Tensor lo = torch::arange(T, torch::kInt64).sub(window).clamp_min(0).to(grid.device());
  torch::Tensor hi = torch::arange(T, torch::kInt64).add(window).clamp_max(T - 1).to(grid.device());
  torch::Tensor mean = (cs.index_select(0, hi + 1) - cs.index_select(0, lo)) /
                       (hi - lo + 1).to(grid.scalar_type()).reshape({T, 1, 1, 1});
  return torch::cat({grid, f, mean}, -1);
}

int FeatureInputConfig::timeline_dim() const {
  int d = tef ? 2 : 0;
  for (int s : source_dims) d += s;
  return d;
}

int FeatureInputConfig::detail_dim() const {
  for (size_t i = 0; i < sources.size() && i < source_dims.size(); ++i)
    if (sources[i] == detail_source) return source_dims[i];
  return timeline_dim();
}

fusion::FusionConfig LearnedModelImpl::fusion_shape(const LearnedModelConfig& config) {
  fusion::FusionConfig f = config.fusion;
  if (config.reads_features()) {
    // Note [Feature input]: a clip row is a timeline step with no token grid of its own.
    f.timeline_dim = config.features.timeline_dim();
    f.slow_dim = config.features.detail_dim();
    f.text_dim = config.features.query_dim;
    f.timeline_token_dim = 0;
    f.motion_match = 0;  // no token grid to match
    f.detail_match = false;
    return f;
  }
  const auto& vision = config.backbone.vision;
  auto [fh, fw] = token_grid(config.slowfast.fast, vision);
  const int halves = f.motion_seconds > 0 ? 2 : 1;  // Note [Motion tokens]
  const int flow = reads_flow(config) ? kFlowChannels : 0;  // Note [Place flow]
  f.timeline_token_dim = vision.hidden_size * halves + flow;
  f.timeline_dim = fh * fw * f.timeline_token_dim;
  f.slow_dim = vision.hidden_size;
  f.text_dim = config.backbone.text.hidden_size;
  return f;
}

LearnedModelImpl::LearnedModelImpl(LearnedModelConfig config, std::shared_ptr<const fusion::WordTokenizer> words,
                                   std::shared_ptr<const pathways::ClipTokenizer> bpe)
    : config_(std::move(config)), words_(std::move(words)), bpe_(std::move(bpe)) {
  const bool features = config_.reads_features();
  if (!features && config_.tokenizer == "word" && !words_) throw UsageError("learned model: the word tokenizer is missing");
  if (!features && config_.tokenizer == "clip" && !bpe_) throw UsageError("learned model: the CLIP tokenizer is missing");
  if (!features && config_.tokenizer == "word" && words_->vocab_size() != config_.backbone.text.vocab_size)
    throw FormatError("learned model: the word vocabulary has " + std::to_string(words_->vocab_size()) +
                      " ids but the text tower " + std::to_string(config_.backbone.text.vocab_size));
  config_.fusion = fusion_shape(config_);
  config_.grounding.d_model = config_.fusion.d_model;
  if (features) {
    // Note [Feature input]: the fusion and the grounding head alone, the same code as for videos.
    fusion = register_module("fusion", fusion::SlowFastFusion(config_.fusion));
    grounding_head = register_module("grounding_head", GroundingHead(config_.grounding));
    return;
  }
  backbone_ = register_module("backbone", pathways::ClipModel(config_.backbone, config_.backbone_parts));
  processor_ = pathways::ClipImageProcessor::for_size(config_.backbone.vision.image_size);
  fusion = register_module("fusion", fusion::SlowFastFusion(config_.fusion));
  grounding_head = register_module("grounding_head", GroundingHead(config_.grounding));
  qa_head = register_module("qa_head",
                            QaHead(config_.fusion.d_model, config_.fusion.text_dim, config_.qa_scoring == "option"));
  const int align_dim = config_.fusion.d_model / 2;
  align_frame = register_module("align_frame", torch::nn::Linear(config_.backbone.vision.hidden_size, align_dim));
  align_text = register_module("align_text", torch::nn::Linear(config_.backbone.text.hidden_size, align_dim));
  align_scale = register_parameter("align_scale", torch::full({1}, std::log(10.0)));
  align_bias = register_parameter("align_bias", torch::full({1}, -2.0));
  if (config_.fusion.align_heads == "pathway") {  // Note [Alignment heads]
    align_frame_fast =
        register_module("align_frame_fast", torch::nn::Linear(config_.backbone.vision.hidden_size, align_dim));
    align_scale_fast = register_parameter("align_scale_fast", torch::full({1}, std::log(10.0)));
    align_bias_fast = register_parameter("align_bias_fast", torch::full({1}, -2.0));
  }
  if (const int m = config_.fusion.motion_match; m > 0) {  // Note [Motion match]
    const int width = config_.fusion.timeline_token_dim;
    if (width <= 0) throw UsageError("learned model: a motion match needs the timeline's tokens");
    motion_norm = register_module("motion_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
    motion_frame = register_module("motion_frame",
                                   torch::nn::Conv2d(torch::nn::Conv2dOptions(width, m, 3).padding(1)));
    motion_text = register_module("motion_text", torch::nn::Linear(config_.backbone.text.hidden_size, m));
    if (const int k = config_.fusion.motion_match_steps; k > 1) {
      // Residual and zero at the start: the match begins as the per-step one.
      motion_time = register_module(
          "motion_time", torch::nn::Conv1d(torch::nn::Conv1dOptions(m, m, k).padding(k / 2).groups(m)));
      torch::NoGradGuard no_grad;
      motion_time->weight.zero_();
      motion_time->bias.zero_();
    }
    motion_scale = register_parameter("motion_scale", torch::full({1}, std::log(10.0)));
    motion_bias = register_parameter("motion_bias", torch::full({1}, -2.0));
  }
  if (reads_flow(config_)) {  // Note [Flow gain]
    const int64_t width = config_.fusion.timeline_token_dim;
    for (auto norm : fusion->place_norms()) raise_flow_gain(*norm, width);
    if (motion_norm) raise_flow_gain(*motion_norm, width);
  }
  if (config_.backbone_frozen)
    for (auto& p : backbone_->parameters()) p.set_requires_grad(false);
}

std::shared_ptr<LearnedModelImpl> LearnedModelImpl::load(const std::string& dir, torch::Device device) {
  const fs::path root(dir);
  const std::string config_path = (root / "config.json").string();
  LearnedModelConfig config = LearnedModelConfig::from_json(pathways::read_json_file(config_path), config_path);
  std::shared_ptr<const fusion::WordTokenizer> words;
  std::shared_ptr<const pathways::ClipTokenizer> bpe;
  if (config.reads_features()) {
    // No text tower: the queries are read as features.
  } else if (config.tokenizer == "word") {
    words = std::make_shared<const fusion::WordTokenizer>(
        fusion::WordTokenizer::from_file((root / "tokenizer_words.json").string()));
  } else {
    bpe = std::make_shared<const pathways::ClipTokenizer>(pathways::ClipTokenizer::from_pretrained(dir));
  }
  auto model = std::make_shared<LearnedModelImpl>(config, words, bpe);
  if (!config.reads_features()) {
    model->tokenizer_dir_ = dir;
    model->processor_ = pathways::ClipImageProcessor::from_pretrained(dir, config.backbone.vision.image_size);
  }
  const std::string weights = (root / "model.safetensors").string();
  if (!fs::exists(weights)) throw IoError(weights + ": missing");
  pathways::load_checkpoint(*model, SafetensorsCheckpoint::open(weights));
  model->to(device);
  model->eval();
  return model;
}

void LearnedModelImpl::load_backbone(const std::string& clip_dir) {
  if (!backbone_) throw UsageError("a feature model has no backbone to load " + clip_dir + " into");
  pathways::load_checkpoint(*backbone_, SafetensorsCheckpoint::open(clip_dir));
  processor_ = pathways::ClipImageProcessor::from_pretrained(clip_dir, config_.backbone.vision.image_size);
  tokenizer_dir_ = clip_dir;
}

void LearnedModelImpl::save(const std::string& dir) const {
  const fs::path root(dir);
  std::error_code ec;
  fs::create_directories(root, ec);
  if (ec) throw IoError(dir + ": cannot create: " + ec.message());
  if (!words_ && !tokenizer_dir_.empty() && !fs::equivalent(tokenizer_dir_, root, ec))
    for (const char* name : {"vocab.json", "merges.txt", "preprocessor_config.json"}) {
      const fs::path from = fs::path(tokenizer_dir_) / name;
      if (!fs::exists(from)) continue;
      fs::copy_file(from, root / name, fs::copy_options::overwrite_existing, ec);
      if (ec) throw IoError((root / name).string() + ": cannot write: " + ec.message());
    }
  pathways::save_checkpoint(*this, (root / "model.safetensors").string(),
                            {{"format", "pt"}, {"sfvu_model", kLearnedModelType},
                             {"version", std::to_string(config_.version())}});
  if (words_) words_->save((root / "tokenizer_words.json").string());
  pathways::write_text_file_atomic((root / "config.json").string(), config_.to_json().dump(2) + "\n");
}

pathways::ClipBundle LearnedModelImpl::bundle(const std::string& dir) const {
  if (!backbone_)
    throw UsageError(dir + " is a model trained on pre-extracted features: it cannot encode videos "
                           "(run `sfvu predict --task grounding --features FEATURE_DIR` with it)");
  pathways::ClipBundle b;
  b.model = backbone_;
  b.tokenizer = bpe_;
  b.processor = processor_;
  b.dir = dir;
  b.fingerprint = pathways::folder_fingerprint(dir);
  return b;
}

TextBatch LearnedModelImpl::encode_text(const std::vector<std::string>& texts) {
  if (texts.empty()) throw UsageError("encode_text: no text");
  if (!backbone_) throw UsageError("a feature model has no text encoder: its queries are read from qid<qid>.npz");
  const int max_len = std::min(config_.max_text_tokens, config_.backbone.text.max_position_embeddings);
  std::vector<std::vector<int64_t>> ids;
  size_t longest = 0;
  for (const auto& t : texts) {
    ids.push_back(words_ ? words_->encode(t, max_len) : bpe_->encode(t, max_len));
    longest = std::max(longest, ids.back().size());
  }
  const int64_t B = int64_t(texts.size()), L = int64_t(longest);
  torch::Tensor id = torch::zeros({B, L}, torch::kInt64);
  torch::Tensor mask = torch::zeros({B, L}, torch::kBool);
  for (int64_t b = 0; b < B; ++b)
    for (size_t i = 0; i < ids[size_t(b)].size(); ++i) {
      id[b][int64_t(i)] = ids[size_t(b)][i];
      mask[b][int64_t(i)] = true;
    }
  const auto device = backbone_->device();
  pathways::TextOutput out = backbone_->text(id.to(device));
  return {out.last_hidden_state, mask.to(device)};
}

VideoFeatures LearnedModelImpl::encode_frames(const torch::Tensor& slow_frames, std::vector<double> slow_seconds,
                                              const torch::Tensor& fast_frames, std::vector<double> fast_seconds,
                                              double duration_seconds) {
  if (!backbone_) throw UsageError("a feature model has no backbone to encode frames with");
  const int layer = resolved_layer(config_);
  VideoFeatures v;
  v.duration_seconds = duration_seconds;
  if (slow_frames.defined() && slow_frames.size(0) > 0)
    v.slow = pathways::SlowFastEncoder::pool(pathways::backbone_grid(backbone_, processor_, layer, slow_frames),
                                             pooling_of(config_.slowfast.slow, config_.backbone.vision));
  if (fast_frames.defined() && fast_frames.size(0) > 0)
    v.fast = pathways::SlowFastEncoder::pool(pathways::backbone_grid(backbone_, processor_, layer, fast_frames),
                                             pooling_of(config_.slowfast.fast, config_.backbone.vision));
  if (config_.slowfast.fast_flow && v.fast.defined())
    v.fast_flow = pathways::place_flow(fast_frames, v.fast.size(1), v.fast.size(2));
  v.slow_seconds = std::move(slow_seconds);
  v.fast_seconds = std::move(fast_seconds);
  return v;
}

VideoFeatures LearnedModelImpl::from_tokens(const pathways::VideoTokens& tokens) {
  return {tokens.slow, tokens.fast, tokens.fast_flow, tokens.slow_pts_seconds, tokens.fast_pts_seconds,
          tokens.duration_seconds};
}

torch::Tensor LearnedModelImpl::fuse(const VideoFeatures& v, const TextBatch& text, std::vector<double>* times,
                                     DetailProbe* probe, torch::Tensor* motion) {
  const auto device = text.features.device();
  auto seconds = [](const std::vector<double>& t) { return torch::tensor(t, torch::kFloat64); };
  auto [fh, fw] = config_.reads_features() ? std::pair{1, 1} : token_grid(config_.slowfast.fast, config_.backbone.vision);
  const bool need_slow = config_.pathways != PathwayMode::kFast, need_fast = config_.pathways != PathwayMode::kSlow;
  if (need_slow && (!v.slow.defined() || v.slow.size(0) == 0))
    throw FormatError("the video has no slow frame (this model needs the slow pathway)");
  if (need_fast && (!v.fast.defined() || v.fast.size(0) == 0))
    throw FormatError("the video has no fast frame (this model needs the fast pathway)");
  fusion::FusionInput in;
  in.text = text.features;
  in.text_mask = text.mask;
  torch::Tensor grid;  // the timeline's token grids [T, h, w, D]
  if (config_.pathways == PathwayMode::kSlow) {
    grid = pathways::adaptive_avg_pool_grid(v.slow, fh, fw);
    in.timeline_seconds = seconds(v.slow_seconds);
    *times = v.slow_seconds;
  } else {
    if (v.fast.size(1) != fh || v.fast.size(2) != fw)
      throw FormatError("fast tokens are " + std::to_string(v.fast.size(1)) + "x" + std::to_string(v.fast.size(2)) +
                        " per frame; this model was trained on " + std::to_string(fh) + "x" + std::to_string(fw));
    grid = v.fast;
    in.timeline_seconds = seconds(v.fast_seconds);
    *times = v.fast_seconds;
  }
  if (!config_.reads_features() && config_.fusion.motion_seconds > 0)
    grid = with_motion(grid, motion_steps(*times, config_.fusion.motion_seconds));
  if (reads_flow(config_)) {  // Note [Place flow]: the fast frames' motion, place by place
    if (!v.fast_flow.defined() || v.fast_flow.size(0) != grid.size(0))
      throw FormatError("the video's tokens carry no fast-frame flow, which this model reads (tokens encoded "
                        "without slowfast.fast_flow: encode them again with this model)");
    grid = with_flow(grid, v.fast_flow, motion_steps(*times, std::max(config_.fusion.motion_seconds, 0.5)));
    if (config_.fusion.flow_scale == "tokens") grid = flow_to_token_scale(grid);  // Note [Flow scale]
  }
  in.timeline = grid.reshape({grid.size(0), -1}).to(device);
  in.timeline_tokens = grid.reshape({grid.size(0), -1, grid.size(3)});
  std::vector<torch::Tensor> scores;  // [B, T] each: FusionInput::step_scores
  if (motion_frame) {
    scores.push_back(motion_logits(grid.to(device), text));
    if (motion) *motion = scores.back();
  }
  torch::Tensor detail_grid;  // the frames the text reads detail from [Ts, h, w, D]
  if (need_slow) {
    detail_grid = v.slow;
    in.slow = v.slow.reshape({v.slow.size(0), -1, v.slow.size(3)}).to(device);
    in.slow_seconds = seconds(v.slow_seconds);
    if (probe) probe->seconds = v.slow_seconds;
  } else {
    // Fast-only: the text looks for detail in the fast frames at the slow pathway's rate, so
    // the ablation differs from slow+fast in resolution only (and costs what it does).
    const double ratio = config_.slowfast.slow.fps > 0 ? config_.slowfast.fast.fps / config_.slowfast.slow.fps : 1.0;
    const int64_t stride = std::max<int64_t>(1, std::llround(ratio));
    std::vector<int64_t> picked;
    std::vector<double> picked_seconds;
    for (int64_t i = 0; i < v.fast.size(0); i += stride) {
      picked.push_back(i);
      picked_seconds.push_back(v.fast_seconds[size_t(i)]);
    }
    torch::Tensor frames = v.fast.index_select(0, torch::tensor(picked, torch::kInt64).to(v.fast.device()));
    detail_grid = frames;
    in.slow = frames.reshape({frames.size(0), -1, frames.size(3)}).to(device);
    in.slow_seconds = seconds(picked_seconds);
    if (probe) probe->seconds = picked_seconds;
  }
  if (config_.fusion.detail_match) {  // Note [Detail match]: each step reads its nearest detail frame's
    torch::Tensor nearest = fusion::nearest_indices(in.timeline_seconds, in.slow_seconds).to(device);
    const AlignFrames frames = need_slow ? AlignFrames::kSlow : AlignFrames::kFast;
    scores.push_back(align_logits(detail_grid.to(device), text, frames).index_select(1, nearest));
  }
  if (!scores.empty()) in.step_scores = torch::stack(scores, -1);
  return fusion->forward(in, probe ? &probe->logits : nullptr);
}

GroundingOutput LearnedModelImpl::ground(const VideoFeatures& video, const TextBatch& text, std::vector<double>* times,
                                         DetailProbe* probe, torch::Tensor* fused_out, torch::Tensor* motion) {
  torch::Tensor fused = fuse(video, text, times, probe, motion);
  if (fused_out) *fused_out = fused;
  return grounding_head->forward(fused, *times);
}

torch::Tensor LearnedModelImpl::fused_option_scores(const torch::Tensor& fused, const torch::Tensor& saliency) {
  if (!qa_head) throw UsageError("a model trained on pre-extracted features answers no multiple-choice question");
  return std::get<0>(saliency.max(1)) + qa_head->option_score(fused);
}

// Note [Backbone alignment]
// A backbone trained from scratch gets its only gradient through the whole fusion stack,
// which at initialisation is noise: learning what a "yellow triangle" looks like that way is
// slow. Training adds a CLIP-style loss straight on the backbone's outputs: each frame and
// each query's mean text token, projected and compared by a scaled cosine, must say whether
// the frame lies inside the query's window (BCE, like the saliency loss). A frame's score is
// that of its best-matching token (FILIP-style late interaction), not of its mean token: a
// 2-px dot or one small shape is a single token of 64, and averaging would bury it. It uses
// nothing but the grounding annotations, costs two small projections, and gives the towers a
// short path to a shared vocabulary of colours, shapes and marks that the fusion builds on.
//
// Note [Alignment pooling]
// With fusion.align_pool "place" (the first models') a frame scores its best place's cosine
// with the text: the whole projected token of one place must point the text's way, so a mark
// of 4 pixels competes, inside its place's normalised vector, with that place's colour, shape
// and background. With "channel" each projected channel first takes its maximum over the
// places, and the frame scores the cosine of that vector: a channel that fires on a dot
// anywhere in the frame says so, whatever else the dot's place holds (the per-channel max
// the dot-vs-bar probe of Note [Pixel stem] used). Measured with `sfvu bench alignment` after
// 4.5 minutes of slow warm-up on the detail query alone (a scratch build of Note [Slow
// warm-up] that kept only that query; pixel stem, unpooled slow grid, lr 1e-3; 190-240
// steps): "place" left the warm-up loss at 2.2 and the
// dot query's top slow frame inside its window for 0.33 of the training videos (0.30 of the
// test videos after 12 minutes), "channel" brought the loss to 0.1 by step 190 and the top
// frame inside for 0.63 of the test videos, 0.07 on the fast frames, where the dot cannot be
// seen: the first backbone alignment here that tells the dot from the bar.
//
// Note [Alignment heads]
// The fast frames are too small to show the dot (2 px at 128 px is under a pixel at the fast
// size), so on them the alignment's best answer to "the shape with a small white dot" is any
// marked shape, bar or dot; with one head for both pathways that answer pulls the head the
// slow frames use towards the bar as well (`sfvu bench alignment`: after a full run with
// channel pooling the dot query's top slow frame lay inside its window for 0.17 of the test
// videos, below the 0.33 of a guess among the three marked shapes, while a warm-up on the
// slow frames alone reached 0.63). With fusion.align_heads "pathway" the fast frames get a
// frame projection, scale and bias of their own; the text projection stays shared, so both
// heads meet the text in one space, and the slow head, which the detail match (Note [Detail
// match]) reads, answers to the slow frames alone. A fast-only model has one head (`sfvu
// train` refuses "pathway" for it). Measured (README, 1600 steps, channel pooling and the
// detail match): the dot query's top slow frame inside for 0.23, and 0.37 with the pixel stem
// and the unpooled slow grid (whose run was the best of the project, 58.9 / 51.1 on test,
// through motion, not detail): no sign yet that the fast frames were what held the dot back.
torch::Tensor LearnedModelImpl::align_logits(const torch::Tensor& tokens, const TextBatch& text, AlignFrames frames) {
  if (!align_frame) throw UsageError("a feature model has no backbone to align");
  struct Head {
    torch::nn::Linear frame;
    torch::Tensor scale, bias;
  };
  Head head = frames == AlignFrames::kFast && align_frame_fast ? Head{align_frame_fast, align_scale_fast, align_bias_fast}
                                                               : Head{align_frame, align_scale, align_bias};
  torch::Tensor places = head.frame->forward(tokens.reshape({tokens.size(0), -1, tokens.size(3)}));  // [T, P, A]
  if (config_.fusion.align_pool == "channel") places = std::get<0>(places.max(1, true));  // [T, 1, A]
  return best_place_logits(places, align_text->forward(mean_token(text)), head.scale, head.bias);
}

// Note [Motion match]
// Motion tokens (Note [Motion tokens]) made the model find the moving shape but not tell its
// way: the top moment was the queried move or the move back equally often. The direction
// should be readable from the tokens (a shape moving right leaves a patch and enters its
// right-hand neighbour, and moves inside each), but no part of the fusion had to put it
// together with what moves: the timeline projection mixes the whole grid into one vector, and
// the per-step token match (Note [SlowFast fusion]) averages what it attends. The motion match scores each text against
// each place of each step, as the backbone alignment does frames (Note [Backbone alignment]):
// a 3x3 convolution over the step's grid of [token, change] (so a place sees its neighbours'
// changes, where a move came from or went to) and the text's mean token are projected to a
// common space, and the step scores its best place's scaled cosine. Colour, shape and way add
// up in that one dot product, and a BCE against the windows (the trainer's "motion" loss)
// trains it directly. The fusion gets the logit of every text at every step
// (FusionInput::step_scores), so the heads can use it; it costs one small convolution per
// step. `sfvu train --motion-match 0` leaves it out. Measured (60 training videos, a motion
// query and its shape's move back): on the backbone's tokens alone (a 10-minute run) the match
// was no better than the rest, its logit higher inside the queried move than inside the move
// back for 204 of 400 texts and moves, because the tokens do not carry the direction (Note
// [Place flow]); with the places' pixel motion beside them (the 20-minute bundled run) 194 of
// 200, and the top moment landed on the queried move 93 times and on the move back 18.
//
// Steps around (fusion.motion_match_steps K > 1, `--motion-match-steps K`, opt-in): each place's
// match features also get a depthwise temporal convolution over the K steps around it
// (residual, zero at the start, so the match begins as the per-step one). A flash (0.5-1.5 s)
// and the same shape shown for 4-8 s look alike step by step, and the change over +-1 s is ~0
// in the middle of both; on the test split the bundled model's match peaked inside the flash
// above every other event's peak for 4 of 60 short queries (54 of 60 motion queries). With
// K = 17 (+-1 s; a 20-minute run of the bundled recipe otherwise) that rose to 14 of 60 but
// motion fell to 43, and the test split scored R1@0.5 / R1@0.7 52.2 / 42.2 (short 51.7 /
// 48.3, motion 71.7 / 50.0), QA 43.3, against 58.9 / 48.3, QA 55.8: no gain within one run,
// so it stays off.
torch::Tensor LearnedModelImpl::motion_logits(const torch::Tensor& grid, const TextBatch& text) {
  if (!motion_frame) throw UsageError("this model has no motion match");
  if (grid.dim() != 4 || grid.size(3) != config_.fusion.timeline_token_dim)
    throw UsageError("motion_logits: grids [T, h, w, " + std::to_string(config_.fusion.timeline_token_dim) + "]");
  torch::Tensor x = motion_frame->forward(motion_norm->forward(grid).permute({0, 3, 1, 2}));  // [T, M, h, w]
  if (motion_time) {  // each place's features over the steps around it
    const auto T = x.size(0), M = x.size(1), h = x.size(2), w = x.size(3);
    torch::Tensor per_place = x.permute({2, 3, 1, 0}).reshape({h * w, M, T});
    x = x + motion_time->forward(per_place).reshape({h, w, M, T}).permute({3, 2, 0, 1});
  }
  return best_place_logits(x.flatten(2).transpose(1, 2), motion_text->forward(mean_token(text)), motion_scale,
                           motion_bias);
}

// Note [Detail match]
// The slow tokens reach the fusion through one path, the text's cross-attention to them,
// behind a tanh gate that starts at 0 (instruction-aware detail, as in the Slow-Fast MLLM's
// hybrid layers); in from-scratch runs the gate stayed near 0 (-0.002 to 0.025 after 20 minutes),
// so what the slow frames show barely reached the heads. The backbone alignment (Note
// [Backbone alignment]) already scores every text against every slow frame, best token
// first, trained against the windows: with fusion.detail_match its logit for each step's
// nearest slow frame is passed to the fusion next to the motion match's (FusionInput::
// step_scores), ungated, so the frame that shows the dotted shape can raise its steps from
// the start. Fast-only models read it from their fast frames at the slow rate, as their
// detail. `sfvu train --detail-match on`; off by default: measured against the bundled run
// (same recipe, same day, 20 minutes) it did much worse, test R1@0.5 / R1@0.7 34.4 / 23.9
// against 58.9 / 48.3, detail 23.3 / 11.7 against 45.0 / 38.3, QA 24.2 against 55.8, its
// validation below the bundled run's from the fourth validation on. Why is not measured (one
// run; a guess: the logit is an easy early shortcut that the fusion leans on).

// Note [Option-fused QA]
// Each option is asked the way a grounding query is: its text ("question option", e.g. "which
// way does the red square move? left") is fused with the video like a query, and its score is
// the peak of the grounding head's saliency over the timeline plus a small head over the pooled
// fused timeline. Telling options apart is then the question grounding answers ("does this
// happen here?"), with the same fusion and the same saliency the grounding annotations train,
// rather than a second skill (describing what was seen in a vector that an option's word must
// match) learned from the few multiple-choice questions alone. A question with four options
// costs four texts in one batched fusion (`sfvu train --qa-scoring option`). Measured on the
// synthetic benchmark (20-minute CPU run, README): alone, the QA loss stayed at ln 4 here too
// (test accuracy 32.5 %). It is the default since its options can also be trained as grounding
// queries when the questions carry windows (Note [Grounded QA] in train_data.cpp), which the
// bundled model was; QA is still at chance there, for the reason that note gives.
//
// Note [Question-fused QA]
// The video is fused once per question (not once per option): the question says what to look
// at ("which way does the green triangle move?"), the pooled fused timeline holds what was
// seen, and each option's text (question + option, through the text tower) is compared with
// it. A question with four options costs one fusion, not four. With qa.option_text "option" the
// text tower reads the option alone: the mean token of "question + option" differs between
// options by one word in a dozen, which left a from-scratch text tower's options nearly
// identical. Neither lifted a from-scratch model's QA loss off ln 4 in 20-minute CPU runs.
torch::Tensor LearnedModelImpl::qa_scores(const VideoFeatures& video, const std::vector<std::string>& questions,
                                          const std::vector<std::vector<std::string>>& options) {
  if (!qa_head) throw UsageError("a model trained on pre-extracted features answers no multiple-choice question");
  if (questions.size() != options.size() || questions.empty())
    throw UsageError("qa_scores: one option list per question, at least one question");
  std::vector<std::string> texts;
  std::vector<int64_t> row;
  for (size_t q = 0; q < questions.size(); ++q) {
    if (options[q].size() < 2) throw UsageError("a question needs at least two options: " + questions[q]);
    for (const auto& o : options[q]) {
      texts.push_back(config_.qa_option_text == "option" ? o : qa_option_text(questions[q], o));
      row.push_back(int64_t(q));
    }
  }
  std::vector<double> times;
  if (config_.qa_scoring == "option") {
    torch::Tensor fused = fuse(video, encode_text(texts), &times);  // [N, T, D]
    return fused_option_scores(fused, grounding_head->saliency_logits(fused));
  }
  torch::Tensor pooled = qa_head->pool(fuse(video, encode_text(questions), &times));  // [Q, D]
  torch::Tensor index = torch::tensor(row, torch::kInt64).to(pooled.device());
  return qa_head->score(pooled.index_select(0, index), mean_token(encode_text(texts)));  // options [N, text_dim]
}

}  // namespace sfvu::grounding
