// sfvu/grounding/learned_head.h: a trained model (learned_model.h) behind the VideoHead
// interface, so `sfvu ground`, `sfvu qa` and `sfvu predict` run it exactly as they run the
// training-free head.
#pragma once

#include <memory>

#include "sfvu/grounding/learned_model.h"
#include "sfvu/grounding/video_head.h"

namespace sfvu::grounding {

class LearnedHead : public VideoHead {
 public:
  /// `model` in eval mode; it is only read (forward under NoGradGuard), so the head is
  /// thread-safe.
  explicit LearnedHead(std::shared_ptr<LearnedModelImpl> model);
  GroundingResult ground(const pathways::VideoTokens& video, const std::string& query) const override;
  /// The same for a video and a query as the model reads them (a feature model's clip rows and
  /// query rows: feature_data.h); one query.
  GroundingResult ground(const VideoFeatures& video, const TextBatch& query) const;
  QaResult answer(const pathways::VideoTokens& video, const std::string& question,
                  const std::vector<std::string>& options) const override;
  std::string name() const override;
  const LearnedModelImpl& model() const { return *model_; }

 private:
  std::shared_ptr<LearnedModelImpl> model_;
};

/// The text a QA option is scored with: "question option".
std::string qa_option_text(const std::string& question, const std::string& option);

}  // namespace sfvu::grounding
