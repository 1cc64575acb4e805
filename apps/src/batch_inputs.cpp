#include "batch_inputs.h"

#include <glob.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <unordered_set>

#include "sfvu/base/error.h"
#include "sfvu/base/log.h"
#include "sfvu/pathways/video_tokens.h"

namespace sfvu::cli {
namespace {

namespace fs = std::filesystem;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

bool is_pattern(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }
bool is_url(const std::string& s) { return s.find("://") != std::string::npos; }

// Videos under `dir`, recursively, in name order.
std::vector<std::string> folder_videos(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) throw IoError(dir + ": cannot list the folder: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw IoError(dir + ": cannot list the folder: " + ec.message());
    std::error_code e2;
    if (it->is_regular_file(e2) && has_video_extension(it->path().filename().string()))
      out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> glob_paths(const std::string& pattern) {
  glob_t g{};
  const int rc = ::glob(pattern.c_str(), GLOB_NOSORT, nullptr, &g);
  std::vector<std::string> out;
  if (rc == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  globfree(&g);
  if (rc != 0 && rc != GLOB_NOMATCH) throw IoError(pattern + ": glob failed (read error)");
  std::sort(out.begin(), out.end());
  return out;
}

// One input as written -> the videos it names.
void expand_one(const std::string& input, std::vector<std::string>& out) {
  std::error_code ec;
  if (is_url(input) || input.rfind("/dev/", 0) == 0) {
    out.push_back(input);
    return;
  }
  if (fs::is_directory(input, ec)) {
    auto videos = folder_videos(input);
    if (videos.empty()) log_message(LogLevel::kWarning, input + ": no video file (by extension) in this folder");
    out.insert(out.end(), videos.begin(), videos.end());
    return;
  }
  if (!fs::exists(input, ec) && is_pattern(input)) {
    size_t before = out.size();
    for (const std::string& p : glob_paths(input)) {
      if (fs::is_directory(p, ec)) {
        auto videos = folder_videos(p);
        out.insert(out.end(), videos.begin(), videos.end());
      } else {
        out.push_back(p);
      }
    }
    if (out.size() == before) log_message(LogLevel::kWarning, input + ": the pattern matches no video");
    return;
  }
  out.push_back(input);
}

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// A non-negative integer environment variable; nullopt when unset or empty.
std::optional<int64_t> env_int(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  char* end = nullptr;
  const long long x = std::strtoll(v, &end, 10);
  if (*end != '\0' || x < 0) throw UsageError(std::string(name) + "='" + v + "' is not a non-negative integer");
  return x;
}

}  // namespace

const std::vector<std::string>& video_extensions() {
  static const std::vector<std::string> kExtensions = {".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".mpg",
                                                       ".mpeg", ".flv", ".wmv", ".ts",  ".3gp", ".ogv", ".mts"};
  return kExtensions;
}

bool has_video_extension(const std::string& name) {
  const std::string ext = lower(fs::path(name).extension().string());
  const auto& all = video_extensions();
  return std::find(all.begin(), all.end(), ext) != all.end();
}

std::vector<std::string> expand_inputs(const std::vector<std::string>& args, const std::string& list_file) {
  std::vector<std::string> expanded;
  for (const auto& a : args) expand_one(a, expanded);
  if (!list_file.empty()) {
    std::ifstream in(list_file);
    if (!in) throw UsageError(list_file + ": cannot read the --list file");
    std::string line;
    while (std::getline(in, line)) {
      line = trim(line);
      if (line.empty() || line[0] == '#') continue;
      expand_one(line, expanded);
    }
    if (in.bad()) throw UsageError(list_file + ": read error in the --list file");
  }
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (auto& p : expanded) {
    std::string key = is_url(p) ? p : fs::path(p).lexically_normal().string();
    if (seen.insert(key).second) out.push_back(std::move(p));
  }
  if (out.empty()) throw UsageError("no input video (give files, folders, patterns or --list FILE)");
  return out;
}

bool Shard::owns(const std::string& input) const {
  if (count <= 1) return true;
  const uint64_t h = std::stoull(pathways::stable_hash_hex(input), nullptr, 16);
  return int64_t(h % uint64_t(count)) == index;
}

Shard resolve_shard(const std::string& text) {
  Shard s;
  if (!text.empty()) {
    const size_t slash = text.find('/');
    try {
      if (slash == std::string::npos) throw std::invalid_argument("no slash");
      size_t n1 = 0, n2 = 0;
      s.index = std::stoll(text.substr(0, slash), &n1);
      s.count = std::stoll(text.substr(slash + 1), &n2);
      if (n1 != slash || n2 != text.size() - slash - 1) throw std::invalid_argument("trailing text");
    } catch (const std::exception&) {
      throw UsageError("--shard must be I/N (e.g. 0/8), got '" + text + "'");
    }
    if (s.count < 1 || s.index < 0 || s.index >= s.count)
      throw UsageError("--shard I/N needs 0 <= I < N, got '" + text + "'");
    s.origin = "--shard";
    return s;
  }
  const auto id = env_int("SLURM_ARRAY_TASK_ID");
  if (!id) return s;
  const auto count = env_int("SLURM_ARRAY_TASK_COUNT");
  if (!count || *count < 1) {
    log_message(LogLevel::kWarning, "SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not: not sharding");
    return s;
  }
  const int64_t min = env_int("SLURM_ARRAY_TASK_MIN").value_or(0);
  const int64_t step = std::max<int64_t>(1, env_int("SLURM_ARRAY_TASK_STEP").value_or(1));
  if (*id < min || (*id - min) % step != 0 || (*id - min) / step >= *count)
    throw UsageError("SLURM_ARRAY_TASK_ID=" + std::to_string(*id) + " is not a task of an array of " +
                     std::to_string(*count) + " from " + std::to_string(min) + " step " + std::to_string(step));
  s.index = (*id - min) / step;
  s.count = *count;
  s.origin = "SLURM_ARRAY_TASK_ID";
  return s;
}

std::vector<std::string> apply_shard(const std::vector<std::string>& inputs, const Shard& shard,
                                     const std::string& command, bool verbose) {
  if (!shard.active()) return inputs;
  std::vector<std::string> out;
  for (const auto& p : inputs)
    if (shard.owns(p)) out.push_back(p);
  if (verbose)
    std::cerr << "sfvu " << command << ": shard " << shard.index << "/" << shard.count << " (" << shard.origin << "): "
              << out.size() << " of " << inputs.size() << " inputs\n";
  return out;
}

}  // namespace sfvu::cli
