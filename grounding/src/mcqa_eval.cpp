// Multiple-choice QA accuracy: GT from our jsonl or a NExT-QA CSV, predictions from qa.jsonl.
#include "sfvu/grounding/mcqa_eval.h"

#include <fstream>
#include <map>
#include <set>

#include "sfvu/base/error.h"
#include "sfvu/grounding/charades_eval.h"  // read_csv_record
#include "sfvu/grounding/eval_common.h"

namespace sfvu::grounding {
namespace {

using ojson = nlohmann::ordered_json;

std::string where(const std::string& file, int64_t line) { return file + ":" + std::to_string(line) + ": "; }

std::string video_question_key(const std::string& video, const std::string& question) {
  return video + '\x1f' + question;
}

std::string json_text(const nlohmann::json& j, const std::string& field, const std::string& file, int64_t line) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number_integer()) return std::to_string(j.get<int64_t>());
  throw FormatError(where(file, line) + "field '" + field + "' is not a string or integer");
}

int json_index(const nlohmann::json& j, const std::string& field, const std::string& file, int64_t line) {
  if (!j.is_number_integer()) throw FormatError(where(file, line) + "field '" + field + "' is not an integer");
  return static_cast<int>(j.get<int64_t>());
}

bool parse_int(const std::string& text, int& out) {
  if (text.empty()) return false;
  size_t pos = 0;
  try {
    out = std::stoi(text, &pos);
  } catch (const std::exception&) {
    return false;
  }
  return pos == text.size();
}

McqaGroundTruth load_csv(const std::string& path, bool require_answer) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open");
  McqaGroundTruth gt;
  gt.path = path;
  std::vector<std::string> header, fields;
  int64_t line_no = 0;
  if (!read_csv_record(in, header, line_no)) throw FormatError(path + ": empty file");
  std::map<std::string, int> col;
  for (size_t i = 0; i < header.size(); ++i) col[header[i]] = static_cast<int>(i);
  for (const char* need : {"video", "question", "answer", "a0", "a1"})
    if (!col.count(need) && (require_answer || std::string(need) != "answer"))
      throw FormatError(path + ":1: missing column '" + std::string(need) + "'");
  std::vector<int> option_cols;
  for (int k = 0; k < 10 && col.count("a" + std::to_string(k)); ++k) option_cols.push_back(col["a" + std::to_string(k)]);
  for (int64_t record_line = line_no + 1; read_csv_record(in, fields, line_no); record_line = line_no + 1) {
    if (fields.size() == 1 && fields[0].empty()) continue;
    if (fields.size() != header.size())
      throw FormatError(where(path, record_line) + "has " + std::to_string(fields.size()) + " columns, header has " +
                        std::to_string(header.size()));
    McqaQuestion q;
    q.video = fields[col["video"]];
    q.question = fields[col["question"]];
    if (col.count("qid")) q.id = q.video + "_" + fields[col["qid"]];
    if (col.count("type")) q.type = fields[col["type"]];
    for (int c : option_cols)
      if (!fields[c].empty()) q.options.push_back(fields[c]);
    const std::string answer = col.count("answer") ? fields[col["answer"]] : "";
    q.answer_index = -1;
    if (require_answer || !answer.empty()) {
      if (!parse_int(answer, q.answer_index))
        throw FormatError(where(path, record_line) + "field 'answer' is not an integer: " + answer);
      if (q.answer_index < 0 || q.answer_index >= static_cast<int>(q.options.size()))
        throw FormatError(where(path, record_line) + "field 'answer' " + std::to_string(q.answer_index) +
                          " is outside the " + std::to_string(q.options.size()) + " options");
    }
    gt.questions.push_back(std::move(q));
  }
  return gt;
}

McqaGroundTruth load_jsonl(const std::string& path, bool require_answer) {
  McqaGroundTruth gt;
  gt.path = path;
  for_each_json_line(path, [&](const nlohmann::json& rec, int64_t line) {
    McqaQuestion q;
    if (auto it = rec.find("qid"); it != rec.end()) q.id = json_text(*it, "qid", path, line);
    const char* video_key = !rec.contains("video") && rec.contains("vid") ? "vid" : "video";
    q.video = json_text(require_field(rec, video_key, path, line), video_key, path, line);
    q.question = json_text(require_field(rec, "question", path, line), "question", path, line);
    const auto& options = require_field(rec, "options", path, line);
    if (!options.is_array() || options.size() < 2)
      throw FormatError(where(path, line) + "field 'options' must be a list of at least 2");
    for (const auto& o : options) q.options.push_back(o.is_string() ? o.get<std::string>() : o.dump());
    const auto answer = rec.find("answer");
    q.answer_index = -1;
    if (require_answer || (answer != rec.end() && !answer->is_null())) {
      q.answer_index = json_index(require_field(rec, "answer", path, line), "answer", path, line);
      if (q.answer_index < 0 || q.answer_index >= static_cast<int>(q.options.size()))
        throw FormatError(where(path, line) + "field 'answer' " + std::to_string(q.answer_index) + " is outside the " +
                          std::to_string(q.options.size()) + " options");
    }
    if (auto it = rec.find("type"); it != rec.end() && !it->is_null()) q.type = json_text(*it, "type", path, line);
    if (auto it = rec.find("relevant_windows"); it != rec.end() && !it->is_null()) {
      if (!it->is_array()) throw FormatError(where(path, line) + "field 'relevant_windows' must be a list of [start, end]");
      for (const auto& w : *it) {
        if (!w.is_array() || w.size() != 2 || !w[0].is_number() || !w[1].is_number())
          throw FormatError(where(path, line) + "field 'relevant_windows' holds a non-[start, end] entry " + w.dump());
        const double a = w[0].get<double>(), b = w[1].get<double>();
        if (!(a >= 0 && b > a)) throw FormatError(where(path, line) + "field 'relevant_windows': reversed, empty or negative window " + w.dump());
        q.windows.emplace_back(a, b);
      }
    }
    gt.questions.push_back(std::move(q));
  });
  return gt;
}

}  // namespace

McqaGroundTruth load_mcqa_gt(const std::string& path, bool require_answer) {
  bool csv = path.size() >= 4 && path.compare(path.size() - 4, 4, ".csv") == 0;
  McqaGroundTruth gt = csv ? load_csv(path, require_answer) : load_jsonl(path, require_answer);
  if (gt.questions.empty()) throw FormatError(path + ": no questions");
  std::set<std::string> ids;
  for (const auto& q : gt.questions)
    if (!q.id.empty() && !ids.insert(q.id).second) throw FormatError(path + ": duplicate question id '" + q.id + "'");
  return gt;
}

McqaPredictions load_mcqa_predictions(const std::string& path, const McqaGroundTruth& gt) {
  std::unordered_map<std::string, size_t> by_id;
  std::unordered_map<std::string, std::vector<size_t>> by_video_question;
  for (size_t i = 0; i < gt.questions.size(); ++i) {
    const auto& q = gt.questions[i];
    if (!q.id.empty()) by_id[q.id] = i;
    by_video_question[video_question_key(q.video, q.question)].push_back(i);
  }
  McqaPredictions pred;
  pred.answer_index.assign(gt.questions.size(), -1);
  std::vector<int64_t> pred_line(gt.questions.size(), 0);
  for_each_json_line(path, [&](const nlohmann::json& rec, int64_t line) {
    size_t index = 0;
    if (auto it = rec.find("qid"); it != rec.end()) {
      std::string id = json_text(*it, "qid", path, line);
      auto found = by_id.find(id);
      if (found == by_id.end()) throw FormatError(where(path, line) + "field 'qid': '" + id + "' is not in the GT " + gt.path);
      index = found->second;
    } else {
      std::string video = json_text(require_field(rec, "video", path, line), "video", path, line);
      std::string question = json_text(require_field(rec, "question", path, line), "question", path, line);
      auto found = by_video_question.find(video_question_key(video, question));
      if (found == by_video_question.end())
        throw FormatError(where(path, line) + "fields 'video'+'question': no such question in the GT " + gt.path);
      if (found->second.size() > 1)
        throw FormatError(where(path, line) + "fields 'video'+'question' match " + std::to_string(found->second.size()) +
                          " GT questions; give 'qid'");
      index = found->second[0];
    }
    int answer = json_index(require_field(rec, "answer_index", path, line), "answer_index", path, line);
    int n_options = static_cast<int>(gt.questions[index].options.size());
    if (answer < 0 || answer >= n_options)
      throw FormatError(where(path, line) + "field 'answer_index' " + std::to_string(answer) + " is outside the " +
                        std::to_string(n_options) + " options");
    if (pred.answer_index[index] >= 0)
      throw FormatError(where(path, line) + "duplicate prediction (first on line " + std::to_string(pred_line[index]) + ")");
    pred.answer_index[index] = answer;
    pred_line[index] = line;
  });
  std::string missing;
  int64_t n_missing = 0;
  for (size_t i = 0; i < gt.questions.size(); ++i) {
    if (pred.answer_index[i] >= 0) continue;
    if (++n_missing <= 3) {
      const auto& q = gt.questions[i];
      missing += (missing.empty() ? "" : ", ") + (q.id.empty() ? q.video + " \"" + q.question + "\"" : q.id);
    }
  }
  if (n_missing > 0)
    throw FormatError(path + ": no prediction for " + std::to_string(n_missing) + " GT question(s) of " + gt.path +
                      " (" + missing + (n_missing > 3 ? ", ..." : "") + ")");
  return pred;
}

ojson evaluate_mcqa(const McqaGroundTruth& gt, const McqaPredictions& pred, const McqaEvalOptions& options) {
  if (pred.answer_index.size() != gt.questions.size())
    throw FormatError(gt.path + ": predictions do not cover the GT questions");
  std::map<std::string, std::pair<int64_t, int64_t>> per_type;  // type -> (correct, total)
  int64_t correct = 0;
  for (size_t i = 0; i < gt.questions.size(); ++i) {
    bool ok = pred.answer_index[i] == gt.questions[i].answer_index;
    correct += ok;
    if (!gt.questions[i].type.empty()) {
      auto& c = per_type[gt.questions[i].type];
      c.first += ok;
      c.second += 1;
    }
  }
  auto pct = [](int64_t c, int64_t n) { return static_cast<double>(c) / static_cast<double>(n) * 100.0; };
  auto r = [&options](double v) { return python_round(v, options.round_digits); };
  const int64_t n = static_cast<int64_t>(gt.questions.size());
  ojson brief, types;
  brief["accuracy"] = r(pct(correct, n));
  for (const auto& [type, c] : per_type) {
    brief[type] = r(pct(c.first, c.second));
    types[type] = {{"correct", c.first}, {"total", c.second}, {"accuracy", pct(c.first, c.second)}};
  }
  // NExT-QA's groups (causal, temporal, descriptive) when every type is one of its codes.
  static const std::map<std::string, std::string> kNextQaGroup = {{"CW", "C"}, {"CH", "C"}, {"TN", "T"}, {"TC", "T"},
                                                                  {"TP", "T"}, {"DL", "D"}, {"DC", "D"}, {"DO", "D"}};
  bool all_next = !per_type.empty();
  for (const auto& kv : per_type) all_next = all_next && kNextQaGroup.count(kv.first);
  if (all_next) {
    std::map<std::string, std::pair<int64_t, int64_t>> groups;
    for (const auto& [type, c] : per_type) {
      auto& g = groups[kNextQaGroup.at(type)];
      g.first += c.first;
      g.second += c.second;
    }
    for (const char* name : {"C", "T", "D"})
      if (groups.count(name)) brief[name] = r(pct(groups[name].first, groups[name].second));
  }
  ojson out;
  out["brief"] = brief;
  out["gt"] = gt.path;
  out["n_questions"] = n;
  out["n_correct"] = correct;
  out["accuracy"] = pct(correct, n);
  out["per_type"] = types;
  return out;
}

}  // namespace sfvu::grounding
