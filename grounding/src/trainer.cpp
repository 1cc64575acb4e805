#include "sfvu/grounding/trainer.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <regex>
#include <thread>

#include <ATen/Parallel.h>

#include "sfvu/base/choice.h"
#include "sfvu/base/clock.h"
#include "sfvu/base/error.h"
#include "sfvu/grounding/feature_data.h"
#include "sfvu/grounding/learned_head.h"
#include "sfvu/grounding/train_data.h"
#include "sfvu/pathways/json_fields.h"
#include "sfvu/pathways/torch_runtime.h"
#include "train_setup.h"

namespace sfvu::grounding {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct State {
  int64_t step = 0, total_steps = 0, best_step = 0;
  int batch_videos = 1;  ///< samples per step (Note [Batched steps]); runs before it had 1
  int64_t warmup_steps = 0;  ///< Note [Slow warm-up]
  double elapsed_seconds = 0, best_score = -1;
  ValidationResult best;
};

json state_json(const State& s, const TrainOptions& o) {
  return {{"step", s.step},
          {"total_steps", s.total_steps},
          {"elapsed_seconds", s.elapsed_seconds},
          {"best_score", s.best_score},
          {"best_step", s.best_step},
          {"batch_videos", s.batch_videos},
          {"warmup_steps", s.warmup_steps},
          {"seed", o.seed},
          {"best", {{"r1_05", s.best.r1_05}, {"r1_07", s.best.r1_07}, {"accuracy", s.best.accuracy}}}};
}

State read_state(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError(path + ": cannot open (nothing to resume)");
  json j = json::parse(in, nullptr, false);
  if (!j.is_object()) throw FormatError(path + ": not valid JSON");
  State s;
  s.step = j.value("step", int64_t(0));
  s.total_steps = j.value("total_steps", int64_t(0));
  s.elapsed_seconds = j.value("elapsed_seconds", 0.0);
  s.best_score = j.value("best_score", -1.0);
  s.best_step = j.value("best_step", int64_t(0));
  s.batch_videos = j.value("batch_videos", 1);
  s.warmup_steps = j.value("warmup_steps", int64_t(0));
  if (s.batch_videos < 1) throw FormatError(path + ": batch_videos must be at least 1");
  if (j.contains("best")) {
    s.best.r1_05 = j["best"].value("r1_05", 0.0);
    s.best.r1_07 = j["best"].value("r1_07", 0.0);
    s.best.accuracy = j["best"].value("accuracy", 0.0);
  }
  return s;
}

// The video's tokens: through the (trainable) backbone, only the pathways the model reads
// (or the tokens / clip rows prepared once: train_setup.h).
VideoFeatures features_of(LearnedModelImpl& model, const TrainVideo& v) {
  if (v.features) return *v.features;
  const PathwayMode m = model.config().pathways;
  torch::Tensor slow = m == PathwayMode::kFast ? torch::Tensor() : v.slow_frames;
  torch::Tensor fast = m == PathwayMode::kSlow ? torch::Tensor() : v.fast_frames;
  return model.encode_frames(slow, v.slow_seconds, fast, v.fast_seconds, v.duration_seconds);
}

// The sample's grounding texts as the model reads them: through its text tower, or the
// queries' feature rows.
TextBatch queries_of(LearnedModelImpl& model, const TrainVideo& v, const GroundingTexts& g) {
  if (model.config().reads_features()) {
    std::vector<torch::Tensor> rows;
    for (const auto& q : v.queries) rows.push_back(q.features);
    return query_batch(rows);
  }
  return model.encode_text(g.texts);
}

// Note [Training crops]
// A from-scratch backbone on two cores is starved of updates: one step runs it over every
// frame of a 20-40 s video (about 300 fast and 35 slow frames), so a 20-minute run makes ~2000
// updates while its training loss is still falling. With --crop-seconds S, three steps in four
// see only the frames of an S-second span that holds one of the video's queries (drawn at
// random, the span placed at random around it), and learn from the queries whose windows lie
// wholly inside; timestamps stay absolute, so the time features and windows mean what they
// mean on whole videos. Every fourth step is the whole video, with its multiple-choice
// questions (a question may be about a moment outside any crop) and the negatives far from
// the event. Videos without frames (feature splits, a frozen CLIP's cached tokens) are not
// cropped: the backbone, the cost being cut, does not run on them.
// Without more, a crop only ever asks for what it holds, so three steps in four never show a
// query whose event is elsewhere (the same shape moving the other way, the other flash):
// --crop-negatives also keeps the queries whose windows all lie outside the span, with no
// window in it, so every step of the crop is a negative for them.
bool pick_crop(const TrainVideo& v, double length, bool negatives, uint64_t seed, int64_t step, TrainVideo& out) {
  if (v.features || v.queries.empty() || v.duration_seconds <= length) return false;
  std::mt19937_64 rng(seed * 7919 + uint64_t(step) * 104729 + 17);
  const TrainQuery& q = v.queries[std::uniform_int_distribution<size_t>(0, v.queries.size() - 1)(rng)];
  double first = v.duration_seconds, last = 0;
  for (const auto& w : q.windows) {
    first = std::min(first, w.start_seconds);
    last = std::max(last, w.end_seconds);
  }
  if (q.windows.empty() || last - first > length) return false;
  const double lo = std::max(0.0, last - length), hi = std::min(first, v.duration_seconds - length);
  // lo <= hi: the span fits (last - first <= length < duration).
  const double start = hi > lo ? std::uniform_real_distribution<double>(lo, hi)(rng) : lo;
  out = crop_for_training(v, start, length, negatives);
  return !out.queries.empty() && (!out.slow_frames.defined() || out.slow_frames.size(0) > 0) &&
         (!out.fast_frames.defined() || out.fast_frames.size(0) > 0);
}

// BCE of per-text, per-frame logits [B, T] against "frame t lies inside a window of text b".
torch::Tensor inside_window_loss(const torch::Tensor& logits, const std::vector<std::vector<Window>>& windows,
                                 const std::vector<double>& times) {
  std::vector<float> label;
  label.reserve(windows.size() * times.size());
  for (const auto& row : windows) {
    const std::vector<float> inside = inside_windows(row, times);
    label.insert(label.end(), inside.begin(), inside.end());
  }
  torch::Tensor target = torch::tensor(label).reshape(logits.sizes()).to(logits.device(), logits.scalar_type());
  return torch::binary_cross_entropy_with_logits(logits, target);
}

// Note [Backbone alignment] in learned_model.cpp: frames inside a query's window match it.
//
// Note [Alignment contrast]
// The alignment's BCE scores each frame alone, so for a query whose window holds a few of a
// video's frames most of its gradient says "not here" about frames that look nothing like the
// query; the frames that matter, the barred shapes beside the dotted one, weigh as much as
// any empty frame. With `contrast` > 0 each query also gets the per-query softmax over the
// frames of Note [Slow warm-up] (frame_contrast_loss: -log of the mass inside its windows),
// whose gradient goes to the best-scoring frames outside, on each pathway, with the pathway's
// weight. `sfvu train --align-contrast W`; 0 (off) by default: measured (README, 1600 steps,
// with channel pooling and the detail match) it tripled the alignment loss (3.1 against ~0.5)
// and left detail at chance; the runs with it did not learn motion direction, as 4 of 5 runs
// that session did not, the default's included, so one run each does not rank it.
torch::Tensor alignment_loss(LearnedModelImpl& model, const VideoFeatures& f, const TextBatch& text,
                             const std::vector<std::vector<Window>>& windows, double slow_weight, double contrast) {
  torch::Tensor total = torch::zeros({});
  auto one = [&](const torch::Tensor& tokens, const std::vector<double>& times, AlignFrames frames, double weight) {
    if (!tokens.defined() || tokens.size(0) == 0 || weight == 0) return;
    const torch::Tensor logits = model.align_logits(tokens, text, frames);
    torch::Tensor loss = inside_window_loss(logits, windows, times);
    if (contrast > 0) loss = loss + contrast * frame_contrast_loss(logits, windows, times);
    total = total + weight * loss;
  };
  one(f.fast, f.fast_seconds, AlignFrames::kFast, 1.0);
  one(f.slow, f.slow_seconds, AlignFrames::kSlow, slow_weight);
  return total;
}

// Cross-entropy of the answerable questions of `v` (a crop's questions whose event it misses
// are not asked), averaged. The options already fused as grounding texts (Note [Grounded QA],
// `g` their rows, `fused` and `saliency` the grounding's) are scored from there, not fused again.
torch::Tensor qa_loss(LearnedModelImpl& model, const VideoFeatures& f, const TrainVideo& v, const GroundingTexts& g,
                      const torch::Tensor& fused, const torch::Tensor& saliency, double* value) {
  std::vector<std::string> questions;
  std::vector<std::vector<std::string>> options;
  std::vector<size_t> asked, fresh;  // answerable questions; those not fused yet
  auto fused_already = [&](size_t k) { return g.qa_rows[k] >= 0 && fused.defined(); };
  for (size_t k = 0; k < v.qa.size(); ++k) {
    if (!v.qa[k].answerable) continue;
    asked.push_back(k);
    if (fused_already(k)) continue;
    questions.push_back(v.qa[k].question);
    options.push_back(v.qa[k].options);
    fresh.push_back(k);
  }
  torch::Tensor fresh_scores = fresh.empty() ? torch::Tensor() : model.qa_scores(f, questions, options);
  torch::Tensor loss = torch::zeros({});
  int64_t at = 0;  // into fresh_scores
  for (size_t k : asked) {
    const TrainQa& q = v.qa[k];
    const int64_t n = int64_t(q.options.size());
    torch::Tensor s;
    if (fused_already(k)) {
      const int64_t row = g.qa_rows[k];
      s = model.fused_option_scores(fused.narrow(0, row, n), saliency.narrow(0, row, n));
    } else {
      s = fresh_scores.slice(0, at, at + n);
      at += n;
    }
    loss = loss + torch::nn::functional::cross_entropy(s.unsqueeze(0), torch::tensor({int64_t(q.answer)}, torch::kInt64).to(s.device()));
  }
  loss = loss / double(asked.size());
  *value = loss.item<double>();
  return loss;
}

// The run's AdamW over `params`. Weight decay on matrices only: decaying gates, norms, biases
// and scales pulls them to 0, and for the slow-detail gate 0 means the detail path is shut
// (Note [SlowFast fusion]).
std::unique_ptr<torch::optim::AdamW> new_optimizer(const std::vector<torch::Tensor>& params, const TrainOptions& o) {
  std::vector<torch::Tensor> decayed, kept;
  for (const auto& p : params) (p.dim() >= 2 ? decayed : kept).push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(
                                   torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay)));
  groups.emplace_back(kept, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(o.lr).weight_decay(0)));
  return std::make_unique<torch::optim::AdamW>(std::move(groups),
                                               torch::optim::AdamWOptions(o.lr).weight_decay(o.weight_decay));
}

void set_lr(torch::optim::AdamW& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

// Note [Slow warm-up]
// `sfvu bench alignment` showed the from-scratch backbone learning "a white mark is on screen"
// but never the dot from the bar in a full run: the dot's frames are one text's among ~7-14
// per sample, and the per-frame BCE of the alignment (Note [Backbone alignment]) spreads its
// gradient over every frame, where the few barred frames that matter weigh as much as the
// many empty ones. With --slow-warmup M the run first spends M of its minutes on the backbone
// alone: each step takes kWarmupVideos whole training videos, runs only their slow frames
// through the backbone (no fast frames, no fusion: 0.22 s per video on the 2-core machine,
// 0.33 s with --stem pixel, against ~0.39 s per sample, mostly crops, of the full training)
// and trains the alignment of those frames with the videos' queries, by the BCE
// plus a per-query softmax over the frames (frame_contrast_loss: -log of the mass on the
// frames inside the windows), whose gradient goes to the best-scoring frames outside: for the
// dot query, the barred shapes. Its own AdamW (new_optimizer), linear warm-up over
// 20 steps, then a constant rate; the full training then starts as before, with its own
// optimizer and schedule, in the minutes left. Measured (bench alignment, 30 test videos,
// 4.5 minutes, ~300 steps, all queries): with the first alignment pooling the dot query's top
// slow frame was inside its window for 0.23 of the videos (chance among the three marked
// shapes: 0.33); with fusion.align_pool "channel" 0.43, and 0.63 when the warm-up asked
// about the dot alone (Note [Alignment pooling]).
constexpr int kWarmupVideos = 4;

// Note [Warm-up queries]
// Asked about every query at once, the warm-up of the pixel-stem, unpooled-grid, channel-pooled
// backbone ended (237 steps, 10 minutes) with the dot query's top slow test frame inside for
// 0.33 of the videos, a guess among the three marked shapes; asked about the dot alone, the same
// backbone got 0.63 within 190 steps (README). --slow-warmup-queries RE makes that a curriculum
// a user can ask for: the warm-up aligns only the texts RE finds (std::regex, ECMAScript,
// anywhere in the text), on the videos that have one; the full training then sees every query.
// The pattern names a kind of query of the training split's own vocabulary (e.g. 'dot'), which
// is no look at any test data. A pattern that is not a regular expression, that no training
// query matches, or that comes without --slow-warmup is refused.
// Measured (README, "The dot first"): with the pixel / grid-16 recipe, 10 minutes on the dot
// query alone (269 steps, loss 2.3 -> 0.08), then the usual 1600 steps over everything: the dot
// query's top slow test frame inside its window for every test video (AUC 0.99, against 0.37-0.43
// without the warm-up), detail R1@0.5 100 (33-38 before), the dot's colour question 71.7 %.
std::regex warmup_pattern(const std::string& pattern) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw UsageError("--slow-warmup-queries '" + pattern + "': not a regular expression (" + e.what() + ")");
  }
}

// `g` keeping only the texts (and their windows) that `re` finds, or all of them when `re` is
// null; its QA rows are dropped.
GroundingTexts warmup_texts(const GroundingTexts& g, const std::regex* re) {
  if (!re) return g;
  GroundingTexts kept;
  for (size_t k = 0; k < g.texts.size(); ++k)
    if (std::regex_search(g.texts[k], *re)) {
      kept.texts.push_back(g.texts[k]);
      kept.windows.push_back(g.windows[k]);
    }
  return kept;
}

// Note [Batched steps]
// A step on one sample is too small to keep two cores busy: on the 2-core machine a step with
// libtorch's two intra-op threads took 0.22 s and with one thread 0.24 s, and OpenBLAS's own
// threads spent a third of the time yielding to each other in sched_yield. So a step takes
// TrainOptions::batch_videos samples (whole videos or crops), and `workers` threads (as many as
// libtorch has threads, at most one per sample) each run whole samples, forward and backward,
// on one thread (OpenBLAS too); the samples' gradients are summed in sample order and
// averaged, so one worker or two train the same weights up to the float rounding of
// multi-threaded kernels. Measured on the 2-core machine, 80 videos, 150 steps: 2-sample steps
// 0.35 s, 1-sample steps 0.22-0.27 s (so 1.4x the samples per second); two samples one after
// the other on one thread 0.47 s. Whole-video samples come a step at a time (sample_at below).

// One sample's share of a step: its gradients (one per trained parameter, undefined where it
// reached none) of its loss divided by the batch size, and the loss parts for the progress line.
struct SampleResult {
  std::vector<torch::Tensor> grads;
  LossParts parts;
  double loss = 0, qa = 0;
  bool has_qa = false;
};

SampleResult run_sample(LearnedModelImpl& model, const TrainVideo& v, const TrainOptions& o,
                        const std::vector<torch::Tensor>& params, double scale) {
  SampleResult r;
  VideoFeatures f = features_of(model, v);
  torch::Tensor loss = torch::zeros({});
  const GroundingTexts g_texts = grounding_texts(v, model.config().qa_scoring == "option");
  torch::Tensor fused, saliency;
  if (!g_texts.windows.empty()) {
    const std::vector<std::vector<Window>>& windows = g_texts.windows;
    std::vector<double> times;
    TextBatch text = queries_of(model, v, g_texts);
    DetailProbe probe;
    torch::Tensor motion;
    GroundingOutput g = model.ground(f, text, &times, &probe, &fused, &motion);
    saliency = g.saliency;
    r.parts = grounding_loss(g, windows, times);
    loss = loss + r.parts.total;
    if (probe.logits.defined()) {  // Note [Detail probe]
      torch::Tensor p = inside_window_loss(probe.logits, windows, probe.seconds);
      r.parts.probe = p.item<double>();
      loss = loss + p;
    }
    if (motion.defined()) {  // Note [Motion match]
      torch::Tensor m = inside_window_loss(motion, windows, times);
      r.parts.motion = m.item<double>();
      loss = loss + m;
    }
    if (!model.config().reads_features()) {
      torch::Tensor align = alignment_loss(model, f, text, windows, o.slow_align_weight, o.align_contrast);
      r.parts.align = align.item<double>();
      loss = loss + align;
    }
  }
  if (std::any_of(v.qa.begin(), v.qa.end(), [](const TrainQa& q) { return q.answerable; })) {
    loss = loss + o.qa_weight * qa_loss(model, f, v, g_texts, fused, saliency, &r.qa);
    r.has_qa = true;
  }
  r.parts.total = torch::Tensor();
  r.loss = loss.item<double>();
  if (loss.requires_grad())
    r.grads = torch::autograd::grad({loss * scale}, params, {}, /*retain_graph=*/false, /*create_graph=*/false,
                                    /*allow_unused=*/true);
  else
    r.grads.resize(params.size());
  return r;
}

// The trainer's worker threads (Note [Batched steps]): run(fn) calls fn(w) for w in
// [0, workers) at once, worker 0 on the calling thread, and returns when all are done,
// rethrowing the first failure. The helper threads live for the whole run, each set once to
// `threads_each` libtorch threads (OpenMP's count is per thread).
class StepWorkers {
 public:
  StepWorkers(int workers, int threads_each) {
    for (int w = 1; w < workers; ++w)
      helpers_.emplace_back([this, w, threads_each] {
        at::set_num_threads(threads_each);
        int64_t seen = 0;
        while (true) {
          std::unique_lock<std::mutex> lock(mutex_);
          wake_.wait(lock, [&] { return quit_ || generation_ != seen; });
          if (quit_) return;
          seen = generation_;
          const std::function<void(int)>* job = job_;
          lock.unlock();
          std::exception_ptr error;
          try {
            (*job)(w);
          } catch (...) {
            error = std::current_exception();
          }
          lock.lock();
          if (error && !error_) error_ = error;
          if (--pending_ == 0) done_.notify_all();
        }
      });
  }
  ~StepWorkers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      quit_ = true;
    }
    wake_.notify_all();
    for (auto& t : helpers_) t.join();
  }
  StepWorkers(const StepWorkers&) = delete;
  StepWorkers& operator=(const StepWorkers&) = delete;

  void run(const std::function<void(int)>& fn) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &fn;
      pending_ = int(helpers_.size());
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    std::exception_ptr mine;
    try {
      fn(0);
    } catch (...) {
      mine = std::current_exception();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
    if (mine) std::rethrow_exception(mine);
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::vector<std::thread> helpers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int64_t generation_ = 0;
  int pending_ = 0;
  bool quit_ = false;
  std::exception_ptr error_;
};

// Thread counts for the calling thread (libtorch) and OpenBLAS, restored on scope exit.
class ThreadCounts {
 public:
  ThreadCounts(int torch_threads, int blas_threads)
      : torch_(at::get_num_threads()), blas_(pathways::set_blas_threads(blas_threads)) {
    if (torch_threads != torch_) at::set_num_threads(torch_threads);
  }
  ~ThreadCounts() {
    if (at::get_num_threads() != torch_) at::set_num_threads(torch_);
    if (blas_ > 0) pathways::set_blas_threads(blas_);
  }
  ThreadCounts(const ThreadCounts&) = delete;
  ThreadCounts& operator=(const ThreadCounts&) = delete;

 private:
  int torch_, blas_;
};

// Each parameter's gradient: the sum of the samples' in sample order; undefined where no sample
// reached it (AdamW leaves such a parameter be).
void set_summed_grads(const std::vector<torch::Tensor>& params, const std::vector<SampleResult>& results) {
  for (size_t j = 0; j < params.size(); ++j) {
    torch::Tensor g;
    for (const auto& r : results)
      if (r.grads[j].defined()) g = g.defined() ? g + r.grads[j] : r.grads[j];
    params[j].mutable_grad() = g;
  }
}

// Note [Warm-up text side]
// The dot query of the synthetic benchmark is one sentence, the same in every video, so a
// warm-up over 'dot' trains the text encoder and the alignment's text projection on one input:
// whatever moves that one text's embedding (biases, the final norm) moves every text's the same
// way. In all three runs with a warm-up before this (README) the full training afterwards never
// learned which way a shape moves, which four runs of the same recipe without it all did; one
// suspect was that the warm-up left every text near the dot's embedding. So the warm-up's
// text side is a choice: "train" (as before), "freeze" (the warm-up trains the vision side
// alone, towards the text side's embedding of the query as initialised) or "reset" (it trains
// both, then puts the text side back as it was: the full training starts from the vision side
// the warm-up made and an untouched text side). Measured (README, "What the warm-up costs"; pixel /
// grid-16 recipe, 10-minute dot warm-up, seed 0): "freeze" did not learn the dot within the
// warm-up (loss 2.08 after 250 steps; "train" reached 0.08-0.11); "reset" did (0.05), the full
// training found the dot again from the text side (detail R1@0.5 100, test R1@0.5 63.3, the
// best run so far), and direction was still not learned (motion R1@0.5 43.3): the text side is
// not what the warm-up cost.
//
// Note [Warm-up fast frames]
// The other suspect is the vision side: asked only whether a frame shows the dotted shape (the
// barred shapes beside it, in every colour, as the frames outside), the warm-up has every
// reason to make the backbone blind to colour and shape, which is what a motion query names.
// slow_warmup_fast also gives each warm-up video's fast frames the training's own fast
// alignment term (BCE, every query of the video, the fast frames' head), so the backbone
// keeps telling the shapes apart at the fast pathway's size while the slow frames learn the
// dot, and the text side sees every query, not the dot's one sentence. It costs a forward and
// backward over the fast frames: 4.2 s a warm-up step against 2.2-3.0 s on the 2-core machine,
// so 142 steps in 10 minutes, and the warm-up ended with the dot half learned (loss 2.09, fast
// term included), which the full training finished. Measured (README, seed 0): detail R1@0.5
// 100, the dot's colour question 100 %, QA 66.7 % and mAP 52.7 (the best so far), validation
// 71.7 / 61.7; direction still not learned (motion R1@0.5 45.0), so it is not this either.
bool is_text_side(const std::string& name) {
  return name.rfind("backbone.text_model.", 0) == 0 || name.rfind("align_text.", 0) == 0;
}

// Note [Slow warm-up]; its kWarmupVideos videos a step run on the training's `pool` of
// `workers` (Note [Batched steps]), one libtorch thread each, as the training's samples do. On
// the main thread with libtorch's two threads a pixel / grid-16 step took 3.7-3.9 s in one run
// on the 2-core machine, two thirds of the CPU time in the kernel (top), 2.5 s in another; on the
// workers 2.2 and 2.8 s in two runs. Runs differ by more than that, so the gain is not measured
// cleanly; the point is that the warm-up now runs the way the training's steps do.
int64_t slow_warmup(LearnedModelImpl& model, const TrainOptions& o, const TrainSplit& split,
                    const std::vector<torch::Tensor>& params, StepWorkers& pool, int workers,
                    const std::function<double()>& elapsed, const std::function<void(const TrainProgress&)>& report) {
  std::unique_ptr<std::regex> re;
  if (!o.slow_warmup_queries.empty()) re = std::make_unique<std::regex>(warmup_pattern(o.slow_warmup_queries));
  // The videos the warm-up draws from, each with the texts it aligns (filtered once, here).
  struct Usable {
    const TrainVideo* video;
    GroundingTexts texts;
    GroundingTexts fast_texts;  // Note [Warm-up fast frames]: every query, when on
  };
  std::vector<Usable> usable;
  int64_t queries = 0, aligned = 0;  // of the videos with slow frames; for the progress line
  for (const TrainVideo& v : split.videos) {
    if (!v.slow_frames.defined() || v.slow_frames.size(0) <= 1) continue;
    GroundingTexts all = grounding_texts(v, false);
    GroundingTexts g = warmup_texts(all, re.get());
    queries += int64_t(v.queries.size());
    aligned += int64_t(g.texts.size());
    const bool fast = o.slow_warmup_fast && v.fast_frames.defined() && v.fast_frames.size(0) > 0;
    if (!g.texts.empty()) usable.push_back({&v, std::move(g), fast ? std::move(all) : GroundingTexts()});
  }
  if (usable.empty())
    throw UsageError("--slow-warmup: " + o.data_dir + " has no video with slow frames and queries" +
                     (o.slow_warmup_queries.empty() ? "" : " that --slow-warmup-queries '" + o.slow_warmup_queries + "' finds"));
  // Note [Warm-up text side]: the parameters the warm-up trains.
  std::vector<torch::Tensor> trained;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> text_side;  // "reset": each with its value now
  if (o.slow_warmup_text == "freeze") {
    for (const auto& p : model.named_parameters(true))
      if (p.value().requires_grad() && !is_text_side(p.key())) trained.push_back(p.value());
  } else {
    trained = params;
    if (o.slow_warmup_text == "reset")
      for (const auto& p : model.named_parameters(true))
        if (is_text_side(p.key())) text_side.emplace_back(p.value(), p.value().detach().clone());
  }
  const std::unique_ptr<torch::optim::AdamW> optimizer = new_optimizer(trained, o);
  std::mt19937_64 rng(o.seed * 31 + 7);
  std::vector<size_t> order(usable.size());  // shuffled; `usable` stays put for `picked`
  std::iota(order.begin(), order.end(), size_t(0));
  std::shuffle(order.begin(), order.end(), rng);
  const double end_seconds = o.slow_warmup_minutes * 60;
  double mean_loss = 0;
  int64_t step = 0;
  size_t next = 0;
  std::vector<const Usable*> picked(kWarmupVideos);
  std::vector<SampleResult> results(kWarmupVideos);
  while (elapsed() < end_seconds) {
    const double lr = o.lr * std::min(1.0, double(step + 1) / 20.0);
    set_lr(*optimizer, lr);
    for (int k = 0; k < kWarmupVideos; ++k) {
      picked[size_t(k)] = &usable[order[next]];
      if (++next == order.size()) {
        next = 0;
        std::shuffle(order.begin(), order.end(), rng);
      }
    }
    pool.run([&](int w) {
      for (int k = w; k < kWarmupVideos; k += workers) {
        const TrainVideo& v = *picked[size_t(k)]->video;
        const GroundingTexts& g = picked[size_t(k)]->texts;
        const GroundingTexts& all = picked[size_t(k)]->fast_texts;
        const bool fast = !all.texts.empty();
        const VideoFeatures f = model.encode_frames(v.slow_frames, v.slow_seconds, fast ? v.fast_frames : torch::Tensor(),
                                                    fast ? v.fast_seconds : std::vector<double>(), v.duration_seconds);
        const torch::Tensor logits = model.align_logits(f.slow, model.encode_text(g.texts));
        torch::Tensor loss = inside_window_loss(logits, g.windows, f.slow_seconds) +
                             frame_contrast_loss(logits, g.windows, f.slow_seconds);
        if (fast)  // Note [Warm-up fast frames]: the training's fast alignment term, every query
          loss = loss + inside_window_loss(model.align_logits(f.fast, model.encode_text(all.texts), AlignFrames::kFast),
                                           all.windows, f.fast_seconds);
        SampleResult& r = results[size_t(k)];
        r.loss = loss.item<double>();
        r.grads = torch::autograd::grad({loss / double(kWarmupVideos)}, trained, {}, /*retain_graph=*/false,
                                        /*create_graph=*/false, /*allow_unused=*/true);
      }
    });
    set_summed_grads(trained, results);
    double loss_value = 0;
    for (const auto& r : results) loss_value += r.loss / kWarmupVideos;
    torch::nn::utils::clip_grad_norm_(trained, o.grad_clip);
    optimizer->step();
    ++step;
    mean_loss += (loss_value - mean_loss) / double(std::min<int64_t>(step, 20));
    TrainProgress tp;
    tp.stage = "warmup";
    tp.step = step;
    tp.done = aligned;
    tp.total = queries;
    tp.loss = mean_loss;
    tp.lr = lr;
    tp.elapsed_seconds = elapsed();
    tp.eta_seconds = std::max(0.0, end_seconds - tp.elapsed_seconds);
    report(tp);
  }
  for (auto& p : params) p.mutable_grad() = torch::Tensor();  // the full training's steps set their own
  torch::NoGradGuard no_grad;
  for (auto& [now, before] : text_side) now.copy_(before);
  return step;
}

}  // namespace

ValidationResult validate(LearnedModelImpl& model, const TrainSplit& split) {
  torch::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  ValidationResult r;
  int64_t hit5 = 0, hit7 = 0, correct = 0;
  double iou_sum = 0;
  const auto& c = model.config();
  for (const auto& v : split.videos) {
    VideoFeatures f = features_of(model, v);
    if (!v.queries.empty()) {
      std::vector<double> times;
      GroundingOutput out = model.ground(f, queries_of(model, v, grounding_texts(v, false)), &times);
      for (size_t b = 0; b < v.queries.size(); ++b) {
        auto moments = decode_moments(out, int64_t(b), v.duration_seconds, c.nms_iou, 1, c.moment_saliency);
        double best = 0;
        if (!moments.empty())
          for (const auto& w : v.queries[b].windows)
            best = std::max(best, temporal_iou(moments[0], Moment{w.start_seconds, w.end_seconds, 0}));
        hit5 += best >= 0.5;
        hit7 += best >= 0.7;
        iou_sum += best;
        ++r.queries;
      }
    }
    for (const auto& q : v.qa) {
      torch::Tensor s = model.qa_scores(f, {q.question}, {q.options});
      correct += s.argmax().item<int64_t>() == q.answer;
      ++r.questions;
    }
  }
  if (r.queries) {
    r.r1_05 = 100.0 * double(hit5) / double(r.queries);
    r.r1_07 = 100.0 * double(hit7) / double(r.queries);
    r.miou = 100.0 * iou_sum / double(r.queries);
  }
  if (r.questions) r.accuracy = 100.0 * double(correct) / double(r.questions);
  if (was_training) model.train();
  return r;
}

TrainReport train(const TrainOptions& o, const std::function<bool(const TrainProgress&)>& progress) {
  const double t_start = steady_seconds();
  if (o.out_dir.empty()) throw UsageError("train: no output folder");
  if (o.crop_seconds != 0 && !(o.crop_seconds >= 4))
    throw UsageError("--crop-seconds must be 0 (whole videos) or at least 4, not " + std::to_string(o.crop_seconds));
  if (o.init != "scratch" && o.init.rfind("clip:", 0) != 0)
    throw UsageError("--init must be 'scratch' or 'clip:DIR', not '" + o.init + "'");
  auto report = [&](TrainProgress p) {
    if (progress && !progress(p)) throw Cancelled("training stopped");
  };
  const SplitMedia media = training_media(o);
  TrainSplit train_split = load_split(o.data_dir, media);
  TrainSplit val_split;
  const bool has_val = !o.val_dir.empty();
  if (has_val) val_split = load_split(o.val_dir, media);

  const fs::path out(o.out_dir), state_dir = out / "train_state";
  State st;
  std::shared_ptr<LearnedModelImpl> model;
  if (o.resume) {
    st = read_state((state_dir / "state.json").string());
    model = LearnedModelImpl::load(state_dir.string());
    if (model->config().pathways != o.pathways)
      throw UsageError("--resume: " + o.out_dir + " trains pathways '" + to_string(model->config().pathways) +
                       "', not '" + to_string(o.pathways) + "'");
    if (model->config().reads_features() != (media == SplitMedia::kFeatures))
      throw UsageError("--resume: " + o.out_dir + " trains on " +
                       (model->config().reads_features() ? "pre-extracted features" : "videos") + ", " + o.data_dir +
                       " holds " + (media == SplitMedia::kFeatures ? "pre-extracted features" : "videos"));
  } else {
    if (fs::exists(out / "config.json"))
      throw UsageError(o.out_dir + " already holds a model: pass --resume or choose another --out");
    torch::manual_seed(o.seed);
    model = new_model(o, train_split, media);
  }
  model->train();
  if (!(o.slow_warmup_minutes >= 0)) throw UsageError("--slow-warmup must be >= 0 minutes");
  if (o.slow_warmup_minutes > 0 && !o.resume) {
    if (model->config().reads_features() || o.init != "scratch")
      throw UsageError("--slow-warmup trains the from-scratch backbone: not with " +
                       (o.init != "scratch" ? "--init " + o.init : std::string("pre-extracted features")));
    if (model->config().pathways == PathwayMode::kFast)
      throw UsageError("--slow-warmup aligns the slow frames: a --pathways fast model has none");
    if (o.slow_warmup_minutes >= o.minutes)
      throw UsageError("--slow-warmup " + std::to_string(o.slow_warmup_minutes) + " leaves no time of --minutes " +
                       std::to_string(o.minutes) + " for the training");
  }
  if (!o.slow_warmup_queries.empty()) {
    warmup_pattern(o.slow_warmup_queries);  // refuses a bad pattern before the data is read
    if (!(o.slow_warmup_minutes > 0))
      throw UsageError("--slow-warmup-queries chooses the queries of a warm-up: give --slow-warmup M too");
  }
  if (std::string problem = choice_problem(o.slow_warmup_text, {"train", "freeze", "reset"}); !problem.empty())
    throw UsageError("--slow-warmup-text " + problem);
  if (o.slow_warmup_fast && !(o.slow_warmup_minutes > 0))
    throw UsageError("--slow-warmup-fast on says what a warm-up aligns: give --slow-warmup M too");
  if (o.slow_warmup_fast && model->config().pathways != PathwayMode::kSlowFast)
    throw UsageError("--slow-warmup-fast on aligns the fast frames too: a --pathways slowfast model only");
  if (o.slow_warmup_text != "train" && !(o.slow_warmup_minutes > 0))
    throw UsageError("--slow-warmup-text " + o.slow_warmup_text + " says what a warm-up trains: give --slow-warmup M too");
  auto prepare_progress = [&](const Progress& p) {
    TrainProgress tp;
    tp.stage = p.stage;
    tp.done = p.done;
    tp.total = p.total;
    tp.elapsed_seconds = steady_seconds() - t_start;
    report(tp);
    return true;
  };
  prepare_split(*model, o, train_split, prepare_progress);
  if (has_val) prepare_split(*model, o, val_split, prepare_progress);

  std::vector<torch::Tensor> params;
  for (auto& p : model->parameters())
    if (p.requires_grad()) params.push_back(p);
  const std::unique_ptr<torch::optim::AdamW> optimizer_owner = new_optimizer(params, o);
  torch::optim::AdamW& optimizer = *optimizer_owner;
  if (o.resume) torch::load(optimizer, (state_dir / "optimizer.pt").string());

  const double budget_seconds = o.minutes * 60;
  const double elapsed_before = st.elapsed_seconds;
  const double loop_start = steady_seconds();
  auto elapsed = [&] { return elapsed_before + steady_seconds() - loop_start; };
  if (o.steps > 0) st.total_steps = o.steps;
  const int64_t n = int64_t(train_split.videos.size());
  std::vector<int64_t> order(static_cast<size_t>(n));
  int64_t order_epoch = -1;
  double val_seconds = 0;
  const int64_t step_at_start = st.step;
  int64_t samples_seen = 0;
  double mean_loss = 0, mean_qa = 0;
  LossParts mean_parts;
  const int64_t calibration = std::max<int64_t>(1, o.calibration_steps);
  // Note [Training budget]: runs sized by wall time (a resumed one too, on its whole budget).
  const bool by_time = o.steps <= 0;
  int64_t timed_step = -1, validations = 0, next_validation = -1;
  double timed_start = 0, timed_val = 0;

  // Note [Batched steps]: a resumed run keeps its own batch size.
  if (!o.resume) st.batch_videos = o.batch_videos;
  if (st.batch_videos < 1) throw UsageError("--batch-videos must be at least 1");
  const int batch = st.batch_videos;
  const int all_threads = std::max(1, at::get_num_threads());
  const int workers = std::max(1, std::min(batch, all_threads));  // as many as libtorch has threads
  const int threads_each = workers > 1 ? std::max(1, all_threads / workers) : all_threads;
  std::unique_ptr<ThreadCounts> step_threads;
  if (workers > 1) step_threads = std::make_unique<ThreadCounts>(threads_each, threads_each);
  StepWorkers pool(workers, threads_each);
  // Note [Slow warm-up]: a fresh run's first minutes, inside its budget, on the same workers.
  if (!o.resume && o.slow_warmup_minutes > 0)
    st.warmup_steps = slow_warmup(*model, o, train_split, params, pool, workers, elapsed, report);

  // Sample k of the run (step k / batch): the videos in a fresh shuffled order each epoch;
  // three steps in four crops (Note [Training crops]). Whole steps, not every fourth sample:
  // a whole video costs about 2.5 crops, and a step waits for its slowest sample.
  auto sample_at = [&](int64_t k, TrainVideo& crop) -> const TrainVideo* {
    const int64_t epoch = k / n;
    if (epoch != order_epoch) {
      std::iota(order.begin(), order.end(), 0);
      std::mt19937_64 rng(o.seed * 1000003 + uint64_t(epoch));
      std::shuffle(order.begin(), order.end(), rng);
      order_epoch = epoch;
    }
    const TrainVideo* v = &train_split.videos[size_t(order[size_t(k % n)])];
    if (o.crop_seconds > 0 && (k / batch) % 4 != 0 &&
        pick_crop(*v, o.crop_seconds, o.crop_negatives, o.seed, k, crop))
      return &crop;
    return v;
  };

  auto save_state = [&] {
    fs::create_directories(state_dir);
    model->save(state_dir.string());
    torch::save(optimizer, (state_dir / "optimizer.pt").string());
    st.elapsed_seconds = elapsed();
    pathways::write_text_file_atomic((state_dir / "state.json").string(), state_json(st, o).dump(2) + "\n");
  };
  auto training_info = [&] {
    return json{{"data", o.data_dir}, {"val", o.val_dir}, {"features", o.features_dir}, {"init", o.init}, {"seed", o.seed},
                {"steps", st.step}, {"batch_videos", batch}, {"lr", o.lr}, {"crop_seconds", o.crop_seconds},
                {"crop_negatives", o.crop_negatives}, {"qa_weight", o.qa_weight}, {"slow_align_weight", o.slow_align_weight}, {"align_contrast", o.align_contrast}, {"slow_warmup_minutes", o.slow_warmup_minutes}, {"slow_warmup_queries", o.slow_warmup_queries}, {"slow_warmup_text", o.slow_warmup_text}, {"slow_warmup_fast", o.slow_warmup_fast}, {"slow_warmup_steps", st.warmup_steps}, {"best_step", st.best_step},
                {"val_r1_05", st.best.r1_05}, {"val_r1_07", st.best.r1_07}, {"val_accuracy", st.best.accuracy}};
  };
  auto run_validation = [&] {
    const double t0 = steady_seconds();
    TrainProgress tp;
    tp.stage = "validate";
    tp.step = st.step;
    tp.total_steps = st.total_steps;
    {
      ThreadCounts all(all_threads, all_threads);  // one video at a time: every core on it
      tp.validation = validate(*model, val_split);
    }
    if (tp.validation.score() > st.best_score) {
      st.best_score = tp.validation.score();
      st.best = tp.validation;
      st.best_step = st.step;
      model->set_training_info(training_info());
      model->save(o.out_dir);
      tp.best = true;
    }
    val_seconds += steady_seconds() - t0;
    ++validations;
    tp.elapsed_seconds = elapsed();
    report(tp);
  };

  // The total step count that ends the run on time: the mean time of a training step since
  // timing began (validations excluded) into the time left, less the validations still to come
  // (their measured mean, or a guess of a quarter of a sample's time per video before any).
  auto fit_total = [&] {
    const double per_step =
        std::max(1e-6, (steady_seconds() - timed_start - (val_seconds - timed_val)) / double(st.step - timed_step));
    const double per_validation = validations > 0 ? val_seconds / double(validations)
                                                  : 0.25 * per_step / batch * double(val_split.videos.size());
    int64_t validations_left = 0;
    if (has_val)
      validations_left = 1 + (o.validate_every > 0
                                  ? std::max<int64_t>(0, (st.total_steps - st.step) / o.validate_every)
                                  : std::max<int64_t>(0, 8 - validations));
    const double left = budget_seconds - elapsed() - double(validations_left) * per_validation;
    st.total_steps = st.step + std::max<int64_t>(1, int64_t(left / per_step));
  };

  std::vector<TrainVideo> crops(static_cast<size_t>(batch));
  std::vector<const TrainVideo*> picked(static_cast<size_t>(batch));
  std::vector<SampleResult> results(static_cast<size_t>(batch));
  while (true) {
    if (st.total_steps > 0 && st.step >= st.total_steps) break;
    if (elapsed() >= budget_seconds) break;
    for (int i = 0; i < batch; ++i) picked[size_t(i)] = sample_at(st.step * batch + i, crops[size_t(i)]);
    // Schedule: linear warmup, cosine to 0 (the total is known after calibration).
    const int64_t total_for_lr = st.total_steps > 0 ? st.total_steps : std::max<int64_t>(calibration * 50, 1000);
    const double warm = std::max(1.0, o.warmup_fraction * double(total_for_lr));
    double lr = o.lr * std::min(1.0, double(st.step + 1) / warm);
    if (double(st.step) > warm)
      lr = o.lr * 0.5 * (1 + std::cos(M_PI * std::min(1.0, (double(st.step) - warm) / (double(total_for_lr) - warm))));
    set_lr(optimizer, lr);

    pool.run([&](int w) {
      for (int i = w; i < batch; i += workers)
        results[size_t(i)] = run_sample(*model, *picked[size_t(i)], o, params, 1.0 / batch);
    });
    set_summed_grads(params, results);
    torch::nn::utils::clip_grad_norm_(params, o.grad_clip);
    optimizer.step();
    ++st.step;

    // Note [Training budget]: warm-up steps untimed, then timed ones fix the total, refitted at
    // every validation.
    if (by_time && st.step == step_at_start + calibration) {
      timed_step = st.step;
      timed_start = steady_seconds();
      timed_val = val_seconds;
    }
    if (by_time && timed_step >= 0 && st.total_steps == 0 && st.step == timed_step + calibration) fit_total();
    // Validations: every validate_every steps, or about 8 per run; each schedules the next from
    // the total as refitted then (Note [Training budget]).
    const int64_t every = o.validate_every > 0 ? o.validate_every
                                               : std::max<int64_t>(1, (st.total_steps > 0 ? st.total_steps : 1000) / 8);
    if (next_validation < 0 && st.total_steps > 0) next_validation = (st.step / every + 1) * every;
    // The progress line shows running means (over about the last 50 samples): one video's
    // losses swing with its content.
    for (auto& r : results) {
      ++samples_seen;
      const double a = 1.0 / double(std::min<int64_t>(samples_seen, 50));
      auto smooth = [a](double& mean, double value) { mean += a * (value - mean); };
      smooth(mean_loss, r.loss);
      if (r.has_qa) smooth(mean_qa, r.qa);  // crop samples have none (Note [Training crops])
      smooth(mean_parts.saliency, r.parts.saliency);
      smooth(mean_parts.rank, r.parts.rank);
      smooth(mean_parts.focal, r.parts.focal);
      smooth(mean_parts.l1, r.parts.l1);
      smooth(mean_parts.giou, r.parts.giou);
      smooth(mean_parts.align, r.parts.align);
      smooth(mean_parts.motion, r.parts.motion);
      smooth(mean_parts.probe, r.parts.probe);
      r.grads.clear();
    }
    TrainProgress tp;
    tp.stage = "train";
    tp.step = st.step;
    tp.total_steps = st.total_steps;
    tp.loss = mean_loss;
    tp.qa_loss = mean_qa;
    tp.parts = mean_parts;
    tp.lr = lr;
    tp.gate = model->detail_gate();
    tp.elapsed_seconds = elapsed();
    if (st.total_steps > 0)
      tp.eta_seconds = std::min(budget_seconds - tp.elapsed_seconds,
                                (tp.elapsed_seconds - elapsed_before) / double(std::max<int64_t>(1, st.step - step_at_start)) *
                                    double(st.total_steps - st.step));
    if (progress && !progress(tp)) {
      save_state();  // --resume continues from here
      throw Cancelled("training stopped at step " + std::to_string(st.step) + "; --resume continues");
    }
    if (st.step == next_validation && st.step < st.total_steps) {
      if (has_val) run_validation();
      save_state();
      if (by_time && timed_step >= 0) fit_total();
      next_validation = st.step + (o.validate_every > 0 ? o.validate_every : std::max<int64_t>(1, st.total_steps / 8));
    }
  }
  if (has_val) {
    run_validation();
  } else {
    model->set_training_info(training_info());
    model->save(o.out_dir);
  }
  save_state();
  TrainReport r;
  r.steps = st.step;
  r.seconds = elapsed();
  r.best = st.best;
  r.best_step = st.best_step;
  TrainProgress done;
  done.stage = "done";
  done.step = st.step;
  done.total_steps = st.total_steps;
  done.validation = st.best;
  done.elapsed_seconds = r.seconds;
  report(done);
  return r;
}

}  // namespace sfvu::grounding
