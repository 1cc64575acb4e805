// Grounding queries for prediction: the jsonl releases, or the Charades-STA .txt through the
// evaluator's own reader (same qids).
#include "sfvu/grounding/annotations.h"

#include <cmath>

#include "sfvu/base/error.h"
#include "sfvu/grounding/charades_eval.h"
#include "sfvu/grounding/eval_common.h"

namespace sfvu::grounding {
namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& file, int64_t line, const std::string& field, const std::string& what) {
  throw FormatError(file + ":" + std::to_string(line) + ": field '" + field + "': " + what);
}

const std::string& string_field(const json& j, const std::string& key, const std::string& file, int64_t line) {
  const json& v = require_field(j, key, file, line);
  if (!v.is_string()) fail(file, line, key, "must be a string, got " + v.dump());
  return v.get_ref<const std::string&>();
}

bool is_jsonl(const std::string& path) {
  for (const std::string ext : {".jsonl", ".json"})
    if (path.size() >= ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0) return true;
  return false;
}

GroundingQueries load_jsonl(const std::string& path) {
  GroundingQueries out;
  out.path = path;
  UniqueQids qids(path);
  for_each_json_line(path, [&](const json& j, int64_t line) {
    GroundingQuery q;
    q.qid = require_integer_qid(j, path, line);
    qids.add(q.qid, line);
    q.query = string_field(j, "query", path, line);
    q.vid = string_field(j, "vid", path, line);
    if (auto it = j.find("duration"); it != j.end()) {
      if (!it->is_number() || !std::isfinite(it->get<double>()) || it->get<double>() < 0)
        fail(path, line, "duration", "must be a finite number >= 0, got " + it->dump());
      q.duration_seconds = it->get<double>();
    }
    out.queries.push_back(std::move(q));
  });
  return out;
}

}  // namespace

GroundingQueries load_grounding_queries(const std::string& path) {
  GroundingQueries out;
  if (is_jsonl(path)) {
    out = load_jsonl(path);
  } else {
    const CharadesGroundTruth gt = load_charades_gt(path);
    out.path = path;
    out.n_skipped = gt.n_dropped;
    for (const auto& c : gt.queries) out.queries.push_back({c.qid, c.query, c.vid, c.duration_seconds});
  }
  if (out.queries.empty()) throw FormatError(path + ": no queries");
  return out;
}

}  // namespace sfvu::grounding
