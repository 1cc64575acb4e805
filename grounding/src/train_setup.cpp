#include "train_setup.h"

#include <filesystem>

#include "sfvu/base/error.h"
#include "sfvu/decode/video_reader.h"
#include "sfvu/fusion/fusion_config.h"
#include "sfvu/grounding/feature_data.h"

namespace sfvu::grounding {
namespace fs = std::filesystem;

namespace {

// What every new model takes from the options, whatever its input.
void apply_head_options(const TrainOptions& o, LearnedModelConfig& c) {
  c.fusion.d_model = o.d_model;
  c.fusion.detail_probe = o.detail_probe;
  if (c.reads_features()) return;  // no QA head, no token grid to take motion from
  if (!(o.motion_seconds >= 0)) throw UsageError("--motion-seconds must be >= 0");
  c.fusion.motion_seconds = o.motion_seconds;
  if (o.motion_match < 0) throw UsageError("--motion-match must be >= 0");
  c.fusion.motion_match = o.motion_match;
  if (o.motion_match_steps < 1 || o.motion_match_steps % 2 == 0)
    throw UsageError("--motion-match-steps must be odd and >= 1, got " + std::to_string(o.motion_match_steps));
  c.fusion.motion_match_steps = o.motion_match > 0 ? o.motion_match_steps : 1;
  c.fusion.detail_match = o.detail_match;
  if (std::string problem = fusion::align_pool_problem(o.align_pool); !problem.empty())
    throw UsageError("--align-pool " + problem);
  c.fusion.align_pool = o.align_pool;
  if (std::string problem = fusion::align_heads_problem(o.align_heads); !problem.empty())
    throw UsageError("--align-heads " + problem);
  if (o.align_heads == "pathway" && c.pathways != PathwayMode::kSlowFast)
    throw UsageError("--align-heads pathway needs both pathways (--pathways slowfast)");
  c.fusion.align_heads = o.align_heads;
  c.slowfast.fast_flow = o.fast_flow && c.pathways != PathwayMode::kSlow;
  if (std::string problem = fusion::flow_scale_problem(o.flow_scale); !problem.empty())
    throw UsageError("--flow-scale " + problem);
  if (o.flow_scale != "raw" && !c.slowfast.fast_flow)
    throw UsageError("--flow-scale " + o.flow_scale + " scales the fast frames' flow: this model reads none (" +
                     (c.pathways == PathwayMode::kSlow ? "--pathways slow" : "--fast-flow off") + ")");
  c.fusion.flow_scale = o.flow_scale;
  if (std::string problem = qa_scoring_problem(o.qa_scoring); !problem.empty())
    throw UsageError("--qa-scoring " + problem);
  c.qa_scoring = o.qa_scoring;
  c.qa_option_text = o.qa_scoring == "option" ? "question_option" : "option";
}

// The from-scratch model for a split whose videos are `size` px (the slow pathway's input).
LearnedModelConfig scratch_config(const TrainOptions& o, int size, int64_t vocab_size) {
  if (std::string problem = pathways::stem_problem(o.stem, o.patch_size); !problem.empty())
    throw UsageError("--stem / --patch: " + problem);
  LearnedModelConfig c;
  c.pathways = o.pathways;
  c.tokenizer = "word";
  auto& v = c.backbone.vision;
  v.image_size = size - size % o.patch_size;
  v.patch_size = o.patch_size;
  v.stem = o.stem;
  v.hidden_size = o.hidden_size;
  v.intermediate_size = 2 * o.hidden_size;
  v.num_hidden_layers = o.layers;
  v.num_attention_heads = o.heads;
  auto& t = c.backbone.text;
  t.hidden_size = o.hidden_size;
  t.intermediate_size = 2 * o.hidden_size;
  t.num_hidden_layers = o.layers;
  t.num_attention_heads = o.heads;
  t.vocab_size = int(vocab_size);
  t.max_position_embeddings = c.max_text_tokens;
  c.backbone.projection_dim = v.projection_dim = t.projection_dim = o.hidden_size;
  c.backbone_parts = {true, false, false};
  // Slow frames at the videos' full size, by default the grid pooled 2x2 (8x8 tokens at 128
  // px): a 2-3 px cue still lands in one pooled token, and the fusion reads 4x fewer slow tokens.
  const int grid = v.image_size / o.patch_size;
  if (o.slow_grid < 0 || o.slow_grid > grid)
    throw UsageError("--slow-grid " + std::to_string(o.slow_grid) + ": the slow patch grid is " + std::to_string(grid) +
                     " a side (use 1.." + std::to_string(grid) + ", or 0 for half)");
  const int slow_side = o.slow_grid > 0 ? o.slow_grid : grid / 2;
  c.slowfast.slow = {1.0, 0, 0, slow_side, slow_side, false};
  c.slowfast.fast = {8.0, 0, o.fast_input_size, 4, 4, false};
  apply_head_options(o, c);
  return c;
}

int split_video_size(const TrainSplit& split) {
  decode::VideoReader reader(decode::Source::path(split.videos.front().path));
  const auto& info = reader.info();
  return std::min(info.video.width, info.video.height);
}

// Where split `dir`'s features are.
FeatureLayout split_layout(const TrainOptions& o, const std::string& dir, const std::vector<std::string>& sources) {
  return find_feature_layout(o.features_dir.empty() ? dir : o.features_dir, sources);
}

}  // namespace

SplitMedia training_media(const TrainOptions& o) {
  std::error_code ec;
  if (!o.features_dir.empty()) return SplitMedia::kFeatures;
  if (fs::is_directory(fs::path(o.data_dir) / "videos", ec)) return SplitMedia::kVideos;
  return has_feature_layout(o.data_dir) ? SplitMedia::kFeatures : SplitMedia::kVideos;
}

std::shared_ptr<LearnedModelImpl> new_model(const TrainOptions& o, const TrainSplit& train_split, SplitMedia media) {
  if (media == SplitMedia::kFeatures) {
    if (o.init != "scratch") throw UsageError("--init " + o.init + ": a feature model has no backbone (use scratch)");
    if (o.pathways != PathwayMode::kSlowFast)
      throw UsageError("--pathways " + to_string(o.pathways) +
                       ": pre-extracted features have no separate pathways (Note [Feature input]); use slowfast");
    if (!(o.feature_clip_seconds > 0)) throw UsageError("the feature clip length must be > 0 seconds");
    LearnedModelConfig c;
    c.input = "features";
    FeatureInputConfig base;
    base.clip_seconds = o.feature_clip_seconds;
    const TrainVideo& first = train_split.videos.front();
    c.features = FeatureReader::probe(split_layout(o, train_split.dir, o.feature_sources), first.vid,
                                      first.queries.front().qid, base);
    c.clip_seconds = o.feature_clip_seconds;
    apply_head_options(o, c);
    return std::make_shared<LearnedModelImpl>(c, nullptr, nullptr);
  }
  auto words = std::make_shared<const fusion::WordTokenizer>(fusion::WordTokenizer::from_texts(train_split.texts()));
  if (o.init == "scratch")
    return std::make_shared<LearnedModelImpl>(scratch_config(o, split_video_size(train_split), words->vocab_size()),
                                              words, nullptr);
  // A pretrained CLIP, frozen: its tokenizer and preprocessing, the default SlowFast sampling.
  const std::string clip_dir = o.init.substr(5);
  pathways::ClipBundle clip = pathways::ClipBundle::load(clip_dir);
  clip.require_tokenizer();
  LearnedModelConfig c;
  c.pathways = o.pathways;
  c.tokenizer = "clip";
  c.backbone = clip.model->config();
  c.backbone_parts = clip.model->parts();
  c.backbone_frozen = true;
  apply_head_options(o, c);
  auto model = std::make_shared<LearnedModelImpl>(c, nullptr, clip.tokenizer);
  model->load_backbone(clip_dir);
  return model;
}

void prepare_split(LearnedModelImpl& model, const TrainOptions& o, TrainSplit& split, const ProgressCallback& progress) {
  const auto& config = model.config();
  if (config.reads_features()) {
    const FeatureReader reader(split_layout(o, split.dir, config.features.sources), config.features);
    load_split_features(split, reader, progress);
    return;
  }
  decode_split(split, config.slowfast, config.backbone.vision, progress);
  if (!config.backbone_frozen) return;
  // A frozen backbone's tokens never change: encode every video once, drop its frames.
  torch::NoGradGuard no_grad;
  const PathwayMode m = config.pathways;
  for (auto& v : split.videos) {
    torch::Tensor slow = m == PathwayMode::kFast ? torch::Tensor() : v.slow_frames;
    torch::Tensor fast = m == PathwayMode::kSlow ? torch::Tensor() : v.fast_frames;
    v.features = std::make_shared<VideoFeatures>(
        model.encode_frames(slow, v.slow_seconds, fast, v.fast_seconds, v.duration_seconds));
    v.slow_frames = v.fast_frames = torch::Tensor();
  }
}

}  // namespace sfvu::grounding
