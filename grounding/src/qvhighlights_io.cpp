// Reading QVHighlights GT and submission files, and writing the official output layout.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "sfvu/base/error.h"
#include "sfvu/grounding/eval_common.h"
#include "sfvu/grounding/qvhighlights_eval.h"

namespace sfvu::grounding {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& file, int64_t line, const std::string& field, const std::string& what) {
  throw FormatError(file + ":" + std::to_string(line) + ": field '" + field + "': " + what);
}

double get_number(const json& v, const std::string& file, int64_t line, const std::string& field) {
  if (!v.is_number()) fail(file, line, field, "must be a number, got " + v.dump());
  const double x = v.get<double>();
  if (!std::isfinite(x)) fail(file, line, field, "must be finite");
  return x;
}

const json& get_array(const json& j, const std::string& key, const std::string& file, int64_t line) {
  const json& v = require_field(j, key, file, line);
  if (!v.is_array()) fail(file, line, key, "must be a list, got " + v.dump());
  return v;
}

// [[start, end(, score)], ...]; `n_values` is 2 for GT and 3 for predictions.
std::vector<QvWindow> get_windows(const json& j, const std::string& key, size_t n_values, const std::string& file,
                                  int64_t line) {
  std::vector<QvWindow> out;
  const json& list = get_array(j, key, file, line);
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string field = key + "[" + std::to_string(i) + "]";
    const json& w = list[i];
    if (!w.is_array() || w.size() < n_values)
      fail(file, line, field, std::string("must be ") + (n_values == 2 ? "[start, end]" : "[start, end, score]") +
                                  ", got " + w.dump());
    QvWindow win;
    win.start_seconds = get_number(w[0], file, line, field);
    win.end_seconds = get_number(w[1], file, line, field);
    if (n_values == 3) win.score = get_number(w[2], file, line, field);
    if (win.start_seconds > win.end_seconds) fail(file, line, field, "reversed window (start > end): " + w.dump());
    out.push_back(win);
  }
  return out;
}

}  // namespace

QvGroundTruthFile load_qvhighlights_gt(const std::string& path) {
  QvGroundTruthFile out;
  out.path = path;
  UniqueQids qids(path);
  for_each_json_line(path, [&](const json& j, int64_t line) {
    QvGroundTruth q;
    q.line = line;
    q.qid = require_integer_qid(j, path, line);
    qids.add(q.qid, line);
    q.duration_seconds = get_number(require_field(j, "duration", path, line), path, line, "duration");
    // The official code accepts any duration; an absurd one would only exhaust memory in
    // the n_clips x 3 label matrix, so it is rejected (QVHighlights videos are <= 150 s).
    if (q.duration_seconds < 0 || q.duration_seconds > kQvMaxDurationSeconds)
      fail(path, line, "duration", "must be in [0, " + std::to_string(static_cast<int64_t>(kQvMaxDurationSeconds)) + "] seconds");
    q.relevant_windows = get_windows(j, "relevant_windows", 2, path, line);
    q.has_saliency = j.contains("relevant_clip_ids") && j.contains("saliency_scores");
    if (q.has_saliency) {
      const int64_t n_clips = static_cast<int64_t>(q.duration_seconds / 2);  // truncation, §4.1
      const json& ids = get_array(j, "relevant_clip_ids", path, line);
      const json& scores = get_array(j, "saliency_scores", path, line);
      if (ids.size() != scores.size())
        fail(path, line, "saliency_scores",
             "has " + std::to_string(scores.size()) + " entries but relevant_clip_ids has " + std::to_string(ids.size()));
      for (size_t i = 0; i < ids.size(); ++i) {
        const std::string id_field = "relevant_clip_ids[" + std::to_string(i) + "]";
        if (!ids[i].is_number_integer()) fail(path, line, id_field, "must be an integer, got " + ids[i].dump());
        const int64_t id = ids[i].get<int64_t>();
        if (id < 0 || id >= n_clips)
          fail(path, line, id_field, "clip " + std::to_string(id) + " outside [0, " + std::to_string(n_clips) + ")");
        q.relevant_clip_ids.push_back(id);
        const std::string s_field = "saliency_scores[" + std::to_string(i) + "]";
        if (!scores[i].is_array() || scores[i].size() != 3)
          fail(path, line, s_field, "must be [a1, a2, a3], got " + scores[i].dump());
        std::array<double, 3> s{};
        for (int a = 0; a < 3; ++a) s[a] = get_number(scores[i][a], path, line, s_field);
        q.saliency_scores.push_back(s);
      }
    }
    out.queries.push_back(std::move(q));
  });
  return out;
}

QvPredictionFile load_qvhighlights_predictions(const std::string& path) {
  QvPredictionFile out;
  out.path = path;
  UniqueQids qids(path);
  bool first = true;
  for_each_json_line(path, [&](const json& j, int64_t line) {
    if (first) {  // the first line decides what is evaluated (§1)
      out.has_windows = j.contains("pred_relevant_windows");
      out.has_saliency = j.contains("pred_saliency_scores");
      if (!out.has_windows && !out.has_saliency)
        throw FormatError(path + ":" + std::to_string(line) +
                          ": missing field 'pred_relevant_windows' and 'pred_saliency_scores' (need at least one)");
      first = false;
    }
    QvPrediction p;
    p.line = line;
    p.qid = require_integer_qid(j, path, line);
    qids.add(p.qid, line);
    if (out.has_windows) p.windows = get_windows(j, "pred_relevant_windows", 3, path, line);
    if (out.has_saliency) {
      const json& s = get_array(j, "pred_saliency_scores", path, line);
      p.saliency_scores.reserve(s.size());
      for (size_t i = 0; i < s.size(); ++i)
        p.saliency_scores.push_back(get_number(s[i], path, line, "pred_saliency_scores[" + std::to_string(i) + "]"));
    }
    out.predictions.push_back(std::move(p));
  });
  if (first) throw FormatError(path + ": no predictions (empty file)");
  return out;
}

nlohmann::ordered_json qvhighlights_metrics_json(const QvMetrics& m, int decimals) {
  // Official: float(f"{100 * v:.2f}"); "%.*f" in glibc rounds the exact binary value the
  // same way Python's format does.
  auto pct = [decimals](double fraction) { return python_round(100 * fraction, decimals); };
  nlohmann::ordered_json out, brief;
  const QvBucketMetrics* full = nullptr;
  for (const auto& b : m.buckets)
    if (b.name == "full") full = &b;
  if (m.has_mr && full) {
    brief["MR-full-R1@0.5"] = pct(full->r1[0]);
    brief["MR-full-R1@0.7"] = pct(full->r1[4]);
    brief["MR-full-mAP"] = pct(full->map_average);
    brief["MR-full-mAP@0.5"] = pct(full->map[0]);
    brief["MR-full-mAP@0.75"] = pct(full->map[5]);
    for (const char* name : {"long", "middle", "short"})
      for (const auto& b : m.buckets)
        if (b.name == name) brief["MR-" + b.name + "-mAP"] = pct(b.map_average);
  }
  if (m.has_hd)
    for (const auto& h : m.highlight) {
      brief["HL-min-" + h.name + "-mAP"] = pct(h.map);
      brief["HL-min-" + h.name + "-Hit1"] = pct(h.hit1);
    }
  out["brief"] = brief;
  if (m.has_hd)
    for (const auto& h : m.highlight) out["HL-min-" + h.name] = {{"HL-mAP", pct(h.map)}, {"HL-Hit1", pct(h.hit1)}};
  if (m.has_mr)
    for (const auto& b : m.buckets) {
      nlohmann::ordered_json map, r1;
      for (size_t t = 0; t < kQvIouThresholds.size(); ++t) map[kQvIouThresholdKeys[t]] = pct(b.map[t]);
      map["average"] = pct(b.map_average);
      for (size_t t = 0; t < kQvIouThresholds.size(); ++t) r1[kQvIouThresholdKeys[t]] = pct(b.r1[t]);
      out[b.name] = {{"MR-mAP", map}, {"MR-R1", r1}};
    }
  return out;
}

}  // namespace sfvu::grounding
