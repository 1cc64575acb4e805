#include "sfvu/grounding/learned_head.h"

#include "sfvu/base/error.h"

namespace sfvu::grounding {

LearnedHead::LearnedHead(std::shared_ptr<LearnedModelImpl> model) : model_(std::move(model)) {}

std::string LearnedHead::name() const { return "learned-" + to_string(model_->config().pathways); }

std::string qa_option_text(const std::string& question, const std::string& option) { return question + " " + option; }

GroundingResult LearnedHead::ground(const pathways::VideoTokens& video, const std::string& query) const {
  torch::NoGradGuard no_grad;
  return ground(LearnedModelImpl::from_tokens(video), model_->encode_text({query}));
}

GroundingResult LearnedHead::ground(const VideoFeatures& video, const TextBatch& query) const {
  torch::NoGradGuard no_grad;
  const auto& c = model_->config();
  std::vector<double> times;
  GroundingOutput out = model_->ground(video, query, &times);
  GroundingResult r;
  r.duration_seconds = video.duration_seconds;
  r.clip_seconds = c.clip_seconds;
  r.saliency = saliency_per_clip(out, 0, times, video.duration_seconds, c.clip_seconds);
  r.moments = decode_moments(out, 0, video.duration_seconds, c.nms_iou, c.max_moments, c.moment_saliency);
  return r;
}

QaResult LearnedHead::answer(const pathways::VideoTokens& video, const std::string& question,
                             const std::vector<std::string>& options) const {
  if (options.size() < 2) throw UsageError("a question needs at least two options");
  torch::NoGradGuard no_grad;
  torch::Tensor scores = model_->qa_scores(LearnedModelImpl::from_tokens(video), {question}, {options});
  torch::Tensor p = torch::softmax(scores.to(torch::kCPU, torch::kFloat64), 0).contiguous();
  QaResult r;
  r.probabilities.assign(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
  r.answer_index = p.argmax().item<int64_t>();
  return r;
}

}  // namespace sfvu::grounding
