// sfvu report PRED.jsonl [--out report.html] [--title T] [--link-images] [--max-items N]
//
// One self-contained HTML page (report_html.h) of a results file. Each JSON line is one of:
//   sfvu ground:               {"video", "query", "duration", "clip_seconds", "moments": [[s, e, score], ...], "saliency"}
//   sfvu predict (grounding):  {"qid", "query", "vid", "pred_relevant_windows", "pred_saliency_scores"}
//                              (2-s clips; duration inferred from the last window / saliency length)
//   sfvu qa:                   {"video", "question", "options", "answer_index", "probabilities"}
//   sfvu predict (qa):         {"qid" | "video"+"question", "vid", "answer_index", "probabilities"}
//                              (an "answer" key, as in GT files, is shown as the ground truth)
//   a failure:                 {"video" | "vid", "error", "qids"?}
// plus an optional "plot": a PNG path, relative to the input's folder or absolute. Other keys
// are ignored. predict's PRED.jsonl.errors.jsonl ({"vid", "qids", "error"}) is read too when
// it exists next to the input. Default output: PRED.html next to the input, written atomically.
// A line that cannot be used is skipped, named on stderr and listed in the page (Note [Report
// malformed lines]); a missing input is an error (exit 1), a missing plot only a note in the page.
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "cli_common.h"
#include "commands.h"
#include "report_html.h"
#include "sfvu/base/error.h"
#include "sfvu/base/log.h"
#include "sfvu/pathways/json_fields.h"

namespace sfvu::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr double kPredictClipSeconds = 2;  // QVHighlights' pred_saliency_scores: one per 2-s clip
constexpr int kMaxMalformedWarnings = 10;

// ---- typed access to one line's keys: a wrong type is a FormatError naming the key ----

bool has(const json& j, const char* key) { return j.contains(key) && !j.at(key).is_null(); }

// A string, or a number/bool as its JSON text (qids are either); "" when absent or null.
std::string text_of(const json& j, const char* key) {
  if (!has(j, key)) return "";
  const json& v = j.at(key);
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return v.dump();
  throw FormatError(std::string("key '") + key + "' is not text or a number");
}

double number_of(const json& v, const std::string& what) {
  if (v.is_null()) return NAN;  // how non-finite values are written
  if (!v.is_number()) throw FormatError(what + " is not a number (" + v.dump().substr(0, 40) + ")");
  return v.get<double>();
}

std::vector<double> numbers_of(const json& j, const char* key) {
  std::vector<double> out;
  if (!has(j, key)) return out;
  if (!j.at(key).is_array()) throw FormatError(std::string("key '") + key + "' is not an array");
  for (size_t i = 0; i < j.at(key).size(); ++i) out.push_back(number_of(j.at(key)[i], std::string(key) + "[" + std::to_string(i) + "]"));
  return out;
}

// -1 when absent or null.
int64_t index_of(const json& j, const char* key) {
  if (!has(j, key)) return -1;
  if (!j.at(key).is_number_integer()) throw FormatError(std::string("key '") + key + "' is not an integer");
  return j.at(key).get<int64_t>();
}

std::vector<ReportMoment> moments_of(const json& j, const char* key) {
  std::vector<ReportMoment> out;
  if (!has(j, key)) return out;
  if (!j.at(key).is_array()) throw FormatError(std::string("key '") + key + "' is not an array");
  for (size_t i = 0; i < j.at(key).size(); ++i) {
    const json& m = j.at(key)[i];
    const std::string what = std::string(key) + "[" + std::to_string(i) + "]";
    if (!m.is_array() || m.size() < 2 || m.size() > 3) throw FormatError(what + " is not [start, end, score]");
    out.push_back({number_of(m[0], what), number_of(m[1], what), m.size() == 3 ? number_of(m[2], what) : NAN});
  }
  return out;
}

std::string local_time_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z", &tm);
  return buf;
}

// Note [Report malformed lines]: a line that is not JSON, not an object, of no known kind, or
// with a known key of the wrong type is skipped with a warning naming FILE:LINE and listed in
// the page's Failures section, and the report is still written (exit 0): the torn last line of
// an interrupted run must not hide the rest of a batch. An input with malformed lines and no
// usable one is an error (exit 1): it is most likely not a results file at all.
class ReportReader {
 public:
  ReportReader(const ReportOptions& options, const std::string& input, const std::string& out_path)
      : options_(options), base_dir_(fs::path(input).parent_path()),
        out_dir_(fs::absolute(out_path).parent_path().lexically_normal()) {}

  /// Reads every line of `path` into `data`. Throws IoError when it cannot be read.
  void read(const std::string& path, ReportData& data) {
    if (fs::is_directory(path)) throw IoError("report: " + path + ": is a folder, not a JSON lines file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError("report: " + path + ": cannot open (" + std::strerror(errno) + ")");
    std::string line;
    for (int64_t number = 1; std::getline(in, line); ++number) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      const std::string where = path + ":" + std::to_string(number);
      try {
        json j;
        try {
          j = json::parse(line);
        } catch (const json::parse_error& e) {
          const std::string what = e.what();
          throw FormatError("not JSON: " + what.substr(std::min(what.size(), what.find("] ") + 2)));
        }
        if (!j.is_object()) throw FormatError("not a JSON object");
        add_line(j, where, data);
        ++n_used_;
      } catch (const FormatError& e) {
        skip(where, e.what(), data);
      }
    }
    if (in.bad()) throw IoError("report: " + path + ": read error");
  }

  int64_t n_used() const { return n_used_; }
  int64_t n_malformed() const { return n_malformed_; }

 private:
  void skip(const std::string& where, const std::string& reason, ReportData& data) {
    if (n_malformed_ < kMaxMalformedWarnings) log_message(LogLevel::kWarning, "report: " + where + ": " + reason + " (line skipped)");
    ++n_malformed_;
    if (keep(int64_t(data.skipped.size()))) data.skipped.push_back({where, reason});
    else ++data.n_skipped_dropped;
  }

  bool keep(int64_t shown) const { return options_.max_items <= 0 || shown < options_.max_items; }

  void add_line(const json& j, const std::string& where, ReportData& data) {
    const std::string video = has(j, "video") ? text_of(j, "video") : text_of(j, "vid");
    if (j.contains("error")) {
      ReportFailure f{video, has(j, "qids") ? j.at("qids").dump() : text_of(j, "qid"), text_of(j, "error"), where};
      if (keep(int64_t(data.failures.size()))) data.failures.push_back(std::move(f));
      else ++data.n_failures_dropped;
      return;
    }
    const bool grounding = j.contains("moments") || j.contains("pred_relevant_windows") || j.contains("saliency") ||
                           j.contains("pred_saliency_scores");
    const bool qa = j.contains("answer_index") || j.contains("probabilities");
    if (!grounding && !qa)
      throw FormatError("neither a grounding, a QA nor a failure line (no moments, pred_relevant_windows, "
                        "answer_index or error key)");
    if (video.empty()) throw FormatError("no 'video' or 'vid' key");
    if (grounding) {
      ReportGrounding g = grounding_item(j, where);
      ++data.n_queries;
      count_video(video, data);
      if (!keep(n_results_kept_)) return void(++data.n_results_dropped);
      g.plot = plot_of(j);
      video_of(video, data).queries.push_back(std::move(g));
    } else {
      ReportQa q = qa_item(j, where);
      ++data.n_questions;
      count_video(video, data);
      if (!keep(n_results_kept_)) return void(++data.n_results_dropped);
      video_of(video, data).questions.push_back(std::move(q));
    }
    ++n_results_kept_;
  }

  static ReportGrounding grounding_item(const json& j, const std::string& where) {
    ReportGrounding g;
    g.query = text_of(j, "query");
    g.qid = text_of(j, "qid");
    g.where = where;
    const bool predict = j.contains("pred_relevant_windows") || j.contains("pred_saliency_scores");
    g.moments = moments_of(j, predict ? "pred_relevant_windows" : "moments");
    g.saliency = numbers_of(j, predict ? "pred_saliency_scores" : "saliency");
    g.clip_seconds = has(j, "clip_seconds") ? number_of(j.at("clip_seconds"), "clip_seconds") : kPredictClipSeconds;
    if (!(g.clip_seconds > 0)) throw FormatError("clip_seconds is not positive");
    g.duration_seconds = has(j, "duration") ? number_of(j.at("duration"), "duration") : NAN;
    if (!std::isfinite(g.duration_seconds)) {
      g.duration_inferred = true;
      g.duration_seconds = g.clip_seconds * double(g.saliency.size());
      for (const auto& m : g.moments)
        if (std::isfinite(m.end_seconds)) g.duration_seconds = std::max(g.duration_seconds, m.end_seconds);
    }
    return g;
  }

  static ReportQa qa_item(const json& j, const std::string& where) {
    ReportQa q;
    q.qid = text_of(j, "qid");
    q.question = text_of(j, "question");
    if (has(j, "options")) {
      if (!j.at("options").is_array()) throw FormatError("key 'options' is not an array");
      for (const json& o : j.at("options")) {
        if (!o.is_string()) throw FormatError("key 'options' has a non-text option");
        q.options.push_back(o.get<std::string>());
      }
    }
    q.probabilities = numbers_of(j, "probabilities");
    q.answer_index = index_of(j, "answer_index");
    q.gt_answer_index = index_of(j, "answer");
    q.where = where;
    return q;
  }

  // The "plot" key: resolved against the input's folder, embedded or linked, or missing.
  ReportImage plot_of(const json& j) const {
    ReportImage img;
    const std::string given = text_of(j, "plot");
    if (given.empty()) return img;
    const fs::path p(given);
    const fs::path file = p.is_absolute() ? p : (base_dir_ / p).lexically_normal();
    img.path = file.string();
    std::error_code ec;
    if (!fs::exists(file, ec)) {
      img.missing_reason = "no such file";
      return img;
    }
    if (!fs::is_regular_file(file, ec)) {
      img.missing_reason = "not a file";
      return img;
    }
    if (options_.link_images) {
      const fs::path absolute = fs::absolute(file).lexically_normal();
      const fs::path relative = absolute.lexically_relative(out_dir_);
      img.src = relative.empty() ? "file://" + url_encode_path(absolute.string()) : url_encode_path(relative.string());
      return img;
    }
    std::ifstream in(file, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!in || !bytes) {
      img.missing_reason = "cannot read";
      return img;
    }
    img.src = image_data_uri(bytes.str(), file.string());
    return img;
  }

  void count_video(const std::string& video, ReportData& data) {
    if (seen_videos_.insert(video).second) ++data.n_videos;
  }

  ReportVideo& video_of(const std::string& video, ReportData& data) {
    auto it = video_index_.find(video);
    if (it == video_index_.end()) {
      it = video_index_.emplace(video, data.videos.size()).first;
      data.videos.push_back(ReportVideo{video, {}, {}});
    }
    return data.videos[it->second];
  }

  const ReportOptions& options_;
  fs::path base_dir_, out_dir_;
  std::set<std::string> seen_videos_;
  std::map<std::string, size_t> video_index_;
  int64_t n_results_kept_ = 0, n_used_ = 0, n_malformed_ = 0;
};

}  // namespace

int cmd_report(const Args& args) {
  const ReportOptions defaults;
  po::options_description desc("report options");
  desc.add_options()("input", po::value<std::string>(), "JSON lines of sfvu ground / qa / predict")
      ("out", po::value<std::string>(), "HTML file (default: the input with .html)")
      ("title", po::value<std::string>(), "page title (default: \"sfvu report: <input file name>\")")
      ("link-images", "reference the plots by relative path instead of embedding them (smaller page, not self-contained)")
      ("max-items", po::value<int64_t>()->default_value(defaults.max_items),
       "results shown (queries + questions, file order; 0: all); failures and skipped lines are capped alike");
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  if (!parse_args("report", "PRED.jsonl [--out report.html] [--title T] [--link-images] [--max-items N]", args, desc, pos,
                  vm))
    return 0;
  if (!vm.count("input")) throw UsageError("report: give a JSON lines file");
  const std::string input = vm["input"].as<std::string>();
  ReportOptions options;
  if (vm.count("title")) options.title = vm["title"].as<std::string>();
  options.link_images = vm.count("link-images") > 0;
  options.max_items = vm["max-items"].as<int64_t>();
  if (options.max_items < 0) throw UsageError("report: --max-items must be >= 0, got " + std::to_string(options.max_items));
  const std::string out = vm.count("out") ? vm["out"].as<std::string>() : fs::path(input).replace_extension(".html").string();
  if (fs::exists(out) && fs::exists(input) && fs::equivalent(out, input))
    throw UsageError("report: --out " + out + " is the input file");
  if (!fs::exists(input)) throw IoError("report: " + input + ": no such file");

  ReportData data;
  data.source_path = input;
  data.generated_time = local_time_now();
  ReportReader reader(options, input, out);
  reader.read(input, data);
  const std::string errors_file = input + ".errors.jsonl";  // predict's side file
  if (fs::is_regular_file(errors_file)) reader.read(errors_file, data);
  if (reader.n_used() == 0 && reader.n_malformed() > 0)
    throw FormatError("report: " + input + ": no usable line (" + data.skipped.front().where + ": " +
                      data.skipped.front().reason + ")");
  if (reader.n_malformed() > kMaxMalformedWarnings)
    log_message(LogLevel::kWarning, "report: " + std::to_string(reader.n_malformed()) + " lines skipped in all (listed in the page)");

  const fs::path out_dir = fs::path(out).parent_path();
  if (!out_dir.empty()) make_dir(out_dir.string());
  pathways::write_text_file_atomic(out, render_report_html(data, options));
  std::cerr << "sfvu report: wrote " << out << " (" << data.n_videos << " videos, " << data.n_queries << " queries, "
            << data.n_questions << " questions, " << data.failures.size() + size_t(data.n_failures_dropped) << " failures)\n";
  return 0;
}

}  // namespace sfvu::cli
