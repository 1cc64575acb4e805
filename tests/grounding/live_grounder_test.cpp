// LiveGrounder (Note [Live grounding window]): hysteresis of the start/end gate, window
// eviction by time, the rebased window the head sees, update cadence and the score of the
// newest clip, with a scripted head on the random-weight clip_tiny backbone; then the real
// heads (the bundled learned synth-tiny model, the training-free CLIP head) for shapes,
// ranges and default thresholds.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "sfvu/base/error.h"
#include "sfvu/grounding/live_grounder.h"
#include "sfvu/grounding/training_free_head.h"
#include "support/test_support.h"

namespace sfvu::grounding {
namespace {

using Kind = LiveEvent::Kind;

std::shared_ptr<const pathways::ClipBundle> tiny_clip() {
  static auto clip =
      std::make_shared<const pathways::ClipBundle>(pathways::ClipBundle::load(test::fixture("clip_tiny")));
  return clip;
}

// A head whose score the test sets; it records the last window it was given. The last clip
// gets `score`, every other clip -1, so the grounder must pick the newest clip.
struct Script {
  float score = 0;
  pathways::VideoTokens last_window;
  int calls = 0;
};
class ScriptedHead : public VideoHead {
 public:
  explicit ScriptedHead(std::shared_ptr<Script> s) : s_(std::move(s)) {}
  GroundingResult ground(const pathways::VideoTokens& v, const std::string&) const override {
    s_->last_window = v;
    ++s_->calls;
    GroundingResult r;
    r.duration_seconds = v.duration_seconds;
    r.clip_seconds = 2;
    r.saliency.assign(size_t(std::ceil(v.duration_seconds / 2 - 1e-9)), -1.0f);
    r.saliency.back() = s_->score;
    return r;
  }
  QaResult answer(const pathways::VideoTokens&, const std::string&, const std::vector<std::string>&) const override {
    return {};
  }
  std::string name() const override { return "scripted"; }

 private:
  std::shared_ptr<Script> s_;
};

std::shared_ptr<const VideoPipeline> scripted_pipeline(const std::shared_ptr<Script>& script) {
  return std::make_shared<const VideoPipeline>(tiny_clip(), std::make_shared<const ScriptedHead>(script),
                                               PipelineOptions{});
}

torch::Tensor random_frames(int64_t n, int64_t side) {
  return torch::randint(0, 256, {n, side, side, 3}, torch::kUInt8);
}

// Feeds the stream as a live source would: every fast frame (8 fps) and every slow frame
// (1 fps) up to `until` seconds, one at a time; calls `each` after every push round.
template <typename Fn>
void play(LiveGrounder& live, double from, double until, Fn each) {
  const int fs = live.input_size(LivePathway::kFast), ss = live.input_size(LivePathway::kSlow);
  for (int k = int(std::lround(from * 8)); k / 8.0 < until - 1e-9; ++k) {
    const double t = k / 8.0;
    if (k % 8 == 0) live.push(LivePathway::kSlow, random_frames(1, ss), {t}, {100 + t});
    live.push(LivePathway::kFast, random_frames(1, fs), {t}, {100 + t});
    each(t);
  }
}

TEST(EventGate, StartsAtThresholdEndsBelowThresholdMinusHysteresis) {
  EventGate gate(0.5, 0.05);
  EXPECT_EQ(gate.step(0.49f), std::nullopt);
  EXPECT_EQ(gate.step(0.5f), Kind::kStart);  // reaching the threshold starts
  EXPECT_TRUE(gate.active());
  EXPECT_EQ(gate.step(0.47f), std::nullopt);  // inside the band: still active, no flicker
  EXPECT_EQ(gate.step(0.451f), std::nullopt);
  EXPECT_EQ(gate.step(NAN), std::nullopt);    // no score: no change
  EXPECT_TRUE(gate.active());
  EXPECT_EQ(gate.step(0.44f), Kind::kEnd);
  EXPECT_FALSE(gate.active());
  EXPECT_EQ(gate.step(0.49f), std::nullopt);  // below the threshold: does not restart
  EXPECT_EQ(gate.step(0.9f), Kind::kStart);
  EventGate no_band(0.5, 0.0);
  EXPECT_EQ(no_band.step(0.5f), Kind::kStart);
  EXPECT_EQ(no_band.step(0.4999f), Kind::kEnd);
}

TEST(LiveGrounder, PathwayGeometryComesFromThePipeline) {
  auto script = std::make_shared<Script>();
  LiveGrounder live(scripted_pipeline(script), {"q"});
  EXPECT_EQ(live.input_size(LivePathway::kSlow), 32);  // clip_tiny image_size
  EXPECT_EQ(live.input_size(LivePathway::kFast), 32);  // low-res size: patch 8 x max(4, grid/2)
  EXPECT_EQ(live.fps(LivePathway::kSlow), 1.0);
  EXPECT_EQ(live.fps(LivePathway::kFast), 8.0);
  EXPECT_EQ(live.thresholds(), std::vector<double>{kLearnedThreshold});  // not the CLIP head
}

TEST(LiveGrounder, EvictsFramesOlderThanTheWindowAndRebasesTimes) {
  auto script = std::make_shared<Script>();
  LiveGrounderOptions o;
  o.window_seconds = 4;
  LiveGrounder live(scripted_pipeline(script), {"q"}, o);
  play(live, 0, 10, [](double) {});
  // Newest fast frame 9.875 s: fast frames in [5.875, 9.875] are kept (33), slow 6..9 (4).
  EXPECT_EQ(live.stats().frames_fast, 80);
  EXPECT_EQ(live.stats().frames_slow, 10);
  const pathways::VideoTokens w = live.window_tokens();
  EXPECT_EQ(w.n_fast(), 33);
  EXPECT_EQ(w.n_slow(), 4);
  EXPECT_EQ(live.stats().frames_evicted, 80 - 33 + 10 - 4);
  // The window ends one fast frame after the newest one, on a clip boundary: 3 clips of 2 s.
  EXPECT_DOUBLE_EQ(w.duration_seconds, 6.0);
  ASSERT_EQ(w.fast_pts_seconds.size(), 33u);
  EXPECT_NEAR(w.fast_pts_seconds.back(), 6.0 - 0.125, 1e-9);
  EXPECT_NEAR(w.fast_pts_seconds.front(), 6.0 - 0.125 - 4.0, 1e-9);
  EXPECT_NEAR(w.slow_pts_seconds.front(), 6.0 - 0.125 - 3.875, 1e-9);  // slow 6 s
  EXPECT_GE(w.fast_pts_seconds.front(), 0.0);
  // Shapes as the head expects them: [T, h, w, D] tokens and [T, P] embeddings.
  EXPECT_EQ(w.fast.sizes(), (std::vector<int64_t>{33, 4, 4, 64}));
  EXPECT_EQ(w.slow.size(0), 4);
  EXPECT_EQ(w.fast_embeds.sizes(), (std::vector<int64_t>{33, 32}));
}

TEST(LiveGrounder, UpdatesEveryIntervalOfStreamTimeWithTheNewestClipScore) {
  auto script = std::make_shared<Script>();
  script->score = 0.25f;
  LiveGrounderOptions o;
  o.update_every_seconds = 0.5;
  LiveGrounder live(scripted_pipeline(script), {"a", "b"}, o);
  std::vector<LiveUpdate> updates;
  play(live, 0, 10, [&](double) {
    if (auto u = live.maybe_update()) updates.push_back(*u);
  });
  ASSERT_EQ(updates.size(), 20u);  // t = 0, 0.5, ..., 9.5
  for (size_t i = 0; i < updates.size(); ++i) {
    const LiveUpdate& u = updates[i];
    EXPECT_NEAR(u.pts_seconds, 0.5 * double(i), 1e-9);
    EXPECT_NEAR(u.capture_seconds, 100 + u.pts_seconds, 1e-9);  // the newest frame's capture time
    ASSERT_EQ(u.saliency.size(), 2u);
    EXPECT_EQ(u.saliency[0], 0.25f);  // the last clip, not an older one (-1)
    EXPECT_EQ(u.active, (std::vector<bool>{false, false}));
    EXPECT_NEAR(u.window_end_seconds, u.pts_seconds + 0.125, 1e-9);
    EXPECT_GE(u.window_end_seconds - u.window_start_seconds, 2.0);
  }
  EXPECT_EQ(live.stats().updates, 20);
  EXPECT_EQ(script->calls, 40);  // the head runs once per query per update
  EXPECT_FALSE(live.maybe_update().has_value());
  auto last = live.flush();  // the end of a stream: the frames after 9.5 s still get an update
  ASSERT_TRUE(last.has_value());
  EXPECT_NEAR(last->pts_seconds, 9.875, 1e-9);
  EXPECT_FALSE(live.flush().has_value());  // nothing new since then
}

TEST(LiveGrounder, NeedsBothPathwaysBeforeTheFirstUpdate) {
  auto script = std::make_shared<Script>();
  LiveGrounder live(scripted_pipeline(script), {"q"});
  live.push(LivePathway::kFast, random_frames(4, 32), {0, 0.125, 0.25, 0.375}, {0, 0, 0, 0});
  EXPECT_FALSE(live.maybe_update().has_value());
  EXPECT_FALSE(live.flush().has_value());
  live.push(LivePathway::kSlow, random_frames(1, 32), {0.4}, {1.5});
  auto u = live.maybe_update();
  ASSERT_TRUE(u.has_value());
  EXPECT_DOUBLE_EQ(u->pts_seconds, 0.4);
  EXPECT_DOUBLE_EQ(u->capture_seconds, 1.5);  // the slow frame is the newest
}

TEST(LiveGrounder, HysteresisTurnsScoresIntoStartAndEndEvents) {
  auto script = std::make_shared<Script>();
  LiveGrounderOptions o;
  o.thresholds = {0.5};
  o.hysteresis = 0.1;
  LiveGrounder live(scripted_pipeline(script), {"q"}, o);
  const std::vector<float> scores = {0.2f, 0.55f, 0.45f, 0.41f, 0.39f, 0.6f, 0.7f};
  std::vector<std::vector<LiveEvent>> events;
  std::vector<bool> active;
  size_t k = 0;
  play(live, 0, 3.5, [&](double) {
    if (k < scores.size()) script->score = scores[k];
    if (auto u = live.maybe_update()) {
      events.push_back(u->events);
      active.push_back(u->active[0]);
      ++k;
    }
  });
  ASSERT_EQ(events.size(), scores.size());
  EXPECT_EQ(active, (std::vector<bool>{false, true, true, true, false, true, true}));
  ASSERT_EQ(events[1].size(), 1u);
  EXPECT_EQ(events[1][0].kind, Kind::kStart);
  EXPECT_DOUBLE_EQ(events[1][0].pts_seconds, 0.5);
  EXPECT_FLOAT_EQ(events[1][0].score, 0.55f);
  EXPECT_TRUE(events[2].empty() && events[3].empty());  // within threshold - hysteresis
  ASSERT_EQ(events[4].size(), 1u);
  EXPECT_EQ(events[4][0].kind, Kind::kEnd);
  EXPECT_DOUBLE_EQ(events[4][0].pts_seconds, 2.0);
  ASSERT_EQ(events[5].size(), 1u);
  EXPECT_EQ(events[5][0].kind, Kind::kStart);
  // The end of the stream closes what is still open, at the last update's pts.
  auto end = live.finish();
  ASSERT_EQ(end.size(), 1u);
  EXPECT_EQ(end[0].kind, Kind::kEnd);
  EXPECT_DOUBLE_EQ(end[0].pts_seconds, 3.0);
  EXPECT_TRUE(live.finish().empty());
}

TEST(LiveGrounder, PerQueryThresholds) {
  auto script = std::make_shared<Script>();
  script->score = 0.3f;
  LiveGrounderOptions o;
  o.thresholds = {0.2, 0.4};
  LiveGrounder live(scripted_pipeline(script), {"low", "high"}, o);
  EXPECT_EQ(live.thresholds(), (std::vector<double>{0.2, 0.4}));
  play(live, 0, 1, [](double) {});
  auto u = live.flush();
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->active, (std::vector<bool>{true, false}));
  ASSERT_EQ(u->events.size(), 1u);
  EXPECT_EQ(u->events[0].query, 0u);
}

TEST(LiveGrounder, IgnoresFramesThatGoBackInTime) {
  auto script = std::make_shared<Script>();
  LiveGrounder live(scripted_pipeline(script), {"q"});
  live.push(LivePathway::kFast, random_frames(2, 32), {1.0, 1.125}, {0, 0});
  live.push(LivePathway::kFast, random_frames(3, 32), {1.125, 0.5, 1.25}, {0, 0, 0});  // two stale
  EXPECT_EQ(live.stats().frames_fast, 3);
  EXPECT_EQ(live.stats().frames_out_of_order, 2);
}

TEST(LiveGrounder, RejectsBadInputAndOptions) {
  auto script = std::make_shared<Script>();
  auto p = scripted_pipeline(script);
  LiveGrounder live(p, {"q"});
  test::expect_error<UsageError>([&] { live.push(LivePathway::kFast, random_frames(1, 16), {0}, {0}); },
                                 {"fast", "32"});
  test::expect_error<UsageError>([&] { live.push(LivePathway::kSlow, random_frames(2, 32), {0}, {0}); },
                                 {"slow", "2 frames"});
  EXPECT_THROW(LiveGrounder(p, {}), UsageError);
  LiveGrounderOptions o;
  o.thresholds = {0.1, 0.2, 0.3};
  test::expect_error<UsageError>([&] { LiveGrounder(p, {"a", "b"}, o); }, {"3 thresholds", "2 queries"});
  o = {};
  o.window_seconds = 0;
  EXPECT_THROW(LiveGrounder(p, {"a"}, o), UsageError);
  o = {};
  o.update_every_seconds = -1;
  EXPECT_THROW(LiveGrounder(p, {"a"}, o), UsageError);
  o = {};
  o.hysteresis = -0.1;
  EXPECT_THROW(LiveGrounder(p, {"a"}, o), UsageError);
}

// The real heads: the bundled learned model scores in (0, 1) and defaults to 0.5; the
// training-free CLIP head gives cosines and defaults to kTrainingFreeThreshold.
TEST(LiveGrounder, LearnedSynthTinyModelGivesSigmoidScores) {
  auto pipeline = VideoPipeline::load(test::fixture("../../data/models/synth-tiny"), PipelineOptions{});
  LiveGrounder live(pipeline, {"the red circle moves", "a square appears"});
  EXPECT_EQ(live.thresholds(), (std::vector<double>{0.5, 0.5}));
  EXPECT_EQ(live.input_size(LivePathway::kFast), 32);  // the model's own SlowFast options
  int n = 0;
  play(live, 0, 6, [&](double) {
    if (auto u = live.maybe_update()) {
      ++n;
      ASSERT_EQ(u->saliency.size(), 2u);
      for (float s : u->saliency) {
        EXPECT_GT(s, 0.0f);
        EXPECT_LT(s, 1.0f);
      }
      EXPECT_EQ(u->active.size(), 2u);
    }
  });
  EXPECT_EQ(n, 12);
}

TEST(LiveGrounder, TrainingFreeHeadGivesCosines) {
  auto pipeline = VideoPipeline::load(test::fixture("clip_tiny"), PipelineOptions{});
  EXPECT_EQ(default_live_threshold(pipeline->head()), kTrainingFreeThreshold);
  LiveGrounder live(pipeline, {"a photo of a cat"});
  EXPECT_EQ(live.thresholds(), std::vector<double>{kTrainingFreeThreshold});
  play(live, 0, 2, [](double) {});
  auto u = live.flush();
  ASSERT_TRUE(u.has_value());
  ASSERT_EQ(u->saliency.size(), 1u);
  EXPECT_GE(u->saliency[0], -1.0f);
  EXPECT_LE(u->saliency[0], 1.0f);
}

}  // namespace
}  // namespace sfvu::grounding
