// Unit tests of sampling.h (SamplingPlan, plan_targets, TargetCursor) and frame_index.h
// (FrameIndex on hand-built packet entries). No video files are read here.
#include "sfvu/decode/sampling.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "sfvu/base/error.h"
#include "sfvu/decode/frame_index.h"
#include "support/test_support.h"

namespace sfvu::decode {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::vector<double> times_of(const std::vector<SampleTarget>& targets) {
  std::vector<double> out;
  for (const auto& t : targets) out.push_back(t.seconds);
  return out;
}

std::vector<int64_t> slots_of(const std::vector<SampleTarget>& targets) {
  std::vector<int64_t> out;
  for (const auto& t : targets) out.push_back(t.slot);
  return out;
}

void expect_times_near(const std::vector<SampleTarget>& targets, const std::vector<double>& expected) {
  ASSERT_EQ(targets.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(targets[i].seconds, expected[i], 1e-9) << "target " << i;
  }
}

// ---------------------------------------------------------------------------------------------
// SamplingPlan::validate

TEST(SamplingPlanValidate, AcceptsSensiblePlans) {
  EXPECT_NO_THROW(SamplingPlan::all().validate());
  EXPECT_NO_THROW(SamplingPlan::at_fps(1).validate());
  EXPECT_NO_THROW(SamplingPlan::at_fps(0.25).validate());
  EXPECT_NO_THROW(SamplingPlan::uniform(16).validate());
  EXPECT_NO_THROW(SamplingPlan::uniform(1).validate());
  EXPECT_NO_THROW(SamplingPlan::at({0.0, 1.5, 1.5, 0.2}).validate());
  EXPECT_NO_THROW(SamplingPlan::at_fps(2).range(1.0, 3.0).validate());
  EXPECT_NO_THROW(SamplingPlan::uniform(4).range(0.0, kInf).validate());
}

TEST(SamplingPlanValidate, RejectsNonPositiveFps) {
  EXPECT_THROW(SamplingPlan::at_fps(0).validate(), UsageError);
  EXPECT_THROW(SamplingPlan::at_fps(-5).validate(), UsageError);
}

TEST(SamplingPlanValidate, RejectsNonPositiveCount) {
  EXPECT_THROW(SamplingPlan::uniform(0).validate(), UsageError);
  EXPECT_THROW(SamplingPlan::uniform(-3).validate(), UsageError);
}

TEST(SamplingPlanValidate, RejectsBadRanges) {
  EXPECT_THROW(SamplingPlan::all().range(5.0, 2.0).validate(), UsageError);
  EXPECT_THROW(SamplingPlan::at_fps(1).range(-1.0, 2.0).validate(), UsageError);
  EXPECT_THROW(SamplingPlan::uniform(3).range(kNaN, 2.0).validate(), UsageError);
  EXPECT_THROW(SamplingPlan::uniform(3).range(kInf, kInf).validate(), UsageError);
}

TEST(SamplingPlanValidate, RejectsBadTimestamps) {
  EXPECT_THROW(SamplingPlan::at({1.0, -0.5}).validate(), UsageError);
  EXPECT_THROW(SamplingPlan::at({kNaN}).validate(), UsageError);
  EXPECT_THROW(SamplingPlan::at({0.0, kInf}).validate(), UsageError);
}

TEST(SamplingPlanValidate, ErrorMessageSaysWhatIsWrong) {
  try {
    SamplingPlan::at_fps(-5).validate();
    FAIL() << "expected UsageError";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("fps"), std::string::npos) << e.what();
  }
}

TEST(SamplingPlanDescribe, IsNonEmptyForEveryMode) {
  EXPECT_FALSE(SamplingPlan::all().describe().empty());
  EXPECT_FALSE(SamplingPlan::at_fps(8).describe().empty());
  EXPECT_FALSE(SamplingPlan::uniform(16).describe().empty());
  EXPECT_FALSE(SamplingPlan::at({1.0}).describe().empty());
  EXPECT_NE(SamplingPlan::at_fps(8).describe(), SamplingPlan::uniform(16).describe());
}

// ---------------------------------------------------------------------------------------------
// plan_targets

TEST(PlanTargets, AllHasNoTargets) {
  EXPECT_TRUE(plan_targets(SamplingPlan::all(), 10.0).empty());
  EXPECT_TRUE(plan_targets(SamplingPlan::all().range(1.0, 2.0), 10.0).empty());
}

TEST(PlanTargets, CountIsSegmentMidpointsOverWholeVideo) {
  auto targets = plan_targets(SamplingPlan::uniform(4), 10.0);
  expect_times_near(targets, {1.25, 3.75, 6.25, 8.75});
  EXPECT_EQ(slots_of(targets), (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST(PlanTargets, CountIsSegmentMidpointsOverRange) {
  // t_k = from + (k + 0.5) * (to - from) / N
  auto targets = plan_targets(SamplingPlan::uniform(4).range(2.0, 6.0), 10.0);
  expect_times_near(targets, {2.5, 3.5, 4.5, 5.5});
  EXPECT_EQ(slots_of(targets), (std::vector<int64_t>{0, 1, 2, 3}));

  // `to` infinite: end of video; `from` set.
  targets = plan_targets(SamplingPlan::uniform(2).range(6.0, kInf), 10.0);
  expect_times_near(targets, {7.0, 9.0});
}

TEST(PlanTargets, CountWithOneSampleIsTheMiddle) {
  expect_times_near(plan_targets(SamplingPlan::uniform(1), 3.0), {1.5});
}

TEST(PlanTargets, CountMayExceedFrameCountAndKeepsEverySlot) {
  auto targets = plan_targets(SamplingPlan::uniform(16), 1.0);
  ASSERT_EQ(targets.size(), 16u);
  for (size_t k = 0; k < targets.size(); ++k) {
    EXPECT_NEAR(targets[k].seconds, (double(k) + 0.5) / 16.0, 1e-9);
    EXPECT_EQ(targets[k].slot, static_cast<int64_t>(k));
  }
}

TEST(PlanTargets, CountOnUnknownDurationNeedsFiniteTo) {
  expect_times_near(plan_targets(SamplingPlan::uniform(2).range(0.0, 4.0), -1.0), {1.0, 3.0});
  EXPECT_THROW(plan_targets(SamplingPlan::uniform(2), -1.0), sfvu::Error);
}

TEST(PlanTargets, FpsStepsFromStartAndStopsBeforeDuration) {
  // t_k = k / fps for t_k < duration (10 s at 1 fps: 0..9, not 10).
  auto targets = plan_targets(SamplingPlan::at_fps(1), 10.0);
  ASSERT_EQ(targets.size(), 10u);
  for (size_t k = 0; k < targets.size(); ++k) {
    EXPECT_NEAR(targets[k].seconds, double(k), 1e-9);
    EXPECT_EQ(targets[k].slot, static_cast<int64_t>(k));
  }
  EXPECT_EQ(plan_targets(SamplingPlan::at_fps(8), 10.0).size(), 80u);
  expect_times_near(plan_targets(SamplingPlan::at_fps(2), 3.0), {0.0, 0.5, 1.0, 1.5, 2.0, 2.5});
  // Non-integer product: 2.3 s at 2 fps -> 0, 0.5, 1, 1.5, 2.
  expect_times_near(plan_targets(SamplingPlan::at_fps(2), 2.3), {0.0, 0.5, 1.0, 1.5, 2.0});
}

TEST(PlanTargets, FpsHonoursFromAndTo) {
  // t_k = from + k / fps, t_k < to.
  expect_times_near(plan_targets(SamplingPlan::at_fps(2).range(1.0, 2.2), 10.0), {1.0, 1.5, 2.0});
  expect_times_near(plan_targets(SamplingPlan::at_fps(4).range(0.25, 1.0), 10.0), {0.25, 0.5, 0.75});
  // `to` defaults to the duration.
  expect_times_near(plan_targets(SamplingPlan::at_fps(2).range(1.0, kInf), 3.0), {1.0, 1.5, 2.0, 2.5});
  // Finite `to` works without a known duration.
  expect_times_near(plan_targets(SamplingPlan::at_fps(4).range(0.0, 1.0), -1.0), {0.0, 0.25, 0.5, 0.75});
}

TEST(PlanTargets, FpsSlotsCountFromZeroWithinTheRange) {
  auto targets = plan_targets(SamplingPlan::at_fps(1).range(3.0, 6.0), 10.0);
  EXPECT_EQ(slots_of(targets), (std::vector<int64_t>{0, 1, 2}));
}

TEST(PlanTargets, TimestampsAreSortedByTimeAndKeepRequestSlots) {
  auto targets = plan_targets(SamplingPlan::at({3.0, 1.0, 3.0, 0.5}), 10.0);
  ASSERT_EQ(targets.size(), 4u);  // duplicates kept
  expect_times_near(targets, {0.5, 1.0, 3.0, 3.0});
  EXPECT_EQ(targets[0].slot, 3);
  EXPECT_EQ(targets[1].slot, 1);
  // The two requests for 3.0 keep slots 0 and 2 (in either order).
  EXPECT_EQ(targets[2].slot + targets[3].slot, 2);
  EXPECT_NE(targets[2].slot, targets[3].slot);
}

TEST(PlanTargets, TimestampsAlreadySortedAreUnchanged) {
  auto targets = plan_targets(SamplingPlan::at({0.1, 0.2, 7.5}), 10.0);
  expect_times_near(targets, {0.1, 0.2, 7.5});
  EXPECT_EQ(slots_of(targets), (std::vector<int64_t>{0, 1, 2}));
}

TEST(PlanTargets, TimesAreNonDecreasingForEveryMode) {
  for (const SamplingPlan& plan :
       {SamplingPlan::at_fps(3), SamplingPlan::uniform(7), SamplingPlan::at({5.0, 0.0, 2.0, 9.0, 2.0})}) {
    auto t = times_of(plan_targets(plan, 10.0));
    ASSERT_FALSE(t.empty()) << plan.describe();
    for (size_t i = 1; i < t.size(); ++i) EXPECT_LE(t[i - 1], t[i]) << plan.describe();
  }
}

// ---------------------------------------------------------------------------------------------
// TargetCursor

std::vector<SampleTarget> drain(TargetCursor& cursor, size_t limit) {
  std::vector<SampleTarget> out;
  while (!cursor.done() && out.size() < limit) {
    out.push_back(cursor.peek());
    cursor.pop();
  }
  return out;
}

TEST(TargetCursor, YieldsTheSameTargetsAsPlanTargets) {
  for (const SamplingPlan& plan :
       {SamplingPlan::at_fps(2), SamplingPlan::at_fps(3).range(1.0, 4.0), SamplingPlan::uniform(5),
        SamplingPlan::uniform(3).range(2.0, 8.0), SamplingPlan::at({3.0, 1.0, 3.0})}) {
    auto expected = plan_targets(plan, 6.0);
    TargetCursor cursor(plan, 6.0);
    EXPECT_EQ(cursor.total(), static_cast<int64_t>(expected.size())) << plan.describe();
    auto got = drain(cursor, 1000);
    EXPECT_TRUE(cursor.done()) << plan.describe();
    ASSERT_EQ(got.size(), expected.size()) << plan.describe();
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_NEAR(got[i].seconds, expected[i].seconds, 1e-9) << plan.describe() << " #" << i;
      EXPECT_EQ(got[i].slot, expected[i].slot) << plan.describe() << " #" << i;
    }
  }
}

TEST(TargetCursor, BoundedFpsCountsItsTargets) {
  TargetCursor cursor(SamplingPlan::at_fps(1), 10.0);
  EXPECT_EQ(cursor.total(), 10);
  auto got = drain(cursor, 1000);
  EXPECT_EQ(got.size(), 10u);
  EXPECT_TRUE(cursor.done());
}

TEST(TargetCursor, FiniteToOnUnknownDurationIsBounded) {
  TargetCursor cursor(SamplingPlan::at_fps(5).range(0.0, 2.0), -1.0);
  EXPECT_EQ(cursor.total(), 10);
  auto got = drain(cursor, 1000);
  ASSERT_EQ(got.size(), 10u);
  EXPECT_NEAR(got.back().seconds, 1.8, 1e-9);
  EXPECT_TRUE(cursor.done());
}

TEST(TargetCursor, UnboundedLiveFpsPlanNeverEnds) {
  // Live input: duration unknown (< 0), to = infinity.
  TargetCursor cursor(SamplingPlan::at_fps(5), -1.0);
  EXPECT_EQ(cursor.total(), -1);
  auto got = drain(cursor, 500);
  ASSERT_EQ(got.size(), 500u);
  EXPECT_FALSE(cursor.done());
  for (size_t k = 0; k < got.size(); ++k) {
    EXPECT_NEAR(got[k].seconds, double(k) / 5.0, 1e-6) << k;
    EXPECT_EQ(got[k].slot, static_cast<int64_t>(k));
    if (k > 0) { EXPECT_GT(got[k].seconds, got[k - 1].seconds) << k; }
  }
}

TEST(TargetCursor, UnboundedLiveFpsPlanStartsAtFrom) {
  TargetCursor cursor(SamplingPlan::at_fps(2).range(3.0, kInf), -1.0);
  EXPECT_EQ(cursor.total(), -1);
  auto got = drain(cursor, 4);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_NEAR(got[0].seconds, 3.0, 1e-9);
  EXPECT_NEAR(got[3].seconds, 4.5, 1e-9);
}

// ---------------------------------------------------------------------------------------------
// FrameIndex on hand-built entries
//
// Time base 1/1000; frames (presentation order) at pts 1000, 1250, 1500, 2000 with durations
// 250, 250, 500, 500, keyframes at 1000 and 1500. Seconds are relative to the first pts, so
// the frames are shown on [0, 0.25), [0.25, 0.5), [0.5, 1.0), [1.0, 1.5).
FrameIndex make_index() {
  std::vector<IndexEntry> decode_order = {
      {1000, 900, 250, true},
      {1500, 1000, 500, true},
      {1250, 1100, 250, false},
      {2000, 1200, 500, false},
  };
  return FrameIndex(decode_order, {}, 1, 1000);
}

TEST(FrameIndex, DefaultIsEmpty) {
  FrameIndex index;
  EXPECT_TRUE(index.empty());
  EXPECT_EQ(index.size(), 0);
}

TEST(FrameIndex, SortsEntriesByPts) {
  FrameIndex index = make_index();
  ASSERT_EQ(index.size(), 4);
  EXPECT_FALSE(index.empty());
  EXPECT_EQ(index[0].pts, 1000);
  EXPECT_EQ(index[1].pts, 1250);
  EXPECT_EQ(index[2].pts, 1500);
  EXPECT_EQ(index[3].pts, 2000);
  EXPECT_TRUE(index[0].key);
  EXPECT_FALSE(index[1].key);
  EXPECT_TRUE(index[2].key);
  EXPECT_EQ(index.time_base_num(), 1);
  EXPECT_EQ(index.time_base_den(), 1000);
}

TEST(FrameIndex, SecondsAreRelativeToFirstPts) {
  FrameIndex index = make_index();
  EXPECT_EQ(index.first_pts(), 1000);
  EXPECT_DOUBLE_EQ(index.seconds(1000), 0.0);
  EXPECT_DOUBLE_EQ(index.seconds(1500), 0.5);
  EXPECT_DOUBLE_EQ(index.seconds(2000), 1.0);
  EXPECT_EQ(index.to_pts(0.0), 1000);
  EXPECT_EQ(index.to_pts(0.25), 1250);
  EXPECT_EQ(index.to_pts(1.0), 2000);
  EXPECT_DOUBLE_EQ(index.duration_seconds(), 1.5);  // end of last frame (2000 + 500) - 1000
}

TEST(FrameIndex, FrameAtIsTheFrameDisplayedAtT) {
  FrameIndex index = make_index();
  EXPECT_EQ(index.frame_at(-0.5), 0);    // before the first frame: first frame
  EXPECT_EQ(index.frame_at(0.0), 0);
  EXPECT_EQ(index.frame_at(0.1), 0);
  EXPECT_EQ(index.frame_at(0.2499), 0);
  EXPECT_EQ(index.frame_at(0.25), 1);    // pts <= t
  EXPECT_EQ(index.frame_at(0.4999), 1);
  EXPECT_EQ(index.frame_at(0.5), 2);
  EXPECT_EQ(index.frame_at(0.99), 2);
  EXPECT_EQ(index.frame_at(1.0), 3);
  EXPECT_EQ(index.frame_at(1.4999), 3);
  EXPECT_EQ(index.frame_at(1.5), -1);    // at the end: nothing
  EXPECT_EQ(index.frame_at(10.0), -1);
}

TEST(FrameIndex, FrameForPts) {
  FrameIndex index = make_index();
  EXPECT_EQ(index.frame_for_pts(1250), 1);
  EXPECT_EQ(index.frame_for_pts(1300), 1);
  EXPECT_EQ(index.frame_for_pts(1500), 2);
  EXPECT_EQ(index.frame_for_pts(500), 0);
  EXPECT_EQ(index.frame_for_pts(99999), 3);
}

TEST(FrameIndex, KeyframeForIsTheKeyframeAtOrBefore) {
  FrameIndex index = make_index();
  EXPECT_EQ(index.n_keyframes(), 2);
  EXPECT_EQ(index.keyframe_for(0).pts, 1000);
  EXPECT_EQ(index.keyframe_for(1).pts, 1000);
  EXPECT_EQ(index.keyframe_for(2).pts, 1500);
  EXPECT_EQ(index.keyframe_for(3).pts, 1500);
  EXPECT_TRUE(index.keyframe_for(3).key);
  EXPECT_EQ(index.keyframe_frames(), (std::vector<int64_t>{0, 2}));

  const IndexEntry* before = index.keyframe_before(index.keyframe_for(3));
  ASSERT_NE(before, nullptr);
  EXPECT_EQ(before->pts, 1000);
  EXPECT_EQ(index.keyframe_before(index.keyframe_for(0)), nullptr);
}

// Like discard_first_keyframe.mp4: an edit list trims the leading GOP, whose keyframe is
// needed to decode the first kept frames (open GOP). Discarded packets are not frames, but
// their keyframes stay seek points.
FrameIndex make_index_with_discarded_gop() {
  std::vector<IndexEntry> frames = {
      {250, 100, 250, false},
      {0, 0, 250, false},
      {750, 600, 250, false},
      {500, 300, 250, true},
  };
  std::vector<IndexEntry> discarded = {
      {-500, -800, 250, true},
      {-250, -600, 250, false},
  };
  return FrameIndex(frames, discarded, 1, 1000);
}

TEST(FrameIndex, DiscardedPacketsAreNotFrames) {
  FrameIndex index = make_index_with_discarded_gop();
  ASSERT_EQ(index.size(), 4);
  EXPECT_EQ(index[0].pts, 0);
  EXPECT_EQ(index[3].pts, 750);
  EXPECT_EQ(index.first_pts(), 0);
  EXPECT_DOUBLE_EQ(index.duration_seconds(), 1.0);
  EXPECT_EQ(index.frame_at(0.0), 0);
  EXPECT_EQ(index.frame_at(0.6), 2);
}

TEST(FrameIndex, DiscardedKeyframesAreKeptForSeeking) {
  FrameIndex index = make_index_with_discarded_gop();
  EXPECT_EQ(index.n_keyframes(), 2);
  // Frames 0 and 1 come before the first kept keyframe: decode from the discarded one.
  EXPECT_EQ(index.keyframe_for(0).pts, -500);
  EXPECT_EQ(index.keyframe_for(1).pts, -500);
  EXPECT_EQ(index.keyframe_for(2).pts, 500);
  EXPECT_EQ(index.keyframe_for(3).pts, 500);
  // Only kept frames are listed as keyframe frames.
  EXPECT_EQ(index.keyframe_frames(), (std::vector<int64_t>{2}));
  const IndexEntry* before = index.keyframe_before(index.keyframe_for(2));
  ASSERT_NE(before, nullptr);
  EXPECT_EQ(before->pts, -500);
}

TEST(FrameIndex, SecondsWithNonUnitTimeBaseNumerator) {
  // 1001/30000 time base, first pts 5: pts 5 + 30 is 30 * 1001 / 30000 = 1.001 s later.
  std::vector<IndexEntry> frames;
  for (int i = 0; i < 40; ++i) frames.push_back({5 + i, 5 + i, 1, i == 0});
  FrameIndex index(frames, {}, 1001, 30000);
  EXPECT_EQ(index.first_pts(), 5);
  EXPECT_NEAR(index.seconds(35), 1.001, 1e-12);
  EXPECT_NEAR(index.duration_seconds(), 40 * 1001.0 / 30000.0, 1e-12);
  EXPECT_EQ(index.frame_at(1.0), 29);  // frame 30 starts at 1.001
  EXPECT_EQ(index.frame_at(1.002), 30);
}

}  // namespace
}  // namespace sfvu::decode
