// Charades-STA metrics under the UniVTG, 2D-TAN and VSLNet conventions
// (shared/specs/charades_sta_metrics.md §2-3).
#include "sfvu/grounding/charades_eval.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "sfvu/base/error.h"
#include "sfvu/grounding/eval_common.h"

namespace sfvu::grounding {
namespace {

using ojson = nlohmann::ordered_json;

// Note [Summation order]: the evaluators average with numpy, whose float64 sum is pairwise;
// matching "to the last printed digit" of the unrounded fixtures needs the same order. Counts
// (recall hits) are exact in any order and are divided as (count / n) * 100 like np.mean * 100.
double pairwise_block(const double* a, int64_t n) {
  if (n < 8) {
    double res = 0.;
    for (int64_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_block(a, n2) + pairwise_block(a + n2, n - n2);
}

double numpy_mean(const std::vector<double>& x) {
  if (x.empty()) return std::numeric_limits<double>::quiet_NaN();
  return numpy_pairwise_sum(x.data(), static_cast<int64_t>(x.size())) / static_cast<double>(x.size());
}

double percent(int64_t count, int64_t n) { return static_cast<double>(count) / static_cast<double>(n) * 100.0; }

// IoU-A (spec qvhighlights §2): inter / union, union evaluated left to right; no zero guard.
double union_iou(double ps, double pe, double gs, double ge) {
  double inter = std::max(0.0, std::min(pe, ge) - std::max(ps, gs));
  double uni = (pe - ps) + (ge - gs) - inter;
  return inter / uni;
}

// 2D-TAN's hull IoU has no zero guard: 0/0 is NaN.
double hull_iou_unguarded(double ps, double pe, double gs, double ge) {
  double inter = std::max(0.0, std::min(pe, ge) - std::max(ps, gs));
  return inter / (std::max(pe, ge) - std::min(ps, gs));
}

const char* const kThresholdNames[] = {"0.3", "0.35", "0.4", "0.45", "0.5", "0.55", "0.6",
                                       "0.65", "0.7", "0.75", "0.8", "0.85", "0.9", "0.95"};
constexpr int kNumR1Thresholds = 14;
constexpr int kFirstMapThreshold = 4;  // mAP uses 0.5 .. 0.95

double threshold_value(int i) { return std::strtod(kThresholdNames[i], nullptr); }

struct UnivtgBucket {
  double miou = 0;
  double r1[kNumR1Thresholds] = {}, r5[kNumR1Thresholds] = {};
  double map[10] = {};
  double map_average = 0;
};

UnivtgBucket univtg_bucket(const std::vector<const CharadesQuery*>& queries, const CharadesPredictions& preds) {
  UnivtgBucket b;
  const int64_t n = static_cast<int64_t>(queries.size());
  std::vector<double> top1(n), top5(n);
  std::vector<double> ap_sum(10, 0.0);
  for (int64_t qi = 0; qi < n; ++qi) {
    const CharadesQuery& q = *queries[qi];
    const auto& w = preds.at(q.qid);
    top1[qi] = charades_hull_iou(w[0].start_seconds, w[0].end_seconds, q.start_seconds, q.end_seconds);
    // R5: the first of the top 5 with the highest union IoU (NaN as 0), scored with the hull IoU.
    size_t best = 0;
    double best_iou = -1;
    for (size_t k = 0; k < std::min<size_t>(5, w.size()); ++k) {
      double iou = union_iou(w[k].start_seconds, w[k].end_seconds, q.start_seconds, q.end_seconds);
      if (std::isnan(iou)) iou = 0;
      if (iou > best_iou) {
        best_iou = iou;
        best = k;
      }
    }
    top5[qi] = charades_hull_iou(w[best].start_seconds, w[best].end_seconds, q.start_seconds, q.end_seconds);
    // mAP with one GT window: AP@t = 1/k, k = rank (top 10 by position, stable-sorted by
    // score) of the first window whose union IoU is not below t.
    std::vector<CharadesWindow> top10(w.begin(), w.begin() + std::min<size_t>(10, w.size()));
    std::stable_sort(top10.begin(), top10.end(), [](const CharadesWindow& a, const CharadesWindow& c) { return a.score > c.score; });
    for (int t = 0; t < 10; ++t) {
      double thr = threshold_value(kFirstMapThreshold + t);
      double ap = 0;
      for (size_t k = 0; k < top10.size(); ++k) {
        double iou = union_iou(top10[k].start_seconds, top10[k].end_seconds, q.start_seconds, q.end_seconds);
        if (!(iou < thr)) {
          ap = 1.0 / static_cast<double>(k + 1);
          break;
        }
      }
      ap_sum[t] += ap;  // np.mean(axis=0) of a [queries, thresholds] array adds rows in order
    }
  }
  b.miou = numpy_mean(top1) * 100;
  for (int t = 0; t < kNumR1Thresholds; ++t) {
    double thr = threshold_value(t);
    int64_t hit1 = 0, hit5 = 0;
    for (int64_t qi = 0; qi < n; ++qi) {
      hit1 += top1[qi] >= thr;
      hit5 += top5[qi] >= thr;
    }
    b.r1[t] = percent(hit1, n);
    b.r5[t] = percent(hit5, n);
  }
  std::vector<double> maps(10);
  for (int t = 0; t < 10; ++t) maps[t] = ap_sum[t] / static_cast<double>(n);
  b.map_average = numpy_mean(maps) * 100;
  for (int t = 0; t < 10; ++t) b.map[t] = maps[t] * 100;
  return b;
}

ojson bucket_json(const UnivtgBucket& b, int digits) {
  auto r = [digits](double v) { return python_round(v, digits); };
  ojson j;
  j["MR-mIoU"] = r(b.miou);
  ojson map;
  for (int t = 0; t < 10; ++t) map[kThresholdNames[kFirstMapThreshold + t]] = r(b.map[t]);
  map["average"] = r(b.map_average);
  j["MR-mAP"] = map;
  ojson r1, r5;
  for (int t = 0; t < kNumR1Thresholds; ++t) {
    r1[kThresholdNames[t]] = r(b.r1[t]);
    r5[kThresholdNames[t]] = r(b.r5[t]);
  }
  j["MR-R1"] = r1;
  j["MR-R5"] = r5;
  return j;
}

// UniVTG's report: buckets by GT length; an empty bucket falls back to all queries.
ojson univtg_report(const CharadesGroundTruth& gt, const CharadesPredictions& preds, int digits,
                    UnivtgBucket& full_out) {
  struct Range {
    const char* name;
    double lo, hi;
  };
  const Range ranges[] = {{"long", 30, 150}, {"middle", 10, 30}, {"short", 0, 10}};
  std::vector<const CharadesQuery*> all;
  for (const auto& q : gt.queries) all.push_back(&q);
  full_out = univtg_bucket(all, preds);
  ojson buckets;
  buckets["full"] = bucket_json(full_out, digits);
  for (const auto& range : ranges) {
    std::vector<const CharadesQuery*> sel;
    for (const auto* q : all) {
      double len = q->end_seconds - q->start_seconds;
      if (range.lo < len && len <= range.hi) sel.push_back(q);
    }
    buckets[range.name] = sel.empty() ? buckets["full"] : bucket_json(univtg_bucket(sel, preds), digits);
  }
  auto r = [digits](double v) { return python_round(v, digits); };
  ojson brief;
  brief["MR-full-R1@0.3-key"] = r(full_out.r1[0]);
  brief["MR-full-R1@0.5-key"] = r(full_out.r1[4]);
  brief["MR-full-R1@0.7-key"] = r(full_out.r1[8]);
  brief["MR-full-R5@0.3-key"] = r(full_out.r5[0]);
  brief["MR-full-R5@0.5-key"] = r(full_out.r5[4]);
  brief["MR-full-R5@0.7-key"] = r(full_out.r5[8]);
  brief["MR-full-mAP-key"] = buckets["full"]["MR-mAP"]["average"];
  brief["MR-full-mAP@0.5-key"] = buckets["full"]["MR-mAP"]["0.5"];
  brief["MR-full-mAP@0.75-key"] = buckets["full"]["MR-mAP"]["0.75"];
  brief["MR-full-mIoU-key"] = buckets["full"]["MR-mIoU"];
  for (const char* name : {"long", "middle", "short"}) {
    brief[std::string("MR-") + name + "-mAP"] = buckets[name]["MR-mAP"]["average"];
    brief[std::string("MR-") + name + "-mIoU"] = buckets[name]["MR-mIoU"];
  }
  ojson out;
  out["brief"] = brief;
  for (const char* name : {"full", "long", "middle", "short"}) out[name] = buckets[name];
  return out;
}

// 2D-TAN: greedy NMS in list order (overlap > thresh removed, NaN overlap removed), keep 5.
std::vector<CharadesWindow> nms_2dtan(const std::vector<CharadesWindow>& w, double thresh, size_t keep_max) {
  std::vector<CharadesWindow> kept;
  std::vector<bool> removed(w.size(), false);
  for (size_t i = 0; i < w.size() && kept.size() < keep_max; ++i) {
    if (removed[i]) continue;
    kept.push_back(w[i]);
    double len_i = w[i].end_seconds - w[i].start_seconds;
    for (size_t j = i + 1; j < w.size(); ++j) {
      if (removed[j]) continue;
      double inter = std::max(0.0, std::min(w[i].end_seconds, w[j].end_seconds) - std::max(w[i].start_seconds, w[j].start_seconds));
      double overlap = inter / (len_i + (w[j].end_seconds - w[j].start_seconds) - inter);
      if (!(overlap <= thresh)) removed[j] = true;
    }
  }
  return kept;
}

}  // namespace

double numpy_pairwise_sum(const double* x, int64_t n) {
  // np.add.reduce starts from the first element and adds the pairwise sum of the rest.
  if (n <= 0) return 0.0;
  return x[0] + pairwise_block(x + 1, n - 1);
}

double charades_hull_iou(double ps, double pe, double gs, double ge) {
  double inter = std::max(0.0, std::min(pe, ge) - std::max(ps, gs));
  double hull = std::max(pe, ge) - std::min(ps, gs);
  return hull != 0 ? inter / hull : 0.0;
}

CharadesConvention parse_charades_convention(const std::string& name) {
  if (name == "univtg") return CharadesConvention::kUnivtg;
  if (name == "2dtan") return CharadesConvention::k2dtan;
  if (name == "vslnet") return CharadesConvention::kVslnet;
  throw UsageError("--convention: expected univtg, 2dtan or vslnet, got '" + name + "'");
}

std::string to_string(CharadesConvention c) {
  switch (c) {
    case CharadesConvention::kUnivtg: return "univtg";
    case CharadesConvention::k2dtan: return "2dtan";
    case CharadesConvention::kVslnet: return "vslnet";
  }
  return "?";
}

ojson evaluate_charades(const CharadesGroundTruth& gt, const CharadesPredictions& preds, const CharadesEvalOptions& options) {
  if (gt.queries.empty()) throw FormatError(gt.path + ": no queries");
  for (const auto& q : gt.queries) {
    auto it = preds.find(q.qid);
    if (it == preds.end() || it->second.empty())
      throw FormatError("no prediction for qid " + std::to_string(q.qid) + " of the GT " + gt.path);
  }
  const int digits = options.round_digits;
  auto r = [digits](double v) { return python_round(v, digits); };
  UnivtgBucket full;
  ojson univtg = univtg_report(gt, preds, digits, full);
  const int64_t n = static_cast<int64_t>(gt.queries.size());

  ojson out;
  ojson brief, unrounded;
  const int kIdx[3] = {0, 4, 8};  // 0.3, 0.5, 0.7
  if (options.convention == CharadesConvention::kUnivtg) {
    for (int k : kIdx) brief[std::string("R1@") + kThresholdNames[k]] = r(full.r1[k]);
    for (int k : kIdx) brief[std::string("R5@") + kThresholdNames[k]] = r(full.r5[k]);
    brief["mIoU"] = r(full.miou);
  } else if (options.convention == CharadesConvention::k2dtan) {
    std::vector<std::vector<CharadesWindow>> kept;
    std::vector<double> top1;
    for (const auto& q : gt.queries) {
      kept.push_back(nms_2dtan(preds.at(q.qid), options.nms_threshold, 5));
      top1.push_back(hull_iou_unguarded(kept.back()[0].start_seconds, kept.back()[0].end_seconds, q.start_seconds, q.end_seconds));
    }
    for (size_t rank : {size_t{1}, size_t{5}}) {
      for (int k : kIdx) {
        double thr = threshold_value(k);
        int64_t hits = 0;
        for (int64_t qi = 0; qi < n; ++qi) {
          const auto& q = gt.queries[qi];
          bool hit = false;
          for (size_t j = 0; j < std::min(rank, kept[qi].size()); ++j)
            hit = hit || hull_iou_unguarded(kept[qi][j].start_seconds, kept[qi][j].end_seconds, q.start_seconds, q.end_seconds) > thr;
          hits += hit;
        }
        unrounded["R" + std::to_string(rank) + "@" + kThresholdNames[k]] = percent(hits, n);
      }
    }
    unrounded["mIoU"] = numpy_mean(top1) * 100;
  } else {
    std::vector<double> top1;
    for (const auto& q : gt.queries) {
      const auto& w = preds.at(q.qid)[0];
      double hull = std::max(w.end_seconds, q.end_seconds) - std::min(w.start_seconds, q.start_seconds);
      double iou = hull != 0 ? (std::min(w.end_seconds, q.end_seconds) - std::max(w.start_seconds, q.start_seconds)) / hull : 0.0;
      top1.push_back(std::max(0.0, iou));
    }
    for (int k : kIdx) {
      int64_t hits = 0;
      for (double iou : top1) hits += iou >= threshold_value(k);
      unrounded[std::string("R1@") + kThresholdNames[k]] = percent(hits, n);
    }
    for (int k : kIdx) unrounded[std::string("R5@") + kThresholdNames[k]] = nullptr;
    unrounded["mIoU"] = numpy_mean(top1) * 100;
  }
  if (options.convention != CharadesConvention::kUnivtg) {
    for (int rank : {1, 5})
      for (int k : kIdx) {
        std::string key = "R" + std::to_string(rank) + "@" + kThresholdNames[k];
        const auto& v = unrounded[key];
        brief[key] = v.is_null() ? ojson(nullptr) : ojson(r(v.get<double>()));
      }
    brief["mIoU"] = r(unrounded["mIoU"].get<double>());
  }
  brief["mAP"] = r(full.map_average);
  out["brief"] = brief;
  out["convention"] = to_string(options.convention);
  out["gt"] = gt.path;
  out["gt_clipped"] = gt.gt_clipped;
  out["n_queries"] = n;
  out["n_gt_clipped"] = gt.n_clipped;
  out["n_gt_dropped"] = gt.n_dropped;
  out["round_digits"] = digits;
  if (options.convention == CharadesConvention::k2dtan) out["nms_threshold"] = options.nms_threshold;
  if (options.convention != CharadesConvention::kUnivtg) {
    unrounded["mAP"] = full.map_average;
    out["unrounded"] = unrounded;
  }
  out["univtg"] = univtg;
  return out;
}

}  // namespace sfvu::grounding
