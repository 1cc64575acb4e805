#include "sfvu/grounding/training_free_head.h"

#include <algorithm>
#include <cmath>

#include "sfvu/base/error.h"

namespace sfvu::grounding {

namespace {

int64_t clip_count(double duration, double clip_seconds) {
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(duration / clip_seconds - 1e-9)));
}

// Fills NaN entries by linear interpolation between the nearest finite neighbours (nearest
// value at the ends). All-NaN stays NaN.
void interpolate_gaps(std::vector<float>& v) {
  const int64_t n = static_cast<int64_t>(v.size());
  int64_t prev = -1;
  for (int64_t i = 0; i <= n; ++i) {
    if (i < n && std::isnan(v[size_t(i)])) continue;
    // gap (prev, i)
    for (int64_t k = prev + 1; k < i; ++k) {
      if (prev < 0 && i >= n) break;
      if (prev < 0) v[size_t(k)] = v[size_t(i)];
      else if (i >= n) v[size_t(k)] = v[size_t(prev)];
      else {
        const float w = float(k - prev) / float(i - prev);
        v[size_t(k)] = (1 - w) * v[size_t(prev)] + w * v[size_t(i)];
      }
    }
    prev = i;
  }
}

// Cosines [texts, frames] between normalised text and frame embeddings.
torch::Tensor cosines(const torch::Tensor& text, const torch::Tensor& frames) {
  if (frames.size(0) == 0) return torch::zeros({text.size(0), 0});
  namespace F = torch::nn::functional;
  auto norm = F::NormalizeFuncOptions().dim(-1);
  return torch::matmul(F::normalize(text, norm), F::normalize(frames.to(torch::kFloat32), norm).t());
}

std::vector<float> row(const torch::Tensor& t, int64_t i) {
  torch::Tensor r = t[i].contiguous();
  return std::vector<float>(r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
}

}  // namespace

std::vector<float> frames_to_clips(const std::vector<double>& pts, const std::vector<float>& values, double duration,
                                   double clip_seconds) {
  if (pts.size() != values.size()) throw UsageError("frames_to_clips: times and values differ in length");
  if (!(clip_seconds > 0) || !(duration > 0)) throw UsageError("frames_to_clips: duration and clip length must be > 0");
  if (pts.empty()) return {};
  const int64_t n = clip_count(duration, clip_seconds);
  std::vector<double> sum(size_t(n), 0.0);
  std::vector<int64_t> count(size_t(n), 0);
  for (size_t f = 0; f < pts.size(); ++f) {
    const int64_t c = std::clamp<int64_t>(static_cast<int64_t>(std::floor(pts[f] / clip_seconds + 1e-9)), 0, n - 1);
    sum[size_t(c)] += values[f];
    ++count[size_t(c)];
  }
  std::vector<float> out(static_cast<size_t>(n));
  for (int64_t c = 0; c < n; ++c)
    out[size_t(c)] = count[size_t(c)] ? float(sum[size_t(c)] / double(count[size_t(c)])) : std::nanf("");
  interpolate_gaps(out);
  return out;
}

TrainingFreeHead::TrainingFreeHead(std::shared_ptr<const pathways::ClipBundle> clip, TrainingFreeOptions options)
    : clip_(std::move(clip)), options_(std::move(options)) {
  if (!clip_) throw UsageError("TrainingFreeHead: no model");
  clip_->require_tokenizer();
  if (!clip_->model->parts().text || !clip_->model->parts().text_projection || !clip_->model->parts().visual_projection)
    throw UsageError(clip_->dir + ": training-free grounding needs a full CLIP (text tower and both projections)");
  if (!(options_.slow_weight >= 0 && options_.slow_weight <= 1)) throw UsageError("slow weight must be in [0, 1]");
  if (!(options_.clip_seconds > 0)) throw UsageError("clip seconds must be > 0");
}

std::vector<std::vector<float>> TrainingFreeHead::saliency(const pathways::VideoTokens& video,
                                                           const std::vector<std::string>& texts) const {
  if (video.n_fast() == 0 && video.n_slow() == 0)
    throw FormatError("no frame of the video could be decoded: nothing to score");
  torch::Tensor text = clip_->text_embeds(texts);
  torch::Tensor slow = cosines(text, video.slow_embeds), fast = cosines(text, video.fast_embeds);
  std::vector<std::vector<float>> out;
  const double d = video.duration_seconds, cs = options_.clip_seconds;
  for (int64_t t = 0; t < text.size(0); ++t) {
    std::vector<float> s = frames_to_clips(video.slow_pts_seconds, row(slow, t), d, cs);
    std::vector<float> f = frames_to_clips(video.fast_pts_seconds, row(fast, t), d, cs);
    double ws = options_.slow_weight;
    if (s.empty()) ws = 0;
    if (f.empty()) ws = 1;
    std::vector<float> curve(ws == 1 ? s.size() : f.size());
    for (size_t i = 0; i < curve.size(); ++i)
      curve[i] = float(ws * (s.empty() ? 0.f : s[i]) + (1 - ws) * (f.empty() ? 0.f : f[i]));
    out.push_back(std::move(curve));
  }
  return out;
}

GroundingResult TrainingFreeHead::ground(const pathways::VideoTokens& video, const std::string& query) const {
  GroundingResult r;
  r.duration_seconds = video.duration_seconds;
  r.clip_seconds = options_.clip_seconds;
  r.saliency = saliency(video, {query})[0];
  r.moments = extract_moments(r.saliency, r.clip_seconds, r.duration_seconds, options_.moments);
  return r;
}

QaResult TrainingFreeHead::answer(const pathways::VideoTokens& video, const std::string& question,
                                  const std::vector<std::string>& options) const {
  if (options.size() < 2) throw UsageError("multiple-choice QA needs at least two options");
  std::vector<std::string> texts;
  for (const auto& o : options) texts.push_back(question.empty() ? o : question + " " + o);
  const auto curves = saliency(video, texts);
  const double tau = clip_->model->logit_scale_exp();
  std::vector<double> scores;
  for (const auto& c : curves) {  // soft maximum over clips (Note [Training-free scoring])
    double m = *std::max_element(c.begin(), c.end()), acc = 0;
    for (float v : c) acc += std::exp(tau * (v - m));
    scores.push_back(m + std::log(acc / double(c.size())) / tau);
  }
  QaResult r;
  const double best = *std::max_element(scores.begin(), scores.end());
  double z = 0;
  for (double s : scores) z += std::exp(tau * (s - best));
  for (double s : scores) r.probabilities.push_back(float(std::exp(tau * (s - best)) / z));
  r.answer_index = std::max_element(scores.begin(), scores.end()) - scores.begin();
  return r;
}

}  // namespace sfvu::grounding
