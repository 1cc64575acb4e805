// QVHighlights metrics (spec: shared/specs/qvhighlights_metrics.md, § numbers below).
//
// Note [Where the official code crashes]
// The official evaluator stops with an exception on some inputs; we report numbers instead:
//  - empty pred_relevant_windows: R1 counts the query as a miss (it stays in the
//    denominator); mAP leaves the query out of the mean, as the official mAP code does.
//  - empty pred_saliency_scores: HIT@1 is 0 for that query; for HL-mAP the list is padded
//    with 0.0 like any short list (all clips tie).
//  - a GT query without windows (never in QVHighlights) is left out of every MR bucket,
//    including "full".
//  - a bucket with no query (e.g. no short GT window at all): its values are reported as 0.
// Inputs the official code accepts but we reject, in the loaders: reversed windows,
// duplicate qids, non-finite numbers.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>

#include "sfvu/base/error.h"
#include "sfvu/grounding/qvhighlights_eval.h"

namespace sfvu::grounding {
namespace {

// IoU-A (§2): union from lengths, no zero guard (0/0 is NaN, as numpy gives).
double iou_union(const QvWindow& p, const QvWindow& g) {
  const double inter = std::max(0.0, std::min(p.end_seconds, g.end_seconds) - std::max(p.start_seconds, g.start_seconds));
  const double uni = (p.end_seconds - p.start_seconds) + (g.end_seconds - g.start_seconds) - inter;
  return inter / uni;
}

// IoU-B (§2): intersection over the hull, 0 when the hull is empty.
double iou_hull(const QvWindow& p, const QvWindow& g) {
  const double inter = std::max(0.0, std::min(p.end_seconds, g.end_seconds) - std::max(p.start_seconds, g.start_seconds));
  const double hull = std::max(p.end_seconds, g.end_seconds) - std::min(p.start_seconds, g.start_seconds);
  return hull != 0 ? inter / hull : 0.0;
}

// numpy ordering: NaN sorts above every number.
bool less_nan_last(double a, double b) {
  if (std::isnan(a)) return false;
  if (std::isnan(b)) return true;
  return a < b;
}

struct BucketRange {
  const char* name;
  double min_length, max_length;  // (min, max]; full keeps everything
  bool filter;
};

// R1 hit per threshold for one query (§3.2). `gt` is the bucket's window list (non-empty).
void add_r1(const std::vector<QvWindow>& pred, const std::vector<QvWindow>& gt, std::array<int64_t, 10>& hits) {
  if (pred.empty()) return;  // Note [Where the official code crashes]
  const QvWindow& p = pred[0];  // list position 0, score not used
  size_t best = 0;
  double best_iou = iou_union(p, gt[0]);
  for (size_t i = 1; i < gt.size(); ++i) {  // argmax, first on ties (a NaN wins, as in numpy)
    if (std::isnan(best_iou)) break;
    const double v = iou_union(p, gt[i]);
    if (std::isnan(v) || v > best_iou) best = i, best_iou = v;
  }
  const double iou = iou_hull(p, gt[best]);
  for (size_t t = 0; t < kQvIouThresholds.size(); ++t)
    if (iou >= kQvIouThresholds[t]) ++hits[t];
}

// VOC-2011 AP from a ranked TP/FP list with `n_gt` positives (§3.3 step 5-6).
double voc_ap(const std::vector<char>& is_tp, size_t n_gt) {
  const size_t n = is_tp.size();
  std::vector<double> prec(n + 2, 0.0), rec(n + 2, 0.0);
  double tp = 0, fp = 0;
  for (size_t k = 0; k < n; ++k) {
    (is_tp[k] ? tp : fp) += 1;
    prec[k + 1] = tp / (tp + fp);
    rec[k + 1] = tp / static_cast<double>(n_gt);
  }
  rec[n + 1] = 1.0;
  for (size_t i = n + 1; i-- > 0;) prec[i] = std::max(prec[i], prec[i + 1]);
  double ap = 0;
  for (size_t i = 1; i < n + 2; ++i)
    if (rec[i] != rec[i - 1]) ap += (rec[i] - rec[i - 1]) * prec[i];
  return ap;
}

// AP at every threshold for one query (§3.3). `pred` non-empty, `gt` non-empty.
std::array<double, 10> query_map(const std::vector<QvWindow>& pred, const std::vector<QvWindow>& gt) {
  std::vector<QvWindow> top(pred.begin(), pred.begin() + std::min<size_t>(pred.size(), kQvMaxPredWindowsForMap));
  std::stable_sort(top.begin(), top.end(), [](const QvWindow& a, const QvWindow& b) { return a.score > b.score; });
  // For each prediction, GT indices from highest to lowest IoU-A: numpy argsort reversed,
  // so among equal IoUs the higher index comes first.
  std::vector<std::vector<double>> ious(top.size(), std::vector<double>(gt.size()));
  std::vector<std::vector<size_t>> order(top.size());
  for (size_t k = 0; k < top.size(); ++k) {
    for (size_t i = 0; i < gt.size(); ++i) ious[k][i] = iou_union(top[k], gt[i]);
    order[k].resize(gt.size());
    std::iota(order[k].begin(), order[k].end(), size_t{0});
    std::stable_sort(order[k].begin(), order[k].end(),
                     [&](size_t a, size_t b) { return less_nan_last(ious[k][a], ious[k][b]); });
    std::reverse(order[k].begin(), order[k].end());
  }
  std::array<double, 10> ap{};
  for (size_t t = 0; t < kQvIouThresholds.size(); ++t) {
    std::vector<char> matched(gt.size(), 0), is_tp(top.size(), 0);
    for (size_t k = 0; k < top.size(); ++k)
      for (size_t i : order[k]) {
        if (ious[k][i] < kQvIouThresholds[t]) break;  // FP (NaN is not < t: a match, §2)
        if (matched[i]) continue;
        matched[i] = 1;
        is_tp[k] = 1;
        break;
      }
    ap[t] = voc_ap(is_tp, gt.size());
  }
  return ap;
}

QvBucketMetrics evaluate_bucket(const BucketRange& range, const std::vector<QvGroundTruth>& gt,
                                const std::vector<const QvPrediction*>& pred_of) {
  QvBucketMetrics out;
  out.name = range.name;
  std::array<int64_t, 10> hits{};
  std::array<double, 10> ap_sum{};
  for (size_t q = 0; q < gt.size(); ++q) {
    std::vector<QvWindow> windows;
    for (const QvWindow& w : gt[q].relevant_windows) {
      const double length = w.end_seconds - w.start_seconds;
      if (!range.filter || (range.min_length < length && length <= range.max_length)) windows.push_back(w);
    }
    if (windows.empty()) continue;  // the query leaves this bucket with its prediction
    ++out.n_queries;
    const std::vector<QvWindow>& pred = pred_of[q]->windows;  // never filtered (§3.1)
    add_r1(pred, windows, hits);
    if (pred.empty()) continue;
    ++out.n_queries_in_map;
    const auto ap = query_map(pred, windows);
    for (size_t t = 0; t < ap.size(); ++t) ap_sum[t] += ap[t];
  }
  double avg = 0;
  for (size_t t = 0; t < kQvIouThresholds.size(); ++t) {
    out.r1[t] = out.n_queries ? static_cast<double>(hits[t]) / static_cast<double>(out.n_queries) : 0.0;
    out.map[t] = out.n_queries_in_map ? ap_sum[t] / static_cast<double>(out.n_queries_in_map) : 0.0;
    avg += out.map[t];
  }
  out.map_average = avg / static_cast<double>(kQvIouThresholds.size());
  return out;
}

// AP of one annotator's binary labels against the scores (§4.3).
double saliency_ap(const std::vector<char>& label, const std::vector<double>& score) {
  const size_t n = label.size();
  size_t n_pos = 0;
  for (char l : label) n_pos += l ? 1 : 0;
  if (n_pos == 0) return 0.0;
  if (n_pos == n) return 1.0;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
  // One point per distinct score value, from the highest down.
  std::vector<double> precision, recall;
  size_t tp = 0, fp = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    for (; j < n && score[order[j]] == score[order[i]]; ++j) (label[order[j]] ? tp : fp) += 1;
    precision.push_back(static_cast<double>(tp) / static_cast<double>(tp + fp));
    // sklearn's recall passes through float32 before recall changes are looked for.
    recall.push_back(static_cast<float>(static_cast<double>(tp) / static_cast<double>(n_pos)));
    i = j;
  }
  // Interpolated precision = max over points with recall >= r; one value per distinct
  // recall level r > 0, plain mean (not weighted by recall change).
  double sum = 0, best = 0;
  size_t levels = 0;
  for (size_t i = precision.size(); i-- > 0;) {
    best = std::max(best, precision[i]);
    const double prev = i > 0 ? recall[i - 1] : 0.0;
    if (recall[i] != prev) sum += best, ++levels;
  }
  return levels ? sum / static_cast<double>(levels) : 0.0;
}

}  // namespace

QvMetrics evaluate_qvhighlights(const QvGroundTruthFile& gt, const QvPredictionFile& pred) {
  // Match predictions to GT by qid; the sets must be equal (§1).
  std::unordered_map<int64_t, size_t> gt_index;
  for (size_t i = 0; i < gt.queries.size(); ++i) gt_index.emplace(gt.queries[i].qid, i);
  std::vector<const QvPrediction*> pred_of(gt.queries.size(), nullptr);
  for (const QvPrediction& p : pred.predictions) {
    auto it = gt_index.find(p.qid);
    if (it == gt_index.end())
      throw FormatError(pred.path + ":" + std::to_string(p.line) + ": field 'qid': unknown qid " +
                        std::to_string(p.qid) + " (not in " + gt.path + ")");
    pred_of[it->second] = &p;
  }
  size_t n_missing = 0;
  const QvGroundTruth* first_missing = nullptr;
  for (size_t i = 0; i < pred_of.size(); ++i)
    if (!pred_of[i]) {
      if (!first_missing) first_missing = &gt.queries[i];
      ++n_missing;
    }
  if (first_missing)
    throw FormatError(pred.path + ": field 'qid': missing predictions for " + std::to_string(n_missing) + " of " +
                      std::to_string(gt.queries.size()) + " GT queries (first: qid " +
                      std::to_string(first_missing->qid) + ", " + gt.path + ":" +
                      std::to_string(first_missing->line) + ")");

  QvMetrics out;
  out.has_mr = pred.has_windows;
  out.has_hd = pred.has_saliency;
  if (out.has_mr) {
    // §3.1; JSON key order (sorted names).
    const BucketRange ranges[] = {{"full", 0, 150, false},
                                  {"long", 30, 150, true},
                                  {"middle", 10, 30, true},
                                  {"short", 0, 10, true}};
    for (const BucketRange& r : ranges) out.buckets.push_back(evaluate_bucket(r, gt.queries, pred_of));
  }
  if (out.has_hd) {
    for (const QvGroundTruth& q : gt.queries)
      if (!q.has_saliency)
        throw FormatError(gt.path + ":" + std::to_string(q.line) +
                          ": missing field 'saliency_scores' (needed for highlight detection)");
    const std::pair<const char*, int> levels[] = {{"Fair", 2}, {"Good", 3}, {"VeryGood", 4}};
    for (const auto& [name, min_score] : levels) {
      QvHighlightMetrics h;
      h.name = name;
      h.min_score = min_score;
      double ap_sum = 0, hit_sum = 0;
      for (size_t qi = 0; qi < gt.queries.size(); ++qi) {
        const QvGroundTruth& q = gt.queries[qi];
        const std::vector<double>& s = pred_of[qi]->saliency_scores;
        const size_t n_clips = static_cast<size_t>(static_cast<int64_t>(q.duration_seconds / 2));
        // labels[a][c]: annotator a marks clip c at this level (§4.1).
        std::vector<std::vector<char>> labels(3, std::vector<char>(n_clips, 0));
        for (size_t k = 0; k < q.relevant_clip_ids.size(); ++k)
          for (int a = 0; a < 3; ++a)
            labels[a][static_cast<size_t>(q.relevant_clip_ids[k])] = q.saliency_scores[k][a] >= min_score;
        // HIT@1 (§4.2): argmax over the list as submitted, first maximum.
        if (!s.empty()) {
          const size_t c = static_cast<size_t>(std::max_element(s.begin(), s.end()) - s.begin());
          if (c < n_clips && (labels[0][c] || labels[1][c] || labels[2][c])) hit_sum += 1;
        }
        // HL-mAP (§4.3): scores truncated / padded with 0.0 to n_clips.
        std::vector<double> adjusted(n_clips, 0.0);
        std::copy_n(s.begin(), std::min(n_clips, s.size()), adjusted.begin());
        for (int a = 0; a < 3; ++a) ap_sum += saliency_ap(labels[a], adjusted);
      }
      const double n = static_cast<double>(gt.queries.size());
      h.map = n > 0 ? ap_sum / (3 * n) : 0.0;
      h.hit1 = n > 0 ? hit_sum / n : 0.0;
      out.highlight.push_back(h);
    }
  }
  return out;
}

}  // namespace sfvu::grounding
