#include "sfvu/grounding/grounding_losses.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "sfvu/base/error.h"

namespace sfvu::grounding {

std::vector<float> inside_windows(const std::vector<Window>& windows, const std::vector<double>& times) {
  std::vector<float> inside(times.size(), 0.f);
  for (size_t t = 0; t < times.size(); ++t)
    for (const auto& w : windows)
      if (times[t] >= w.start_seconds && times[t] <= w.end_seconds) inside[t] = 1.f;
  return inside;
}

torch::Tensor frame_contrast_loss(const torch::Tensor& logits, const std::vector<std::vector<Window>>& windows,
                                  const std::vector<double>& times) {
  if (logits.dim() != 2 || logits.size(0) != int64_t(windows.size()) || logits.size(1) != int64_t(times.size()))
    throw UsageError("frame_contrast_loss: logits must be [texts, frames]");
  std::vector<torch::Tensor> terms;
  for (size_t b = 0; b < windows.size(); ++b) {
    const std::vector<float> inside = inside_windows(windows[b], times);
    const auto count = std::count(inside.begin(), inside.end(), 1.f);
    if (count == 0 || count == int64_t(inside.size())) continue;
    const torch::Tensor row = logits[int64_t(b)];
    const torch::Tensor mask = torch::tensor(inside).to(row.device()) > 0.5f;
    terms.push_back(torch::logsumexp(row, 0) - torch::logsumexp(row.masked_select(mask), 0));
  }
  return terms.empty() ? torch::zeros({}, logits.options()) : torch::stack(terms).mean();
}

// Note [Point assignment]
// A point of level l (spacing 2^l steps) regresses a window when it lies inside it and the
// window's length, in level-0 steps, is in [lo_l, hi_l): level 0 takes [0, 16), level l > 0
// takes [8 * 2^(l-1), 16 * 2^l), the top level has no upper bound. The ranges overlap by a
// factor 2 so every window has points on one or two levels, each with a few to a dozen
// positives. A point inside two windows takes the shorter one. A window no point was given
// (shorter than a step) gets the level-0 point nearest its centre, so every window trains.
std::vector<int64_t> assign_points(const GroundingOutput& out, const std::vector<Window>& windows, int levels) {
  const size_t N = out.point_seconds.size();
  std::vector<int64_t> owner(N, -1);
  std::vector<bool> has_point(windows.size(), false);
  const double step = out.step_seconds;
  for (size_t i = 0; i < N; ++i) {
    const int l = out.point_level[i];
    const double lo = l == 0 ? 0.0 : 8.0 * std::pow(2.0, l - 1);
    const double hi = l == levels - 1 ? std::numeric_limits<double>::infinity() : 16.0 * std::pow(2.0, l);
    const double t = out.point_seconds[i];
    double best_len = std::numeric_limits<double>::infinity();
    for (size_t w = 0; w < windows.size(); ++w) {
      const double len = windows[w].end_seconds - windows[w].start_seconds;
      const double len_steps = len / step;
      if (t < windows[w].start_seconds || t > windows[w].end_seconds || len_steps < lo || len_steps >= hi) continue;
      if (len < best_len) {
        best_len = len;
        owner[i] = int64_t(w);
      }
    }
    if (owner[i] >= 0) has_point[size_t(owner[i])] = true;
  }
  for (size_t w = 0; w < windows.size(); ++w) {
    if (has_point[w]) continue;
    const double mid = 0.5 * (windows[w].start_seconds + windows[w].end_seconds);
    int64_t best = -1;
    for (size_t i = 0; i < N; ++i)
      if (out.point_level[i] == 0 && (best < 0 || std::abs(out.point_seconds[i] - mid) <
                                                      std::abs(out.point_seconds[size_t(best)] - mid)))
        best = int64_t(i);
    if (best >= 0) owner[size_t(best)] = int64_t(w);
  }
  return owner;
}

torch::Tensor generalized_iou_1d(const torch::Tensor& s1, const torch::Tensor& e1, const torch::Tensor& s2,
                                 const torch::Tensor& e2, torch::Tensor* iou) {
  torch::Tensor inter = (torch::min(e1, e2) - torch::max(s1, s2)).clamp_min(0);
  torch::Tensor uni = (e1 - s1) + (e2 - s2) - inter;
  torch::Tensor hull = torch::max(e1, e2) - torch::min(s1, s2);
  torch::Tensor i = inter / uni.clamp_min(1e-6);
  if (iou) *iou = i;
  return i - (hull - uni) / hull.clamp_min(1e-6);
}

LossParts grounding_loss(const GroundingOutput& out, const std::vector<std::vector<Window>>& windows,
                         const std::vector<double>& times, const GroundingLossOptions& o) {
  const int64_t B = out.logits.size(0), T = out.saliency.size(1);
  if (int64_t(windows.size()) != B) throw UsageError("grounding_loss: one window list per row");
  const auto opts = out.logits.options();
  int levels = 0;
  for (int l : out.point_level) levels = std::max(levels, l + 1);
  LossParts parts;
  torch::Tensor total = torch::zeros({}, opts);
  for (int64_t b = 0; b < B; ++b) {
    const auto& win = windows[size_t(b)];
    // Saliency: steps inside any window.
    torch::Tensor label = torch::tensor(inside_windows(win, times)).to(opts.device());
    torch::Tensor sal = out.saliency[b];
    torch::Tensor bce = torch::binary_cross_entropy_with_logits(sal, label);
    torch::Tensor p = torch::sigmoid(sal);
    torch::Tensor pos = p.masked_select(label > 0.5), neg = p.masked_select(label < 0.5);
    torch::Tensor rank = torch::zeros({}, opts);
    if (pos.numel() > 0 && neg.numel() > 0)
      rank = torch::relu(o.rank_margin - (pos.unsqueeze(1) - neg.unsqueeze(0))).mean();

    // Moments.
    std::vector<int64_t> owner = assign_points(out, win, levels);
    std::vector<int64_t> idx;
    std::vector<double> gs, ge;
    for (size_t i = 0; i < owner.size(); ++i)
      if (owner[i] >= 0) {
        idx.push_back(int64_t(i));
        gs.push_back(win[size_t(owner[i])].start_seconds);
        ge.push_back(win[size_t(owner[i])].end_seconds);
      }
    torch::Tensor logits = out.logits[b];
    torch::Tensor target = torch::zeros_like(logits);
    torch::Tensor l1 = torch::zeros({}, opts), giou = torch::zeros({}, opts);
    if (!idx.empty()) {
      torch::Tensor ii = torch::tensor(idx, torch::kInt64).to(opts.device());
      torch::Tensor s = out.start_seconds[b].index_select(0, ii), e = out.end_seconds[b].index_select(0, ii);
      torch::Tensor ts = torch::tensor(gs, torch::kFloat64).to(opts), te = torch::tensor(ge, torch::kFloat64).to(opts);
      torch::Tensor iou;
      torch::Tensor g = generalized_iou_1d(s, e, ts, te, &iou);
      giou = (1 - g).mean();
      l1 = (((s - ts).abs() + (e - te).abs()) / (te - ts).clamp_min(out.step_seconds)).mean();
      target = target.index_put({ii}, iou.detach().clamp_min(0.01));
    }
    // IoU-aware (quality) focal loss, normalised by the number of positives.
    torch::Tensor prob = torch::sigmoid(logits);
    torch::Tensor focal = (torch::binary_cross_entropy_with_logits(logits, target, {}, {}, at::Reduction::None) *
                           (prob - target).abs().pow(2))
                              .sum() /
                          double(std::max<size_t>(1, idx.size()));
    torch::Tensor row = o.weight_saliency * bce + o.weight_rank * rank + o.weight_focal * focal + o.weight_l1 * l1 +
                        o.weight_giou * giou;
    total = total + row / double(B);
    parts.saliency += bce.item<double>() / B;
    parts.rank += rank.item<double>() / B;
    parts.focal += focal.item<double>() / B;
    parts.l1 += l1.item<double>() / B;
    parts.giou += giou.item<double>() / B;
  }
  parts.total = total;
  return parts;
}

}  // namespace sfvu::grounding
