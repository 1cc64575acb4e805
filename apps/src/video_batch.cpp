#include "video_batch.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>

#include "sfvu/base/clock.h"
#include "sfvu/base/error.h"
#include "sfvu/base/log.h"
#include "sfvu/pathways/json_fields.h"
#include "video_prefetch.h"

namespace sfvu::cli {
namespace {

namespace fs = std::filesystem;

std::string duration_text(double seconds) {
  const auto s = static_cast<int64_t>(std::lround(std::max(0.0, seconds)));
  std::ostringstream o;
  if (s >= 3600) o << s / 3600 << "h" << std::setw(2) << std::setfill('0') << s / 60 % 60 << "m";
  else if (s >= 60) o << s / 60 << "m" << std::setw(2) << std::setfill('0') << s % 60 << "s";
  else o << s << "s";
  return o.str();
}

// The batch's progress on stderr: on a terminal one bar redrawn in place (videos done,
// failures, frames/s, ETA, the current video's share); otherwise a plain line every 5 s.
class BatchProgress {
 public:
  BatchProgress(std::string command, int64_t total, bool enabled)
      : command_(std::move(command)), total_(total), enabled_(enabled), tty_(isatty(STDERR_FILENO) == 1),
        start_(steady_seconds()) {}
  ~BatchProgress() {
    if (drawn_) std::cerr << "\n";
  }
  /// Before another line on stderr: the bar's line is cleared (it is redrawn later).
  void clear() {
    if (drawn_) std::cerr << "\r\x1b[K";
  }
  void start_item(const std::string& name) {
    current_ = name;
    current_frames_ = 0;
    current_fraction_ = 0;
  }
  bool item_progress(const Progress& p) {
    current_frames_ = p.done;
    current_fraction_ = p.total > 0 ? std::min(1.0, double(p.done) / double(p.total)) : 0.0;
    draw(false);
    return true;
  }
  void end_item(int64_t frames, bool failed) {
    ++done_;
    failed_ += failed;
    frames_ += frames;
    current_frames_ = 0;
    current_fraction_ = 0;
    current_.clear();
    draw(done_ == total_);
  }

 private:
  void draw(bool final) {
    if (!enabled_ || total_ <= 0) return;
    const double now = steady_seconds(), elapsed = now - start_;
    if (!final && (elapsed < 1.0 || now - last_ < (tty_ ? 0.2 : 5.0))) return;
    if (final && !tty_ && !printed_any_) return;  // a short batch: the summary is enough
    last_ = now;
    const double progress = double(done_) + current_fraction_;
    std::ostringstream line;
    line << "sfvu " << command_ << " ";
    if (tty_) line << text_bar(progress / double(total_)) << " ";
    line << done_ << "/" << total_ << " videos";
    if (failed_) line << ", " << failed_ << " failed";
    line << ", " << std::fixed << std::setprecision(0) << double(frames_ + current_frames_) / std::max(elapsed, 1e-9)
         << " frames/s";
    if (progress > 0 && done_ < total_) line << ", ETA " << duration_text(elapsed / progress * (double(total_) - progress));
    if (!current_.empty() && tty_) line << "  " << fs::path(current_).filename().string();
    if (tty_) {
      std::cerr << "\r" << line.str() << "\x1b[K" << std::flush;
      drawn_ = true;
    } else {
      std::cerr << line.str() << "\n";
      printed_any_ = true;
    }
  }

  std::string command_;
  int64_t total_;
  bool enabled_, tty_;
  double start_, last_ = 0;
  int64_t done_ = 0, failed_ = 0, frames_ = 0, current_frames_ = 0;
  double current_fraction_ = 0;
  std::string current_;
  bool drawn_ = false, printed_any_ = false;
};

void print_summary(const BatchOptions& o, const BatchSummary& s) {
  std::ostringstream line;
  line << "sfvu " << o.command << ": " << s.done << " done, " << s.failed << " failed, " << s.skipped
       << " skipped (already done)";
  if (s.cached) line << ", " << s.cached << " from the token cache";
  line << "; " << s.frames << " frames decoded in " << std::fixed << std::setprecision(1) << s.seconds << " s ("
       << std::setprecision(0) << double(s.frames) / std::max(s.seconds, 1e-9) << " frames/s, " << std::setprecision(1)
       << double(s.done + s.failed) * 60.0 / std::max(s.seconds, 1e-9) << " videos/min)";
  std::cerr << line.str() << "\n";
}

}  // namespace

std::vector<NumberedLine> read_resumable_lines(const std::string& path, const std::string& command) {
  std::vector<NumberedLine> lines;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return lines;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot read");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError(path + ": read error");
  const size_t newline = text.rfind('\n');
  const size_t keep = newline == std::string::npos ? 0 : newline + 1;
  if (keep < text.size()) {
    // Lines are written whole, so only an interrupted write leaves a torn tail.
    fs::resize_file(path, keep, ec);
    if (ec) throw IoError(path + ": cannot cut the partial last line: " + ec.message());
    log_message(LogLevel::kWarning, command + ": " + path + ": dropped a partial last line (" +
                                        std::to_string(text.size() - keep) + " bytes); its result is redone");
  }
  int64_t line_no = 0;
  std::istringstream s(text.substr(0, keep));
  std::string line;
  while (std::getline(s, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object())
      throw FormatError(path + ":" + std::to_string(line_no) + ": not a JSON object; cannot resume from this file");
    lines.push_back({line_no, std::move(j)});
  }
  return lines;
}

JsonLinesOut::JsonLinesOut(const std::string& path, bool resume, const KeyOf& key_of, const std::string& command)
    : path_(path) {
  if (path.empty()) {
    if (resume) throw UsageError(command + ": --resume needs --out FILE.jsonl");
    return;
  }
  if (resume) {
    std::string kept;
    size_t dropped = 0;
    for (const auto& [line_no, line] : read_resumable_lines(path, command)) {
      const auto key = key_of ? key_of(line, line_no) : std::nullopt;
      if (!key) {
        ++dropped;
        continue;
      }
      keys_.insert(*key);
      kept += line.dump() + "\n";
    }
    if (dropped) {
      pathways::write_text_file_atomic(path, kept);
      log_message(LogLevel::kInfo, command + ": " + path + ": " + std::to_string(dropped) +
                                       " failure lines removed; those items are retried");
    }
  }
  file_.open(path, std::ios::out | std::ios::binary | (resume ? std::ios::app : std::ios::trunc));
  if (!file_) throw IoError(path + ": cannot open for writing");
}

void JsonLinesOut::write(const std::vector<json>& lines) {
  std::string text;
  for (const auto& line : lines) text += line.dump() + "\n";
  std::ostream& os = path_.empty() ? std::cout : static_cast<std::ostream&>(file_);
  os.write(text.data(), std::streamsize(text.size()));
  os.flush();
  if (!os) throw IoError(name() + ": write failed");
}

std::string video_key(const std::string& video, const std::string& second) {
  return second.empty() ? video : video + '\x1f' + second;
}

JsonLinesOut::KeyOf key_by_video(const std::string& field) {
  return [field](const json& line, int64_t) -> std::optional<std::string> {
    auto v = line.find("video");
    if (line.contains("error") || v == line.end() || !v->is_string()) return std::nullopt;
    if (field.empty()) return video_key(v->get<std::string>());
    auto f = line.find(field);
    if (f == line.end() || !f->is_string()) return std::nullopt;
    return video_key(v->get<std::string>(), f->get<std::string>());
  };
}

JsonLinesOut::KeyOf key_by_video_file(const std::string& file_field) {
  return [file_field](const json& line, int64_t line_no) -> std::optional<std::string> {
    auto f = line.find(file_field);
    std::error_code ec;
    if (f == line.end() || !f->is_string() || !fs::is_regular_file(f->get<std::string>(), ec)) return std::nullopt;
    return key_by_video()(line, line_no);
  };
}

std::vector<BatchItem> per_file_items(const std::vector<std::string>& videos, const JsonLinesOut& out,
                                      const std::string& out_dir, const std::string& extension, BatchOptions& options) {
  std::vector<BatchItem> items;
  std::map<std::string, std::string> owner_of_stem;
  for (const auto& v : videos) {
    if (out.has(video_key(v))) {
      ++options.skipped;
      continue;
    }
    BatchItem item{v, v, ""};
    auto [it, added] = owner_of_stem.emplace(fs::path(v).stem().string(), v);
    if (!added)
      item.error = v + ": its output would overwrite that of " + it->second + " (same name " + it->first + extension +
                   " in " + out_dir + ")";
    items.push_back(std::move(item));
  }
  return items;
}

void add_batch_options(po::options_description& desc, bool with_resume) {
  desc.add_options()
      ("list", po::value<std::string>(), "a file with one input per line (files, folders, patterns; '#' comments)")
      ("shard", po::value<std::string>(),
       "process the share I/N of the inputs (stable hash of the path); default: the Slurm array task's "
       "(SLURM_ARRAY_TASK_ID/_COUNT), else all")
      ("jobs", po::value<int>()->default_value(1), "decoder threads running ahead of inference")
      ("no-overlap", "decode and encode each video in one go (no prefetch of the next videos)");
  if (with_resume)
    desc.add_options()("resume", "skip the items --out already has; retry its failures; append the rest");
}

std::vector<std::string> batch_inputs(const po::variables_map& vm, const std::vector<std::string>& positional,
                                      const std::string& command, bool verbose) {
  const std::string list = vm.count("list") ? vm["list"].as<std::string>() : std::string();
  if (positional.empty() && list.empty()) throw UsageError(command + ": give at least one video (or --list FILE)");
  const std::vector<std::string> all = expand_inputs(positional, list);
  const Shard shard = resolve_shard(vm.count("shard") ? vm["shard"].as<std::string>() : std::string());
  return apply_shard(all, shard, command, verbose);
}

BatchOptions batch_options(const po::variables_map& vm, const std::string& command) {
  BatchOptions o;
  o.command = command;
  o.jobs = vm.count("jobs") ? vm["jobs"].as<int>() : 1;
  if (o.jobs < 1) throw UsageError("--jobs must be >= 1, got " + std::to_string(o.jobs));
  o.overlap = !vm.count("no-overlap");
  o.progress = !vm.count("quiet") && !vm.count("no-progress");
  return o;
}

namespace {

BatchSummary run_items(const std::vector<BatchItem>& items, const BatchOptions& options,
                       const std::function<int64_t(size_t, const ProgressCallback&)>& work,
                       const std::function<void(size_t, const std::string&)>& fail) {
  BatchSummary sum;
  sum.skipped = options.skipped;
  const double t0 = steady_seconds();
  {
    BatchProgress progress(options.command, int64_t(items.size()), options.progress);
    for (size_t i = 0; i < items.size(); ++i) {
      progress.start_item(items[i].name);
      int64_t frames = 0;
      try {
        if (!items[i].error.empty()) throw IoError(items[i].error);
        frames = work(i, [&progress](const Progress& p) { return progress.item_progress(p); });
        sum.frames += frames;
        ++sum.done;
        progress.end_item(frames, false);
      } catch (const UsageError&) {
        throw;
      } catch (const std::exception& e) {
        ++sum.failed;
        progress.clear();
        // The message names the file; unless it starts with the item's name (predict's vid), the name goes first.
        const std::string what = e.what();
        std::cerr << "sfvu: error: " << options.command << ": "
                  << (what.rfind(items[i].name, 0) != 0 ? "video '" + items[i].name + "': " : std::string())
                  << what << "\n";
        fail(i, e.what());
        progress.end_item(frames, true);
      }
    }
  }
  sum.seconds = steady_seconds() - t0;
  return sum;
}

}  // namespace

BatchSummary run_batch(const std::vector<BatchItem>& items, const BatchOptions& options,
                       const std::function<int64_t(size_t, const ProgressCallback&)>& work,
                       const std::function<void(size_t, const std::string&)>& fail) {
  BatchSummary sum = run_items(items, options, work, fail);
  if (options.progress || sum.failed) print_summary(options, sum);
  return sum;
}

BatchSummary run_video_batch(const grounding::VideoPipeline& pipeline, const std::vector<BatchItem>& items,
                             const BatchOptions& options,
                             const std::function<void(size_t, const grounding::VideoSession&)>& each,
                             const std::function<void(size_t, const std::string&)>& fail) {
  std::unique_ptr<VideoPrefetcher> prefetch;
  if (options.overlap) {
    std::vector<std::string> paths;
    for (const auto& item : items) paths.push_back(item.error.empty() ? item.path : std::string());
    prefetch = std::make_unique<VideoPrefetcher>(pipeline, std::move(paths), options.jobs);
  }
  int64_t cached = 0;
  BatchSummary sum = run_items(
      items, options,
      [&](size_t i, const ProgressCallback& progress) -> int64_t {
        auto session = prefetch ? prefetch->open(i, progress) : pipeline.open(items[i].path, progress);
        if (session->from_cache) ++cached;
        each(i, *session);
        return session->stats.decode.frames_decoded;
      },
      fail);
  sum.cached = cached;
  if (options.progress || sum.failed) print_summary(options, sum);
  return sum;
}

}  // namespace sfvu::cli
