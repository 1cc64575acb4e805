// sfvu/grounding/learned_model.h: the trained model: a CLIP-shaped backbone (pretrained and
// frozen, or small and trained from scratch), the SlowFast fusion (fusion/slowfast_fusion.h)
// and the grounding and QA heads (learned_heads.h). A model folder is
//   config.json        {"sfvu_model": "slowfast-grounding", "version": 1, ...} (every shape)
//   model.safetensors  all weights; keys = parameter paths ("backbone.vision_model...",
//                      "fusion.temporal.0.self_attn.q_proj.weight", "grounding_head.out.bias")
//   tokenizer_words.json (word vocabulary) or vocab.json + merges.txt (CLIP BPE)
// and every command (ground, qa, predict, train --resume) loads it through load().
// A model trained on pre-extracted features (Note [Feature input] in feature_data.h) has no
// backbone, tokenizer or QA head: config.json says "version": 2 and "input": {"kind":
// "features", ...} with the feature widths, and only `sfvu predict --features` runs it.
//
// Usage:
//   auto model = LearnedModel(LearnedModelImpl::load("models/synth-tiny"));
//   torch::NoGradGuard no_grad;
//   auto video = model->video_features(tokens);          // pathways::VideoTokens from the encoder
//   auto out = model->ground(video, model->encode_text({"the red square moves left"}));
//
// Thread safety: after load() (eval mode) forward passes may run concurrently under
// NoGradGuard; training mutates the weights and must own the model.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sfvu/fusion/slowfast_fusion.h"
#include "sfvu/fusion/word_tokenizer.h"
#include "sfvu/grounding/learned_heads.h"
#include "sfvu/pathways/clip_bundle.h"
#include "sfvu/pathways/slowfast_options.h"
#include "sfvu/pathways/video_tokens.h"

namespace sfvu::grounding {

/// Which pathways feed the fusion (the ablations use the same code, Note [SlowFast fusion]).
enum class PathwayMode { kSlowFast, kSlow, kFast };
PathwayMode parse_pathway_mode(const std::string& name);  ///< "slowfast" | "slow" | "fast"
std::string to_string(PathwayMode mode);

/// Which pathway's frames a backbone alignment scores (Note [Alignment heads]).
enum class AlignFrames { kSlow, kFast };

inline constexpr const char* kLearnedModelType = "slowfast-grounding";
/// The newest config.json version this build reads. A folder is written with the oldest
/// version that reads it: 1 for video models (unchanged since), 2 for feature models.
inline constexpr int kLearnedModelVersion = 2;

/// What a feature model reads per video and per query (Note [Feature input] in
/// feature_data.h); the widths are checked against every file read.
struct FeatureInputConfig {
  std::vector<std::string> sources;  ///< video feature folders, concatenated in this order
  std::vector<int> source_dims;      ///< row width of each source
  std::string detail_source;         ///< the source read as slow detail; "" = the whole timeline row
  std::string query_key = "last_hidden_state";  ///< or "pooler_output" (one row per query)
  int query_dim = 0;                 ///< row width of the query file
  bool normalize = true;             ///< every row x / (|x|_2 + 1e-5), video and query
  bool tef = true;                   ///< 2 temporal columns [i/L, (i+1)/L] after the sources
  int max_rows = 75;                 ///< rows kept per video (Moment-DETR max_v_l)
  int max_query_tokens = 32;         ///< rows kept per query (max_q_l)
  double clip_seconds = 2;           ///< row i covers [i * clip_seconds, (i + 1) * clip_seconds)

  int timeline_dim() const;  ///< sum of source_dims, + 2 with tef
  int detail_dim() const;    ///< detail_source's width, or timeline_dim()
};

struct LearnedModelConfig {
  std::string input = "video";  ///< "video" (frames through the backbone) or "features"
  FeatureInputConfig features;  ///< input == "features": what is read instead of frames
  bool reads_features() const { return input == "features"; }
  /// The config.json version this model is written with (kLearnedModelVersion's note).
  int version() const { return reads_features() ? 2 : 1; }
  PathwayMode pathways = PathwayMode::kSlowFast;
  std::string tokenizer = "word";  ///< "word" (tokenizer_words.json) or "clip" (vocab.json + merges.txt)
  int max_text_tokens = 32;
  pathways::ClipConfig backbone;
  pathways::ClipParts backbone_parts{true, false, false};
  bool backbone_frozen = false;  ///< pretrained CLIP: features cached, never trained
  pathways::SlowFastOptions slowfast;
  fusion::FusionConfig fusion;
  GroundingHeadConfig grounding;
  /// How QA scores an option: "option" (Note [Option-fused QA]: each option's "question +
  /// option" text is fused with the video) or "question" (Note [Question-fused QA]: the video
  /// fused with the question, each option's text compared with it; models whose config.json
  /// has no "qa.scoring").
  std::string qa_scoring = "question";
  /// What the text tower reads of a QA option: "question_option" (question + " " + option) or,
  /// for question-fused scoring only, "option" (the option alone). Models whose config.json has
  /// no "qa" object were written with question_option.
  std::string qa_option_text = "option";
  double clip_seconds = 2.0;
  double nms_iou = 0.7;
  int64_t max_moments = 10;
  /// Weight of the steps' saliency in a moment's score (Note [Moment scores] in
  /// learned_heads.cpp): 0.5 for new models, 0 in configs written before it.
  double moment_saliency = 0.5;
  nlohmann::json training;  ///< how it was trained (informational)

  nlohmann::json to_json() const;
  static LearnedModelConfig from_json(const nlohmann::json& j, const std::string& where);
  /// True when `dir/config.json` declares an sfvu learned model.
  static bool is_learned_model_dir(const std::string& dir);
  /// True when `dir/config.json` declares an sfvu learned model that reads features.
  static bool is_feature_model_dir(const std::string& dir);
};

/// What is wrong with a QA scoring name (LearnedModelConfig::qa_scoring), or "" when nothing:
/// a config file reports it as a FormatError, `sfvu train` as a UsageError.
std::string qa_scoring_problem(const std::string& scoring);

/// Note [Motion tokens] (learned_model.cpp): token grids [T, h, w, D] joined along D by their
/// change over +-offset steps, grid[min(t + offset, T - 1)] - grid[max(t - offset, 0)]:
/// [T, h, w, 2D]. UsageError unless 4-D with offset > 0.
torch::Tensor with_motion(const torch::Tensor& grid, int offset);
/// The offset in steps of `seconds` on a timeline sampled at `times` (evenly): at least 1.
int motion_steps(const std::vector<double>& times, double seconds);

/// Note [Place flow] as the timeline reads it: each step's places joined by their motion
/// `flow` [T, h, w, 2] (pathways::place_flow) and its mean over +-window steps (clamped at the
/// ends): [T, h, w, D + 4]. UsageError when the shapes disagree or window < 0.
torch::Tensor with_flow(const torch::Tensor& grid, const torch::Tensor& flow, int window);
/// Note [Flow scale] (learned_model.cpp): with_flow's grid [T, h, w, D + 4] with each step's 4
/// flow channels multiplied by that step's RMS over its D other channels (no gradient through
/// it) over 0.5 px. UsageError unless 4-D and wider than 4.
torch::Tensor flow_to_token_scale(const torch::Tensor& grid);

/// A video as the fusion sees it, before the pathway mode picks what is timeline and detail.
/// A feature model's video (FeatureReader::video) has one 1x1 "token" per clip row: fast =
/// the timeline rows [L, 1, 1, timeline_dim], slow = the detail rows [L, 1, 1, detail_dim].
struct VideoFeatures {
  torch::Tensor slow;  ///< [Ts, Hs, Ws, D] slow tokens
  torch::Tensor fast;  ///< [Tf, Hf, Wf, D] fast tokens
  torch::Tensor fast_flow;  ///< [Tf, Hf, Wf, 2] the fast frames' place flow (config slowfast.fast_flow)
  std::vector<double> slow_seconds, fast_seconds;
  double duration_seconds = 0;
};

/// The fusion's detail probe (Note [Detail probe] in fusion/slowfast_fusion.h): one logit per
/// text and detail frame, and those frames' times.
struct DetailProbe {
  torch::Tensor logits;  ///< [B, Ts]; undefined when the model has no probe
  std::vector<double> seconds;
};

struct TextBatch {
  torch::Tensor features;  ///< [B, L, text_dim]
  torch::Tensor mask;      ///< bool [B, L]
};

class LearnedModelImpl : public torch::nn::Module {
 public:
  /// A fresh model (random weights, seeded by the caller through torch::manual_seed).
  /// `words` is required for the word tokenizer; `bpe` for the CLIP one; a feature model
  /// takes neither.
  LearnedModelImpl(LearnedModelConfig config, std::shared_ptr<const fusion::WordTokenizer> words,
                   std::shared_ptr<const pathways::ClipTokenizer> bpe);
  /// Loads a model folder; throws IoError / FormatError naming the file and the key (missing
  /// or mis-shaped tensors listed by name). The model is in eval mode.
  static std::shared_ptr<LearnedModelImpl> load(const std::string& dir, torch::Device device = torch::kCPU);
  /// Copies a pretrained CLIP folder's weights into the backbone (shapes must match the
  /// config) and takes its preprocessing and tokenizer files (copied on save).
  void load_backbone(const std::string& clip_dir);
  /// Writes the folder (config.json, model.safetensors, tokenizer files) atomically per file.
  void save(const std::string& dir) const;

  const LearnedModelConfig& config() const { return config_; }
  /// Recorded in config.json's "training" on save (informational).
  void set_training_info(nlohmann::json info) { config_.training = std::move(info); }
  pathways::ClipModel backbone() const { return backbone_; }  ///< empty for a feature model
  double detail_gate() const { return fusion->detail_gate(); }  ///< tanh of the slow-detail gate
  /// The backbone with its preprocessing and a fingerprint of `dir`, for the SlowFast encoder
  /// (UsageError for a feature model: it cannot encode videos).
  pathways::ClipBundle bundle(const std::string& dir) const;
  /// The token grid dims the fusion expects, from config.slowfast and the backbone.
  static fusion::FusionConfig fusion_shape(const LearnedModelConfig& config);

  /// Tokenises and runs the text tower: [B, L, D] features (last hidden state) + mask.
  /// A feature model has no text tower (UsageError): its queries are read (feature_data.h).
  TextBatch encode_text(const std::vector<std::string>& texts);
  /// Frames at the pathways' input sizes -> tokens through the backbone (with grad if
  /// enabled): uint8 [T, S, S, 3] each.
  VideoFeatures encode_frames(const torch::Tensor& slow_frames, std::vector<double> slow_seconds,
                              const torch::Tensor& fast_frames, std::vector<double> fast_seconds,
                              double duration_seconds);
  static VideoFeatures from_tokens(const pathways::VideoTokens& tokens);

  /// The fused timeline [B, T, D] for B texts, and the timeline's times. `motion`, when given
  /// and the model has a motion match (Note [Motion match]), receives its logits [B, T].
  torch::Tensor fuse(const VideoFeatures& video, const TextBatch& text, std::vector<double>* times,
                     DetailProbe* probe = nullptr, torch::Tensor* motion = nullptr);
  /// `fused`, when given, receives the fused timeline the heads read; `motion` as in fuse().
  GroundingOutput ground(const VideoFeatures& video, const TextBatch& text, std::vector<double>* times,
                         DetailProbe* probe = nullptr, torch::Tensor* fused = nullptr, torch::Tensor* motion = nullptr);
  /// Note [Motion match]: match logits [B, T] of each text (mean token) against each step's
  /// motion tokens `grid` [T, h, w, timeline_token_dim], the step's score being its best
  /// place's. UsageError when the model has no motion match.
  torch::Tensor motion_logits(const torch::Tensor& grid, const TextBatch& text);
  /// Note [Backbone alignment]: frame-text match logits [B, T] of frames `tokens`
  /// [T, h, w, D] and each text (mean token), CLIP-style (scaled cosine + bias), the frame's
  /// score being its best-matching token's. `frames` says which pathway's frames they are:
  /// with fusion.align_heads "pathway" the fast frames have a head of their own.
  torch::Tensor align_logits(const torch::Tensor& tokens, const TextBatch& text, AlignFrames frames = AlignFrames::kSlow);
  /// The scores of every option of every question (Note [Option-fused QA] or Note
  /// [Question-fused QA], as config().qa_scoring says), concatenated in
  /// order ([sum of option counts]). UsageError for a feature model (no QA head: the layout
  /// has no option features).
  torch::Tensor qa_scores(const VideoFeatures& video, const std::vector<std::string>& questions,
                          const std::vector<std::vector<std::string>>& options);
  /// Note [Option-fused QA]: the scores [N] of N options already fused as "question option"
  /// texts (`fused` [N, T, D]) whose grounding saliency logits are `saliency` [N, T].
  torch::Tensor fused_option_scores(const torch::Tensor& fused, const torch::Tensor& saliency);

 private:
  LearnedModelConfig config_;
  std::shared_ptr<const fusion::WordTokenizer> words_;
  std::shared_ptr<const pathways::ClipTokenizer> bpe_;
  std::string tokenizer_dir_;  ///< where vocab.json / merges.txt / preprocessor_config.json come from
  pathways::ClipModel backbone_{nullptr};
  pathways::ClipImageProcessor processor_;
  fusion::SlowFastFusion fusion{nullptr};
  GroundingHead grounding_head{nullptr};
  QaHead qa_head{nullptr};
  torch::nn::Linear align_frame{nullptr}, align_text{nullptr};
  torch::Tensor align_scale, align_bias;
  torch::nn::Linear align_frame_fast{nullptr};  ///< fusion.align_heads "pathway" (Note [Alignment heads])
  torch::Tensor align_scale_fast, align_bias_fast;
  torch::nn::LayerNorm motion_norm{nullptr};
  torch::nn::Conv2d motion_frame{nullptr};
  torch::nn::Conv1d motion_time{nullptr};  ///< depthwise over steps, per place (fusion.motion_match_steps > 1)
  torch::nn::Linear motion_text{nullptr};
  torch::Tensor motion_scale, motion_bias;
};
TORCH_MODULE(LearnedModel);

}  // namespace sfvu::grounding
