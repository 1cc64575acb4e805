// Writing a synthetic dataset: encoded videos (parallel), annotations.jsonl, qa.jsonl, synth.json.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "sfvu/base/error.h"
#include "sfvu/decode/video_writer.h"
#include "sfvu/grounding/synth.h"

namespace sfvu::grounding {
namespace {

using ojson = nlohmann::ordered_json;

double round3(double x) { return std::round(x * 1000.0) / 1000.0; }

// Writes `text` to `path` through a temporary file renamed into place.
void write_file_atomically(const std::string& path, const std::string& text) {
  const std::string temp = path + ".part";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError(path + ": cannot create " + temp + ": " + std::strerror(errno));
    out << text;
    out.flush();
    if (!out) throw IoError(path + ": write failed: " + std::strerror(errno));
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(temp.c_str());
    throw IoError(path + ": cannot rename " + temp + " into place: " + why);
  }
}

// Frames between progress reports of one worker.
constexpr int64_t kProgressEveryFrames = 96;

}  // namespace

std::string synth_annotation_lines(const SynthVideo& v) {
  std::string out;
  for (const SynthQuery& q : v.queries) {
    ojson saliency = ojson::array();
    for (int a : q.saliency) saliency.push_back({a, a, a});
    ojson line{{"qid", q.qid},
               {"query", q.text},
               {"vid", v.vid},
               {"duration", v.duration_seconds},
               {"relevant_windows", {{round3(q.start_seconds), round3(q.end_seconds)}}},
               {"relevant_clip_ids", q.clip_ids},
               {"saliency_scores", saliency},
               {"kind", q.kind}};
    out += line.dump() + "\n";
  }
  return out;
}

std::string synth_qa_lines(const SynthVideo& v) {
  std::string out;
  for (const SynthQa& q : v.qa) {
    ojson line{{"qid", q.qid},         {"vid", v.vid},         {"video", v.vid}, {"question", q.question},
               {"options", q.options}, {"answer", q.answer}, {"type", q.type},
               {"relevant_windows", {{round3(q.start_seconds), round3(q.end_seconds)}}}};
    out += line.dump() + "\n";
  }
  return out;
}

SynthSummary write_synth_dataset(const std::string& out_dir, const SynthDatasetOptions& dataset,
                                 const SynthOptions& options, const ProgressCallback& progress) {
  namespace fs = std::filesystem;
  validate(options);
  if (dataset.n_videos < 1 || dataset.n_videos > kSynthMaxVideos)
    throw UsageError("synth: number of videos must be in [1, " + std::to_string(kSynthMaxVideos) + "], got " +
                     std::to_string(dataset.n_videos));
  const std::string annotations_path = out_dir + "/annotations.jsonl";
  std::error_code ec;
  if (!dataset.overwrite && fs::exists(annotations_path, ec))
    throw UsageError(out_dir + ": already holds a dataset (annotations.jsonl); refusing to overwrite it");
  const std::string video_dir = out_dir + "/videos";
  fs::create_directories(video_dir, ec);
  if (ec || !fs::is_directory(video_dir)) throw IoError(video_dir + ": cannot create directory: " + ec.message());

  // Scenes first (cheap): they give the progress total.
  std::vector<SynthVideo> videos;
  videos.reserve(static_cast<size_t>(dataset.n_videos));
  int64_t total_frames = 0;
  for (int64_t i = 0; i < dataset.n_videos; ++i) {
    videos.push_back(make_synth_video(dataset.seed, i, options));
    total_frames += videos.back().n_frames;
  }

  decode::VideoWriterOptions writer_options;
  writer_options.crf = dataset.crf;
  writer_options.threads = 1;  // parallelism is across videos
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;  // guards everything below, and serialises progress calls
  std::exception_ptr first_error;
  bool cancelled = false;
  int64_t frames_done = 0;
  double seconds_done = 0;
  auto report = [&](int64_t frames, int fps) {
    std::lock_guard<std::mutex> lock(mutex);
    frames_done += frames;
    seconds_done += static_cast<double>(frames) / fps;
    if (progress && !cancelled && !progress({"encode", frames_done, total_frames, seconds_done})) {
      cancelled = true;
      stop = true;
    }
  };
  auto worker = [&] {
    std::vector<uint8_t> rgb(size_t(options.size) * options.size * 3);
    for (size_t i = next++; i < videos.size() && !stop; i = next++) {
      try {
        const SynthVideo& v = videos[i];
        SynthRenderer renderer(v);
        decode::VideoWriter writer(video_dir + "/" + v.vid + ".mp4", v.size, v.size, v.fps, 1, writer_options);
        int64_t pending = 0;
        for (int64_t k = 0; k < v.n_frames; ++k) {
          if (stop) throw Cancelled(v.vid + ": stopped");  // unwinding discards the .part file
          renderer.render_frame(k, rgb.data());
          writer.write(rgb.data());
          if (++pending == kProgressEveryFrames) {
            report(pending, v.fps);
            pending = 0;
          }
        }
        writer.finish();
        report(pending, v.fps);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!first_error && !stop) first_error = std::current_exception();
        stop = true;
      }
    }
  };
  const unsigned hardware = std::max(1u, std::thread::hardware_concurrency());
  const size_t jobs = std::min<size_t>(videos.size(), dataset.jobs > 0 ? size_t(dataset.jobs) : hardware);
  std::vector<std::thread> threads;
  for (size_t j = 1; j < jobs; ++j) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (first_error) std::rethrow_exception(first_error);
  if (cancelled) throw Cancelled(out_dir + ": synth cancelled");

  SynthSummary summary;
  summary.out_dir = out_dir;
  summary.videos = dataset.n_videos;
  std::string annotations, qa;
  for (const SynthVideo& v : videos) {
    annotations += synth_annotation_lines(v);
    qa += synth_qa_lines(v);
    summary.queries += static_cast<int64_t>(v.queries.size());
    summary.qa += static_cast<int64_t>(v.qa.size());
    summary.frames += v.n_frames;
    summary.seconds_of_video += v.duration_seconds;
  }
  const ojson meta{
      {"generator", "sfvu synth"},
      {"version", kSynthVersion},
      {"seed", dataset.seed},
      {"videos", dataset.n_videos},
      {"options",
       {{"size", options.size}, {"min_seconds", options.min_seconds}, {"max_seconds", options.max_seconds},
        {"fps", options.fps}}},
      {"encoder",
       {{"codec", writer_options.codec}, {"preset", writer_options.preset}, {"crf", writer_options.crf},
        {"gop_frames", writer_options.gop_frames}, {"pix_fmt", "yuv420p"}}},
      {"files", {{"videos", "videos/<vid>.mp4"}, {"annotations", "annotations.jsonl"}, {"qa", "qa.jsonl"}}},
      {"queries", summary.queries},
      {"qa", summary.qa},
      {"seconds_of_video", summary.seconds_of_video}};
  write_file_atomically(out_dir + "/synth.json", meta.dump(2) + "\n");
  write_file_atomically(out_dir + "/qa.jsonl", qa);
  write_file_atomically(annotations_path, annotations);  // last: it marks a complete dataset
  return summary;
}

}  // namespace sfvu::grounding
