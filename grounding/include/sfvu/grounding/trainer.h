// sfvu/grounding/trainer.h: trains a learned model (learned_model.h) on a split folder
// (train_data.h): AdamW, linear warmup then cosine decay, gradient clipping, fixed seeds,
// periodic validation (the best validation checkpoint is the model folder), resumable.
// A split without videos/ whose folder holds pre-extracted features (feature_data.h), or any
// split when `features_dir` is given, trains a feature model (Note [Feature input]).
//
// Usage:
//   TrainOptions o;  o.data_dir = "synth/train"; o.val_dir = "synth/val"; o.out_dir = "model";
//   TrainReport r = train(o, [](const TrainProgress& p) { ...; return true; });
//
// Note [Training budget]
// With `steps` = 0 the run is sized by wall time: the first `calibration_steps` steps are
// warm-up (the allocator and caches fill: they ran up to 1.5x slower than the rest), the mean
// time of the next `calibration_steps` fixes the total step count that fits `minutes`
// (validations included), and the cosine schedule is laid over that count. Every validation
// fits the total again to the time left, at the mean step time so far and the validations'
// measured cost, so a machine that speeds up or slows down mid-run still finishes the schedule
// on time; the run also stops at the time limit whatever happens. `steps` > 0 fixes the count
// instead (reproducible across machines).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sfvu/grounding/grounding_losses.h"
#include "sfvu/grounding/learned_model.h"

namespace sfvu::grounding {

struct TrainOptions {
  std::string data_dir;  ///< training split
  std::string val_dir;   ///< validation split ("" = none: the last step's weights are saved)
  std::string out_dir;   ///< the model folder written (and train_state/ inside it)
  /// Pre-extracted features for both splits (find_feature_layout). "": a split folder's
  /// videos/ when it has one, else the features in (or under) the split folder itself.
  std::string features_dir;
  /// Feature sources, concatenated in this order; empty: those of kDefaultFeatureSources present.
  std::vector<std::string> feature_sources;
  double feature_clip_seconds = 2;  ///< seconds per feature row (QVHighlights 2, Charades-STA 1)
  PathwayMode pathways = PathwayMode::kSlowFast;
  std::string init = "scratch";  ///< "scratch" or "clip:DIR" (pretrained CLIP, frozen)
  bool resume = false;
  double minutes = 20;
  int64_t steps = 0;  ///< 0: as many as fit `minutes` (Note [Training budget])
  int64_t calibration_steps = 20;
  double lr = 2e-3;
  double weight_decay = 0.05;
  double warmup_fraction = 0.05;
  double grad_clip = 1.0;
  double qa_weight = 1.0;
  /// Weight of the slow frames' term of the backbone alignment loss (Note [Backbone
  /// alignment]); the fast frames' term keeps weight 1.
  double slow_align_weight = 1.0;
  /// Weight of the per-query softmax over the frames (frame_contrast_loss) added to each
  /// pathway's backbone alignment BCE in the training steps (Note [Alignment contrast],
  /// trainer.cpp); 0 = the BCE alone.
  double align_contrast = 0;
  /// Note [Slow warm-up] (trainer.cpp): minutes of the run (within `minutes`) spent first on the
  /// backbone alone, its slow frames aligned with the queries; 0 = none. A resumed run skips it.
  double slow_warmup_minutes = 0;
  /// Note [Warm-up queries] (trainer.cpp): the warm-up aligns only the queries whose text this
  /// regular expression (ECMAScript) finds; "" = every query.
  std::string slow_warmup_queries;
  /// Note [Warm-up text side] (trainer.cpp): "train" (the warm-up also trains the text encoder
  /// and the alignment's text projection), "freeze" (it trains the vision side alone) or
  /// "reset" (it trains both, then puts the text side back as it was).
  std::string slow_warmup_text = "train";
  /// Note [Warm-up fast frames] (trainer.cpp): the warm-up also aligns every query of its
  /// videos with their fast frames, as the training's alignment does.
  bool slow_warmup_fast = false;
  /// How the QA head scores options: "option" (Note [Option-fused QA]) or "question"
  /// (Note [Question-fused QA]).
  std::string qa_scoring = "option";
  /// Note [Detail probe] (fusion/slowfast_fusion.h): a loss on the text->slow attention of its
  /// own, so the gated detail path learns while its gate is closed.
  bool detail_probe = false;
  double motion_seconds = 1.0;  ///< fusion.motion_seconds of a new video model (Note [Motion tokens])
  /// slowfast.fast_flow of a new model with a fast pathway (Note [Place flow])
  bool fast_flow = true;
  /// fusion.flow_scale of a new model reading the flow: "raw" or "tokens" (Note [Flow scale])
  std::string flow_scale = "raw";
  int motion_match = 64;  ///< fusion.motion_match of a new video model (Note [Motion match]); 0: none
  int motion_match_steps = 1;  ///< fusion.motion_match_steps (odd; 1: each step alone; Note [Motion match])
  /// fusion.align_pool of a new video model: "place" or "channel" (Note [Alignment pooling])
  std::string align_pool = "place";
  /// fusion.align_heads of a new slow+fast model: "shared" or "pathway" (Note [Alignment heads])
  std::string align_heads = "shared";
  bool detail_match = false;  ///< fusion.detail_match of a new video model (Note [Detail match])
  uint64_t seed = 0;
  int64_t validate_every = 0;  ///< steps between validations; 0 = about 8 per run
  /// Note [Training crops]: > 0 trains three steps in four on a crop of this many seconds
  /// around one query (videos with frames only); 0 = whole videos every step. 12 s: on the
  /// synthetic benchmark it lifted test R1@0.5/0.7 from 26.7/15.0 to 44.4/35.0 (README).
  double crop_seconds = 12;
  /// Note [Training crops]: a crop also learns from the queries whose windows all lie outside
  /// it ("not here": every step negative), not only from those inside. On: it gives crops the
  /// negatives whole videos have; its gain is within the run-to-run spread so far (README).
  bool crop_negatives = true;
  /// Note [Batched steps] (trainer.cpp): samples (videos or crops) per update, their gradients
  /// averaged. 2: on the 2-core machine a 2-sample step costs 1.4-1.5x a 1-sample one (the
  /// second core was mostly idle). A resumed run keeps its own.
  int batch_videos = 2;
  // The from-scratch backbone (ignored with clip:DIR).
  int hidden_size = 64, layers = 2, heads = 4, patch_size = 8;
  std::string stem = "patch";  ///< "patch" or "conv" (Note [Convolutional stem])
  int fast_input_size = 32;  ///< fast pathway input (px); slow runs at the videos' size
  /// Slow tokens per side after pooling the patch grid (average); 0 = half the grid (8x8 at
  /// 128 px, patch 8), the grid's own size = unpooled.
  int slow_grid = 0;
  int d_model = 128;
};

struct ValidationResult {
  int64_t queries = 0, questions = 0;
  double r1_05 = 0, r1_07 = 0, miou = 0, accuracy = 0;  ///< percent
  double score() const { return (r1_05 + r1_07 + accuracy) / 3; }
};

struct TrainProgress {
  std::string stage;  ///< "decode" (or "load": features), "warmup", "train", "validate", "done"
  /// done / total: videos decoded ("decode", "load"); queries aligned / queries ("warmup")
  int64_t step = 0, total_steps = 0, done = 0, total = 0;
  double loss = 0, qa_loss = 0, lr = 0, elapsed_seconds = 0, eta_seconds = 0, gate = 0;
  LossParts parts;
  ValidationResult validation;  ///< the latest, when stage == "validate"
  bool best = false;
};

struct TrainReport {
  int64_t steps = 0;
  double seconds = 0;
  ValidationResult best;
  int64_t best_step = 0;
};

/// Trains and writes `out_dir`. `progress` returning false stops cleanly (state saved, then
/// Cancelled is thrown). Throws IoError/FormatError for bad data, UsageError for bad options.
TrainReport train(const TrainOptions& options, const std::function<bool(const TrainProgress&)>& progress = {});

/// Grounding R1/mIoU of the top moment and QA accuracy of `model` on a decoded (or loaded) split.
ValidationResult validate(LearnedModelImpl& model, const struct TrainSplit& split);

}  // namespace sfvu::grounding
