// sfvu/fusion/fusion_config.h: the shape of the SlowFast fusion layer (slowfast_fusion.h).
// Defaults are the synthetic-benchmark model's; a config.json stores every field.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace sfvu::fusion {

struct FusionConfig {
  int timeline_dim = 0;  ///< width of one timeline step's input features (e.g. 4x4 tokens x D)
  int slow_dim = 0;      ///< width of one slow token
  int text_dim = 0;      ///< width of one text token
  int timeline_token_dim = 0;  ///< width of one token of a timeline step (0: steps are not matched per token)
  int d_model = 128;
  int num_heads = 4;
  int temporal_layers = 2;  ///< self-attention layers over the timeline before the text enters
  int post_layers = 2;      ///< self-attention layers over the text-conditioned timeline
  /// Each post layer is preceded by a depthwise temporal convolution of this many steps
  /// (Note [Temporal convolution]); 0: none (configs written before it had none).
  int conv_kernel = 9;
  int mlp_ratio = 2;
  int time_frequencies = 16;  ///< sinusoidal time features per sin/cos (periods 0.25 s .. 512 s)
  double dropout = 0.0;  // short CPU runs underfit long before they overfit
  /// A per-slow-frame probe on the ungated text->slow attention (Note [Detail probe]), trained
  /// by a loss of its own; false in configs written before it.
  bool detail_probe = false;
  /// Each timeline step's tokens are joined by their change over +-motion_seconds (Note
  /// [Motion tokens] in learned_model.cpp; timeline_dim and timeline_token_dim count both
  /// halves); 0: none (configs written before it had none).
  double motion_seconds = 0;
  /// Width of the space where each text meets each step's motion tokens (Note [Motion match]
  /// in learned_model.cpp): the model passes the fusion one match logit per text and step
  /// (FusionInput::step_scores), which enters each step through a learned vector; 0: none
  /// (configs written before it had none).
  int motion_match = 0;
  /// Timeline steps each place's match features see (odd; Note [Motion match]): a depthwise
  /// temporal convolution over the steps, added to each place's features, so a match can
  /// tell a short flash from a long display; 1: none (configs written before it had none).
  int motion_match_steps = 1;
  /// Each text's alignment logit with each step's nearest detail (slow) frame (Note [Detail
  /// match] in learned_model.cpp) is passed in step_scores too, next to the motion match's;
  /// false in configs written before it.
  bool detail_match = false;

  /// How the backbone alignment scores a frame (Note [Alignment pooling] in learned_model.cpp):
  /// "place", its best place's cosine (configs written before the key), or "channel", the
  /// cosine of each projected channel's maximum over the places.
  std::string align_pool = "place";
  /// Which backbone alignment head scores a frame (Note [Alignment heads] in
  /// learned_model.cpp): "shared", one for the slow and the fast frames (configs written before
  /// the key), or "pathway", the fast frames their own (a slow+fast model's).
  std::string align_heads = "shared";
  /// The scale of the fast timeline's flow channels (Note [Flow scale] in learned_model.cpp):
  /// "raw", pixels per step as measured (configs written before the key), or "tokens", in
  /// units of 0.5 px times each step's token RMS, so their share of a place's norm does not
  /// shrink as the backbone's tokens grow.
  std::string flow_scale = "raw";

  /// How many match logits per text and step FusionInput::step_scores carries.
  int step_score_count() const { return (motion_match > 0 ? 1 : 0) + (detail_match ? 1 : 0); }

  nlohmann::json to_json() const;
  /// Reads the keys present over the defaults; throws FormatError naming `where` and the key.
  static FusionConfig from_json(const nlohmann::json& j, const std::string& where);
};

/// What is wrong with an alignment pooling name (FusionConfig::align_pool), or "" when nothing:
/// a config file reports it as a FormatError, `sfvu train` as a UsageError.
std::string align_pool_problem(const std::string& pool);
/// The same for FusionConfig::align_heads.
std::string align_heads_problem(const std::string& heads);
/// The same for FusionConfig::flow_scale.
std::string flow_scale_problem(const std::string& scale);

}  // namespace sfvu::fusion
