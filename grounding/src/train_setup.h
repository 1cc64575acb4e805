// Private to the trainer (trainer.cpp): what a run trains on, the model it starts from, and
// its splits made ready for that model.
#pragma once

#include <memory>
#include <string>

#include "sfvu/base/progress.h"
#include "sfvu/grounding/learned_model.h"
#include "sfvu/grounding/train_data.h"
#include "sfvu/grounding/trainer.h"

namespace sfvu::grounding {

/// kFeatures when TrainOptions::features_dir is given, or when the training split has no
/// videos/ folder but holds a feature layout (feature_data.h).
SplitMedia training_media(const TrainOptions& o);

/// A fresh model for the run (seeded by the caller): a from-scratch backbone sized for the
/// split's videos, a frozen pretrained CLIP (--init clip:DIR), or a feature model whose
/// widths come from the split's first video and query. UsageError for options a feature
/// model cannot take (--init clip:DIR, --pathways slow|fast).
std::shared_ptr<LearnedModelImpl> new_model(const TrainOptions& o, const TrainSplit& train_split, SplitMedia media);

/// Makes `split` ready for `model`: frames decoded (and, with a frozen backbone, encoded once
/// and dropped), or the clip and query rows loaded (the split folder's features, or
/// TrainOptions::features_dir). Progress stages "decode" / "load".
void prepare_split(LearnedModelImpl& model, const TrainOptions& o, TrainSplit& split, const ProgressCallback& progress);

}  // namespace sfvu::grounding
