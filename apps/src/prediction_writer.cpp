#include "prediction_writer.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iterator>

#include "sfvu/base/error.h"
#include "sfvu/base/log.h"
#include "video_batch.h"

namespace sfvu::cli {
namespace {

namespace fs = std::filesystem;

// The resume key of a line already in the submission file.
std::string line_key(const nlohmann::json& line, const std::string& path, int64_t line_no) {
  const std::string where = path + ":" + std::to_string(line_no) + ": ";
  if (auto qid = line.find("qid"); qid != line.end()) {
    if (qid->is_string()) return prediction_key(qid->get<std::string>(), "", "");
    if (qid->is_number_integer()) return prediction_key(std::to_string(qid->get<int64_t>()), "", "");
    throw FormatError(where + "field 'qid' is not a string or integer");
  }
  auto video = line.find("video"), question = line.find("question");
  if (video == line.end() || question == line.end() || !video->is_string() || !question->is_string())
    throw FormatError(where + "missing field 'qid' (or 'video' + 'question')");
  return prediction_key("", video->get<std::string>(), question->get<std::string>());
}

// Rank of a file extension when several files share a video id: lower is preferred.
size_t extension_rank(const std::string& name) {
  std::string ext = fs::path(name).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  const auto& all = video_extensions();
  return size_t(std::distance(all.begin(), std::find(all.begin(), all.end(), ext)));
}

}  // namespace

std::string prediction_key(const std::string& qid, const std::string& video, const std::string& question) {
  return qid.empty() ? video + '\x1f' + question : qid;
}

// The submission path, after refusing to overwrite one an earlier run left without --resume.
static const std::string& unless_taken(const std::string& path, bool resume) {
  std::error_code ec;
  if (!resume && fs::is_regular_file(path, ec) && fs::file_size(path, ec) > 0)
    throw UsageError(path + " exists; pass --resume or remove it");
  return path;
}

PredictionFile::PredictionFile(const std::string& path, bool resume)
    : path_(path),
      out_(unless_taken(path, resume), resume,
           [path](const json& line, int64_t line_no) -> std::optional<std::string> {
             return line_key(line, path, line_no);
           },
           "predict") {}

PredictionErrors::PredictionErrors(const std::string& submission_path) : path_(submission_path + ".errors.jsonl") {
  std::error_code ec;
  fs::remove(path_, ec);
  if (ec) throw IoError(path_ + ": cannot remove the errors of an earlier run: " + ec.message());
}

void PredictionErrors::add(const std::string& vid, const json& qids, const std::string& error) {
  if (!file_.is_open()) {
    file_.open(path_, std::ios::out | std::ios::binary | std::ios::trunc);
    if (!file_) throw IoError(path_ + ": cannot open for writing");
  }
  file_ << json{{"vid", vid}, {"qids", qids}, {"error", error}}.dump() << "\n";
  file_.flush();
  if (!file_) throw IoError(path_ + ": write failed");
  ++count_;
}

VideoFolder::VideoFolder(const std::string& dir) : dir_(dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw UsageError("--videos " + dir + ": not a folder");
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    const std::string name = it->path().filename().string();
    names_by_stem_[it->path().stem().string()].push_back(name);
  }
  if (ec) throw UsageError("--videos " + dir + ": cannot list: " + ec.message());
  for (auto& [stem, names] : names_by_stem_)
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
      return std::make_pair(extension_rank(a), a) < std::make_pair(extension_rank(b), b);
    });
}

std::string VideoFolder::find(const std::string& vid) const {
  auto it = names_by_stem_.find(vid);
  if (it == names_by_stem_.end()) throw IoError("no file " + vid + ".* in " + dir_);
  const auto& names = it->second;
  if (names.size() > 1) {
    std::string all;
    for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
    warn_once("predict-ambiguous-video:" + vid, "predict: " + std::to_string(names.size()) + " files for video '" +
                                                    vid + "' in " + dir_ + " (" + all + "); using " + names[0]);
  }
  return (fs::path(dir_) / names[0]).string();
}

json qa_prediction_line(const grounding::McqaQuestion& q, const grounding::QaResult& r) {
  json line;
  if (!q.id.empty()) line["qid"] = q.id;
  line["vid"] = q.video;
  if (q.id.empty()) {
    line["video"] = q.video;
    line["question"] = q.question;
  }
  line["answer_index"] = r.answer_index;
  line["probabilities"] = r.probabilities;
  return line;
}

}  // namespace sfvu::cli
