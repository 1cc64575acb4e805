#include "sfvu/grounding/train_data.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <set>

#include "sfvu/base/error.h"
#include "sfvu/decode/video_reader.h"
#include "sfvu/grounding/eval_common.h"
#include "sfvu/grounding/feature_data.h"
#include "sfvu/grounding/learned_head.h"
#include "sfvu/grounding/mcqa_eval.h"
#include "sfvu/pathways/token_planner.h"

namespace sfvu::grounding {
namespace fs = std::filesystem;

int64_t TrainSplit::n_queries() const {
  int64_t n = 0;
  for (const auto& v : videos) n += int64_t(v.queries.size());
  return n;
}

int64_t TrainSplit::n_qa() const {
  int64_t n = 0;
  for (const auto& v : videos) n += int64_t(v.qa.size());
  return n;
}

std::vector<std::string> TrainSplit::texts() const {
  std::vector<std::string> out;
  for (const auto& v : videos) {
    for (const auto& q : v.queries) out.push_back(q.text);
    for (const auto& q : v.qa) {
      out.push_back(q.question);
      out.insert(out.end(), q.options.begin(), q.options.end());
    }
  }
  return out;
}

std::map<std::string, std::string> index_videos(const std::string& videos_dir) {
  std::error_code ec;
  if (!fs::is_directory(videos_dir, ec)) throw IoError(videos_dir + ": not a folder");
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(videos_dir, ec))
    if (e.is_regular_file(ec)) out.emplace(e.path().stem().string(), e.path().string());
  return out;
}

TrainSplit load_split(const std::string& dir, SplitMedia media) {
  TrainSplit split;
  split.dir = dir;
  const bool with_videos = media == SplitMedia::kVideos;
  const std::string ann = (fs::path(dir) / "annotations.jsonl").string();
  if (!fs::exists(ann))
    throw IoError(ann + (with_videos ? ": missing (a split folder holds annotations.jsonl and videos/)"
                                     : ": missing (a feature split folder holds annotations.jsonl)"));
  const std::string videos_dir = (fs::path(dir) / "videos").string();
  std::error_code ec;
  if (with_videos && !fs::is_directory(videos_dir, ec))
    throw IoError(videos_dir + ": missing (a split folder holds videos/, or pre-extracted features: "
                               "clip_text_features/ with slowfast_features/ or clip_features/)");
  const auto videos = with_videos ? index_videos(videos_dir) : std::map<std::string, std::string>{};
  std::map<std::string, size_t> by_vid;
  auto video_of = [&](const std::string& vid, const std::string& where) -> TrainVideo& {
    auto it = by_vid.find(vid);
    if (it != by_vid.end()) return split.videos[it->second];
    auto file = videos.find(vid);
    if (with_videos && file == videos.end())
      throw IoError(where + ": no video file for vid '" + vid + "' in " + dir + "/videos");
    by_vid[vid] = split.videos.size();
    split.videos.push_back({});
    split.videos.back().vid = vid;
    if (with_videos) split.videos.back().path = file->second;
    return split.videos.back();
  };
  std::set<int64_t> qids;
  for_each_json_line(ann, [&](const nlohmann::json& rec, int64_t line) {
    const std::string where = ann + ":" + std::to_string(line);
    TrainQuery q;
    const auto& qid = require_field(rec, "qid", ann, line);
    if (!qid.is_number_integer()) throw FormatError(where + ": field 'qid' must be an integer");
    q.qid = qid.get<int64_t>();
    if (!qids.insert(q.qid).second) throw FormatError(where + ": duplicate qid " + std::to_string(q.qid));
    const auto& text = require_field(rec, "query", ann, line);
    const auto& vid = require_field(rec, "vid", ann, line);
    const auto& duration = require_field(rec, "duration", ann, line);
    const auto& windows = require_field(rec, "relevant_windows", ann, line);
    if (!text.is_string() || !vid.is_string()) throw FormatError(where + ": 'query' and 'vid' must be strings");
    if (!duration.is_number() || !(duration.get<double>() > 0))
      throw FormatError(where + ": field 'duration' must be a positive number");
    if (!windows.is_array() || windows.empty()) throw FormatError(where + ": field 'relevant_windows' must be a non-empty list");
    q.text = text.get<std::string>();
    q.kind = rec.value("kind", "");
    for (const auto& w : windows) {
      if (!w.is_array() || w.size() < 2 || !w[0].is_number() || !w[1].is_number())
        throw FormatError(where + ": field 'relevant_windows' holds a non-[start, end] entry " + w.dump());
      Window win{w[0].get<double>(), w[1].get<double>()};
      if (!(win.end_seconds > win.start_seconds)) throw FormatError(where + ": reversed or empty window " + w.dump());
      q.windows.push_back(win);
    }
    TrainVideo& v = video_of(vid.get<std::string>(), where);
    v.duration_seconds = duration.get<double>();
    v.queries.push_back(std::move(q));
  });
  const std::string qa_path = (fs::path(dir) / "qa.jsonl").string();
  if (with_videos && fs::exists(qa_path)) {
    McqaGroundTruth gt = load_mcqa_gt(qa_path);
    for (const auto& q : gt.questions) {
      TrainVideo& v = video_of(q.video, qa_path);
      TrainQa qa{q.id, q.question, q.type, q.options, q.answer_index, {}, true};
      for (const auto& [a, b] : q.windows) qa.windows.push_back({a, b});
      v.qa.push_back(std::move(qa));
    }
  }
  if (split.videos.empty()) throw FormatError(ann + ": no annotation");
  return split;
}

namespace {

void decode_video(TrainVideo& v, const pathways::SlowFastOptions& options, const pathways::ClipVisionConfig& vision) {
  try {
    decode::DecoderOptions d;
    d.threads = 1;  // videos decode in parallel instead
    decode::VideoReader reader(decode::Source::path(v.path), d);
    pathways::SlowFastPlan plan = pathways::plan_tokens(options, vision, reader.info().duration_seconds, reader.index());
    auto fmt = [&](int size) { return decode::FrameFormat{size, size, options.resize}; };
    decode::ReadResult r = reader.read({{decode::SamplingPlan::at(plan.slow.times_seconds), fmt(plan.slow.input_size)},
                                        {decode::SamplingPlan::at(plan.fast.times_seconds), fmt(plan.fast.input_size)}});
    auto frames = [](const decode::FrameBatch& b) {
      return torch::from_blob(const_cast<uint8_t*>(b.rgb.data()), {b.size(), b.height, b.width, 3}, torch::kUInt8).clone();
    };
    v.slow_frames = frames(r.streams[0]);
    v.fast_frames = frames(r.streams[1]);
    v.slow_seconds = r.streams[0].pts_seconds;
    v.fast_seconds = r.streams[1].pts_seconds;
    if (v.slow_frames.size(0) == 0 || v.fast_frames.size(0) == 0) throw FormatError("no frame decoded");
  } catch (const Error& e) {
    throw FormatError(v.path + ": " + e.what());
  }
}

// Runs `work` on every video of `split`, one worker per core; the first failure stops the
// others and is rethrown; progress reports `stage` per video done.
void for_each_video(TrainSplit& split, const std::string& stage, const std::function<void(TrainVideo&)>& work_on,
                    const ProgressCallback& progress) {
  // Videos are independent: one worker per core, each taking whole videos.
  const int64_t n = int64_t(split.videos.size());
  const int workers = int(std::max<int64_t>(1, std::min<int64_t>(n, std::max(1u, std::thread::hardware_concurrency()))));
  std::atomic<int64_t> next{0}, done{0};
  std::atomic<bool> stop{false};
  std::mutex mutex;
  std::exception_ptr failure;
  auto work = [&] {
    for (int64_t i; !stop && (i = next++) < n;) {
      try {
        work_on(split.videos[size_t(i)]);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
        stop = true;
        return;
      }
      const int64_t d = ++done;
      std::lock_guard<std::mutex> lock(mutex);
      if (progress && !stop && !progress({stage, d, n, 0})) {
        stop = true;
        if (!failure) failure = std::make_exception_ptr(Cancelled(stage + " cancelled"));
      }
    }
  };
  std::vector<std::thread> threads;
  for (int w = 1; w < workers; ++w) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace

void decode_split(TrainSplit& split, const pathways::SlowFastOptions& options, const pathways::ClipVisionConfig& vision,
                  const ProgressCallback& progress) {
  for_each_video(split, "decode", [&](TrainVideo& v) { decode_video(v, options, vision); }, progress);
}

void load_split_features(TrainSplit& split, const FeatureReader& reader, const ProgressCallback& progress) {
  for_each_video(
      split, "load",
      [&](TrainVideo& v) {
        v.features = std::make_shared<VideoFeatures>(reader.video(v.vid, v.duration_seconds));
        for (auto& q : v.queries) q.features = reader.query(q.qid);
      },
      progress);
}

// Note [Grounded QA]
// A model that scores an option by fusing "question option" with the video and reading the
// peak of the grounding saliency (Note [Option-fused QA] in learned_model.cpp) learns nothing
// from the multiple-choice loss alone in a 20-minute CPU run: its texts look like no grounding
// query, and only whole-video steps carry questions. When a question says when its event
// happens (qa.jsonl "relevant_windows", as NExT-GQA grounds NExT-QA's questions), each option
// is also a grounding query: the right one's windows are the event's, the wrong ones are "not
// here" at every step. The saliency that picks the answer is then trained by the same losses
// as grounding, on every sample whose span holds the question (crops too: Note [Training
// crops]), and the options differ exactly where the answer lies (one word). In a crop that
// misses the event the options are all "not here" and there is no multiple-choice loss.
// Measured (20-minute CPU runs): QA stays near chance (test 27.5 %, 35.0 % with motion
// tokens), and the reason is upstream of the QA head: the grounding itself does not tell
// "moves up" from "moves down" (its top moment is the queried move or the one back equally
// often, Note [Motion tokens]), and an option's probability then depends on its word alone
// (the same for "left" whatever the video), so the options' hypotheses cannot separate.
GroundingTexts grounding_texts(const TrainVideo& v, bool with_options) {
  GroundingTexts g;
  for (const auto& q : v.queries) {
    g.texts.push_back(q.text);
    g.windows.push_back(q.windows);
  }
  g.qa_rows.assign(v.qa.size(), -1);
  if (!with_options) return g;
  for (size_t k = 0; k < v.qa.size(); ++k) {
    const TrainQa& q = v.qa[k];
    if (q.windows.empty() && q.answerable) continue;  // not grounded: when it happens is unknown
    g.qa_rows[k] = int64_t(g.texts.size());
    for (size_t i = 0; i < q.options.size(); ++i) {
      g.texts.push_back(qa_option_text(q.question, q.options[i]));
      g.windows.push_back(int(i) == q.answer ? q.windows : std::vector<Window>{});
    }
  }
  return g;
}

TrainVideo crop_for_training(const TrainVideo& v, double start_seconds, double length_seconds, bool negatives) {
  if (v.features || (!v.slow_frames.defined() && !v.fast_frames.defined()))
    throw UsageError("crop_for_training: " + v.vid + " has no decoded frames to crop");
  if (!(length_seconds > 0)) throw UsageError("crop_for_training: the crop length must be positive");
  const double end_seconds = start_seconds + length_seconds;
  TrainVideo c;
  c.vid = v.vid;
  c.path = v.path;
  c.duration_seconds = v.duration_seconds;
  // Frame times increase, so the span is one run of frames: a view, no copy.
  auto pick = [&](const torch::Tensor& frames, const std::vector<double>& seconds, torch::Tensor& out_frames,
                  std::vector<double>& out_seconds) {
    if (!frames.defined()) return;
    const auto first = std::lower_bound(seconds.begin(), seconds.end(), start_seconds);
    const auto last = std::lower_bound(first, seconds.end(), end_seconds);
    out_seconds.assign(first, last);
    out_frames = frames.narrow(0, first - seconds.begin(), last - first);
  };
  pick(v.slow_frames, v.slow_seconds, c.slow_frames, c.slow_seconds);
  pick(v.fast_frames, v.fast_seconds, c.fast_frames, c.fast_seconds);
  // A text's windows: kept whole when all lie inside the span; with `negatives`, when none
  // crosses its edges, only those inside (none: "not here"); otherwise the text is dropped.
  // Returns whether the text is kept and sets `whole` when all its windows were inside.
  auto inside = [&](const Window& w) { return w.start_seconds >= start_seconds && w.end_seconds <= end_seconds; };
  auto crop_windows = [&](std::vector<Window>& windows, bool& whole) {
    whole = true;
    for (const auto& w : windows) {
      const bool outside = w.end_seconds <= start_seconds || w.start_seconds >= end_seconds;
      if (!inside(w) && !outside) return false;  // straddles: half its steps would be wrong
      whole = whole && inside(w);
    }
    if (whole) return true;
    if (!negatives) return false;
    windows.erase(std::remove_if(windows.begin(), windows.end(), [&](const Window& w) { return !inside(w); }),
                  windows.end());
    return true;
  };
  bool whole = false;
  for (const auto& q : v.queries) {
    if (q.windows.empty()) continue;
    TrainQuery kept = q;
    if (crop_windows(kept.windows, whole)) c.queries.push_back(std::move(kept));
  }
  for (const auto& q : v.qa) {
    if (q.windows.empty()) continue;  // what it asks about may be anywhere
    TrainQa kept = q;
    if (!crop_windows(kept.windows, whole)) continue;
    kept.answerable = q.answerable && whole;
    c.qa.push_back(std::move(kept));
  }
  return c;
}

}  // namespace sfvu::grounding
