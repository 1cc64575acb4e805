// Reading Charades-STA GT (.txt + CSV durations, or Moment-DETR jsonl) and predictions.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "sfvu/base/error.h"
#include "sfvu/grounding/charades_eval.h"
#include "sfvu/grounding/eval_common.h"

namespace sfvu::grounding {
namespace {

std::string where(const std::string& file, int64_t line) { return file + ":" + std::to_string(line) + ": "; }

bool parse_double(const std::string& text, double& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);  // correctly rounding, as Python's float()
  return end == text.c_str() + text.size() && errno != ERANGE && std::isfinite(out);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A JSON number that is finite, or FormatError naming the field.
double json_number(const nlohmann::json& j, const std::string& field, const std::string& file, int64_t line) {
  if (!j.is_number()) throw FormatError(where(file, line) + "field '" + field + "' is not a number");
  double v = j.get<double>();
  if (!std::isfinite(v)) throw FormatError(where(file, line) + "field '" + field + "' is not finite");
  return v;
}

int64_t json_qid(const nlohmann::json& rec, const std::string& file, int64_t line) {
  const auto& q = require_field(rec, "qid", file, line);
  if (!q.is_number_integer()) throw FormatError(where(file, line) + "field 'qid' is not an integer");
  return q.get<int64_t>();
}

CharadesGroundTruth load_txt(const std::string& path, const std::string& durations_csv, int64_t first_qid) {
  CharadesGroundTruth gt;
  gt.path = path;
  std::map<std::string, double> durations;
  if (!durations_csv.empty()) durations = load_charades_durations(durations_csv);
  gt.gt_clipped = !durations_csv.empty();
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot open");
  std::string text;
  int64_t line_no = 0;
  while (std::getline(in, text)) {
    ++line_no;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.find_first_not_of(" \t") == std::string::npos) continue;
    auto sep = text.find("##");
    if (sep == std::string::npos) throw FormatError(where(path, line_no) + "no '##' before the sentence");
    std::istringstream head(text.substr(0, sep));
    std::string vid, s, e, extra;
    if (!(head >> vid >> s >> e) || (head >> extra))
      throw FormatError(where(path, line_no) + "expected 'VID START END##SENTENCE'");
    CharadesQuery q;
    q.qid = first_qid + line_no - 1;
    q.vid = vid;
    q.query = text.substr(sep + 2);
    if (!parse_double(s, q.start_seconds)) throw FormatError(where(path, line_no) + "field 'start' is not a number: " + s);
    if (!parse_double(e, q.end_seconds)) throw FormatError(where(path, line_no) + "field 'end' is not a number: " + e);
    if (gt.gt_clipped) {
      auto it = durations.find(vid);
      if (it == durations.end())
        throw FormatError(where(path, line_no) + "video '" + vid + "' has no 'length' in " + durations_csv);
      q.duration_seconds = it->second;
      if (q.end_seconds > q.duration_seconds) {
        q.end_seconds = q.duration_seconds;
        ++gt.n_clipped;
      }
    }
    if (!(q.start_seconds < q.end_seconds)) {  // the reversed train lines: dropped as 2D-TAN does
      ++gt.n_dropped;
      gt.dropped_qids.push_back(q.qid);
      continue;
    }
    gt.queries.push_back(q);
  }
  return gt;
}

CharadesGroundTruth load_jsonl(const std::string& path) {
  CharadesGroundTruth gt;
  gt.path = path;
  gt.gt_clipped = true;
  std::set<int64_t> seen;
  for_each_json_line(path, [&](const nlohmann::json& rec, int64_t line) {
    CharadesQuery q;
    q.qid = json_qid(rec, path, line);
    if (!seen.insert(q.qid).second) throw FormatError(where(path, line) + "field 'qid': duplicate " + std::to_string(q.qid));
    if (auto it = rec.find("vid"); it != rec.end() && it->is_string()) q.vid = it->get<std::string>();
    if (auto it = rec.find("query"); it != rec.end() && it->is_string()) q.query = it->get<std::string>();
    const auto& windows = require_field(rec, "relevant_windows", path, line);
    if (!windows.is_array() || windows.size() != 1 || !windows[0].is_array() || windows[0].size() != 2)
      throw FormatError(where(path, line) + "field 'relevant_windows' must be [[start, end]] (one window per query)");
    q.start_seconds = json_number(windows[0][0], "relevant_windows", path, line);
    q.end_seconds = json_number(windows[0][1], "relevant_windows", path, line);
    if (auto it = rec.find("duration"); it != rec.end()) {
      q.duration_seconds = json_number(*it, "duration", path, line);
      if (q.end_seconds > q.duration_seconds) {
        q.end_seconds = q.duration_seconds;
        ++gt.n_clipped;
      }
    } else {
      gt.gt_clipped = false;
    }
    if (!(q.start_seconds < q.end_seconds))
      throw FormatError(where(path, line) + "field 'relevant_windows': start >= end");
    gt.queries.push_back(q);
  });
  return gt;
}

}  // namespace

bool read_csv_record(std::istream& in, std::vector<std::string>& fields, int64_t& line_no) {
  fields.clear();
  std::string field;
  bool in_quotes = false, any = false;
  int c;
  while ((c = in.get()) != EOF) {
    any = true;
    if (in_quotes) {
      if (c == '"') {
        if (in.peek() == '"') {
          field += '"';
          in.get();
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line_no;
        field += static_cast<char>(c);
      }
    } else if (c == '"') {
      in_quotes = true;
    } else if (c == ',') {
      fields.push_back(field);
      field.clear();
    } else if (c == '\n') {
      ++line_no;
      break;
    } else if (c != '\r') {
      field += static_cast<char>(c);
    }
  }
  if (!any) return false;
  fields.push_back(field);
  return true;
}

std::map<std::string, double> load_charades_durations(const std::string& csv_path) {
  std::ifstream in(csv_path, std::ios::binary);
  if (!in) throw IoError(csv_path + ": cannot open");
  std::vector<std::string> fields;
  int64_t line_no = 0;
  if (!read_csv_record(in, fields, line_no)) throw FormatError(csv_path + ": empty file");
  int id_col = -1, length_col = -1;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i] == "id") id_col = static_cast<int>(i);
    if (fields[i] == "length") length_col = static_cast<int>(i);
  }
  if (id_col < 0 || length_col < 0) throw FormatError(csv_path + ":1: header needs columns 'id' and 'length'");
  std::map<std::string, double> out;
  for (int64_t record_line = line_no + 1; read_csv_record(in, fields, line_no); record_line = line_no + 1) {
    if (fields.size() == 1 && fields[0].empty()) continue;
    if (static_cast<int>(fields.size()) <= std::max(id_col, length_col))
      throw FormatError(where(csv_path, record_line) + "too few columns");
    double length = 0;
    if (!parse_double(fields[length_col], length))
      throw FormatError(where(csv_path, record_line) + "field 'length' is not a number: " + fields[length_col]);
    out[fields[id_col]] = length;
  }
  return out;
}

CharadesGroundTruth load_charades_gt(const std::string& path, const std::string& durations_csv, int64_t first_qid) {
  if (ends_with(path, ".jsonl") || ends_with(path, ".json")) return load_jsonl(path);
  return load_txt(path, durations_csv, first_qid);
}

CharadesPredictions load_charades_predictions(const std::string& path, const CharadesGroundTruth& gt) {
  std::set<int64_t> known, dropped(gt.dropped_qids.begin(), gt.dropped_qids.end());
  for (const auto& q : gt.queries) known.insert(q.qid);
  CharadesPredictions preds;
  for_each_json_line(path, [&](const nlohmann::json& rec, int64_t line) {
    int64_t qid = json_qid(rec, path, line);
    if (dropped.count(qid)) return;  // its GT line was dropped (start >= end)
    if (!known.count(qid))
      throw FormatError(where(path, line) + "field 'qid': " + std::to_string(qid) + " is not in the GT " + gt.path);
    if (preds.count(qid)) throw FormatError(where(path, line) + "field 'qid': duplicate prediction for " + std::to_string(qid));
    const auto& list = require_field(rec, "pred_relevant_windows", path, line);
    if (!list.is_array() || list.empty())
      throw FormatError(where(path, line) + "field 'pred_relevant_windows' must be a non-empty list");
    std::vector<CharadesWindow> windows;
    for (size_t i = 0; i < list.size(); ++i) {
      std::string field = "pred_relevant_windows[" + std::to_string(i) + "]";
      const auto& w = list[i];
      if (!w.is_array() || w.size() < 2 || w.size() > 3)
        throw FormatError(where(path, line) + "field '" + field + "' must be [start, end] or [start, end, score]");
      CharadesWindow cw;
      cw.start_seconds = json_number(w[0], field, path, line);
      cw.end_seconds = json_number(w[1], field, path, line);
      if (w.size() == 3) cw.score = json_number(w[2], field, path, line);
      if (cw.start_seconds > cw.end_seconds) throw FormatError(where(path, line) + "field '" + field + "': start > end");
      windows.push_back(cw);
    }
    preds[qid] = std::move(windows);
  });
  for (const auto& q : gt.queries)
    if (!preds.count(q.qid))
      throw FormatError(path + ": no prediction for qid " + std::to_string(q.qid) + " of the GT " + gt.path);
  return preds;
}

}  // namespace sfvu::grounding
