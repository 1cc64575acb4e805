// Training-free moments (moments.h): IoU, hard and linear soft NMS, and extract_moments on tiny
// hand-made curves whose z-scores and contrast scores are worked out in the comments.
#include "sfvu/grounding/moments.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "sfvu/base/error.h"

namespace {

using sfvu::grounding::extract_moments;
using sfvu::grounding::Moment;
using sfvu::grounding::MomentOptions;
using sfvu::grounding::nms;
using sfvu::grounding::soft_nms_linear;
using sfvu::grounding::temporal_iou;

constexpr double kTol = 1e-9;

void expect_window(const Moment& m, double start_seconds, double end_seconds) {
  EXPECT_NEAR(m.start_seconds, start_seconds, kTol);
  EXPECT_NEAR(m.end_seconds, end_seconds, kTol);
}

TEST(TemporalIou, DisjointNestedIdenticalTouching) {
  EXPECT_EQ(temporal_iou({0, 2, 0}, {3, 5, 0}), 0.0);
  EXPECT_NEAR(temporal_iou({0, 10, 0}, {2, 4, 0}), 0.2, kTol);  // 2 / 10
  EXPECT_NEAR(temporal_iou({2, 4, 0}, {0, 10, 0}), 0.2, kTol);  // symmetric
  EXPECT_EQ(temporal_iou({1, 3, 0}, {1, 3, 0}), 1.0);
  EXPECT_EQ(temporal_iou({0, 2, 0}, {2, 4, 0}), 0.0);           // half-open: touching is no overlap
  EXPECT_NEAR(temporal_iou({0, 4, 0}, {2, 6, 0}), 2.0 / 6.0, kTol);
}

TEST(TemporalIou, EmptyAndReversedWindowsGiveZero) {
  EXPECT_EQ(temporal_iou({1, 1, 0}, {1, 1, 0}), 0.0);
  EXPECT_EQ(temporal_iou({1, 1, 0}, {0, 2, 0}), 0.0);
  EXPECT_EQ(temporal_iou({5, 0, 0}, {0, 5, 0}), 0.0);  // reversed counts as empty
}

TEST(Nms, KeepsHighestSuppressesAboveIouKeepsExactlyAtIou) {
  std::vector<Moment> in = {
      {0, 10, 0.9},   // A
      {1, 10, 0.8},   // IoU with A 0.9 > 0.7: suppressed
      {0, 7, 0.5},    // IoU with A exactly 0.7: kept
      {20, 30, 0.95}, // best, disjoint from everything
  };
  auto out = nms(in, 0.7, 0);
  ASSERT_EQ(out.size(), 3u);
  expect_window(out[0], 20, 30);
  EXPECT_EQ(out[0].score, 0.95);
  expect_window(out[1], 0, 10);
  expect_window(out[2], 0, 7);
  EXPECT_EQ(out[2].score, 0.5);  // hard NMS leaves scores alone

  auto top2 = nms(in, 0.7, 2);
  ASSERT_EQ(top2.size(), 2u);
  expect_window(top2[1], 0, 10);
}

TEST(Nms, TiesKeepInputOrder) {
  auto out = nms({{5, 6, 1.0}, {0, 1, 1.0}, {9, 10, 2.0}}, 0.5, 0);
  ASSERT_EQ(out.size(), 3u);
  expect_window(out[0], 9, 10);
  expect_window(out[1], 5, 6);
  expect_window(out[2], 0, 1);
}

TEST(SoftNmsLinear, DecaysOverlapsByOneMinusIou) {
  // Threshold 0.3.
  // Pick A [0,10) 0.9. B [0,5): IoU 0.5 -> 0.8 * 0.5 = 0.4. C [5,10): IoU 0.5 -> 0.6 * 0.5 = 0.3.
  //   D [0,8): IoU 0.8 -> 0.7 * 0.2 = 0.14.
  // Pick B 0.4. C: IoU 0, unchanged. D: IoU 5/8 -> 0.14 * 0.375 = 0.0525.
  // Pick C 0.3. D: IoU 3/10 = 0.3, not > 0.3, unchanged. Pick D 0.0525.
  std::vector<Moment> in = {{0, 8, 0.7}, {5, 10, 0.6}, {0, 5, 0.8}, {0, 10, 0.9}};
  auto out = soft_nms_linear(in, 0.3, 0);
  ASSERT_EQ(out.size(), 4u);
  expect_window(out[0], 0, 10);
  EXPECT_NEAR(out[0].score, 0.9, kTol);
  expect_window(out[1], 0, 5);
  EXPECT_NEAR(out[1].score, 0.4, kTol);
  expect_window(out[2], 5, 10);
  EXPECT_NEAR(out[2].score, 0.3, kTol);
  expect_window(out[3], 0, 8);
  EXPECT_NEAR(out[3].score, 0.0525, kTol);

  auto top2 = soft_nms_linear(in, 0.3, 2);
  ASSERT_EQ(top2.size(), 2u);
  expect_window(top2[1], 0, 5);
}

TEST(ExtractMoments, OneBlockGivesItsWindow) {
  // Clips 3..5 high: mean 0.3, std sqrt(0.21); every level yields the run [3,6) -> [6,12) s.
  // Score = (1 - 0) / std.
  std::vector<float> s = {0, 0, 0, 1, 1, 1, 0, 0, 0, 0};
  auto out = extract_moments(s, 2.0, 20.0);
  ASSERT_EQ(out.size(), 1u);
  expect_window(out[0], 6, 12);
  EXPECT_NEAR(out[0].score, 1.0 / std::sqrt(0.21), 1e-6);
}

TEST(ExtractMoments, TwoPeaksHigherFirst) {
  // 12 clips of 1 s; clips 1,2 = 3 and 7,8 = 2. mean 10/12, var 26/12 - (10/12)^2 = 212/144.
  // z(2) = (2 - 10/12) / (sqrt(212)/12) = 0.96 < 1, so the lower peak appears at levels 0, 0.5.
  // Contrast in raw units / std: high peak (3 - 4/10), low peak (2 - 6/10).
  std::vector<float> s = {0, 3, 3, 0, 0, 0, 0, 2, 2, 0, 0, 0};
  auto out = extract_moments(s, 1.0, 12.0);
  ASSERT_EQ(out.size(), 2u);
  expect_window(out[0], 1, 3);
  EXPECT_NEAR(out[0].score, 31.2 / std::sqrt(212.0), 1e-6);
  expect_window(out[1], 7, 9);
  EXPECT_NEAR(out[1].score, 16.8 / std::sqrt(212.0), 1e-6);
}

TEST(ExtractMoments, TightPeakRanksAboveBroadPlateau) {
  // mean 0.7, std 0.9. Level 0 gives the plateau [2,7); levels >= 0.5 give the spike [4,5).
  // Plateau: (7/5 - 0) / 0.9. Spike: (3 - 4/9) / 0.9. IoU 0.2 <= 0.7, both survive.
  std::vector<float> s = {0, 0, 1, 1, 3, 1, 1, 0, 0, 0};
  auto out = extract_moments(s, 1.0, 10.0);
  ASSERT_EQ(out.size(), 2u);
  expect_window(out[0], 4, 5);
  EXPECT_NEAR(out[0].score, (3.0 - 4.0 / 9.0) / 0.9, 1e-6);
  expect_window(out[1], 2, 7);
  EXPECT_NEAR(out[1].score, 1.4 / 0.9, 1e-6);

  MomentOptions one;
  one.max_moments = 1;
  ASSERT_EQ(extract_moments(s, 1.0, 10.0, one).size(), 1u);

  MomentOptions strict_nms;
  strict_nms.nms_iou = 0.1;  // IoU 0.2 > 0.1: the plateau goes
  auto suppressed = extract_moments(s, 1.0, 10.0, strict_nms);
  ASSERT_EQ(suppressed.size(), 1u);
  expect_window(suppressed[0], 4, 5);

  MomentOptions long_only;
  long_only.min_clips = 2;  // the 1-clip spike is dropped
  auto plateau = extract_moments(s, 1.0, 10.0, long_only);
  ASSERT_EQ(plateau.size(), 1u);
  expect_window(plateau[0], 2, 7);
}

TEST(ExtractMoments, OneClipDipMerges) {
  std::vector<float> s = {0, 0, 1, 1, 0, 1, 1, 0, 0, 0};
  auto out = extract_moments(s, 1.0, 10.0);
  ASSERT_EQ(out.size(), 1u);
  expect_window(out[0], 2, 7);

  MomentOptions no_merge;
  no_merge.merge_gap_clips = 0;
  auto split = extract_moments(s, 1.0, 10.0, no_merge);
  ASSERT_EQ(split.size(), 2u);  // equal scores: earlier first
  expect_window(split[0], 2, 4);
  expect_window(split[1], 5, 7);
}

TEST(ExtractMoments, TwoClipDipDoesNotMergeWithGapOne) {
  std::vector<float> s = {0, 1, 1, 0, 0, 1, 1, 0, 0, 0};
  auto out = extract_moments(s, 1.0, 10.0);
  ASSERT_EQ(out.size(), 2u);
  expect_window(out[0], 1, 3);
  expect_window(out[1], 5, 7);
  EXPECT_NEAR(out[0].score, out[1].score, 1e-9);

  MomentOptions gap2;
  gap2.merge_gap_clips = 2;
  auto merged = extract_moments(s, 1.0, 10.0, gap2);
  ASSERT_EQ(merged.size(), 1u);
  expect_window(merged[0], 1, 7);
}

TEST(ExtractMoments, LastClipEndClampedToDuration) {
  // 9 s of 2 s clips = 5 clips, the last [8, 9). mean 0.2, std 0.4, score (1 - 0) / 0.4.
  auto out = extract_moments({0, 0, 0, 0, 1}, 2.0, 9.0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].start_seconds, 8.0);
  EXPECT_EQ(out[0].end_seconds, 9.0);
  EXPECT_NEAR(out[0].score, 2.5, 1e-6);
}

TEST(ExtractMoments, FlatCurveGivesWholeVideoScoreZero) {
  auto out = extract_moments({0.5f, 0.5f, 0.5f}, 2.0, 5.0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].start_seconds, 0.0);
  EXPECT_EQ(out[0].end_seconds, 5.0);
  EXPECT_EQ(out[0].score, 0.0);
}

TEST(ExtractMoments, EmptyCurveGivesNoMoments) {
  EXPECT_TRUE(extract_moments({}, 2.0, 10.0).empty());
  EXPECT_THROW(extract_moments({}, 0.0, 10.0), sfvu::UsageError);  // bad arguments still fail
}

TEST(ExtractMoments, ClipCountToleratesRounding) {
  // 0.3 / 0.1 is 2.9999999999999996 in double: still 3 clips. A duration computed as 3 * 0.1
  // is 0.30000000000000004, and / 0.1 gives 3.0000000000000004: still 3 clips, not 4.
  // 10 / 2 is 5, not 6.
  EXPECT_NO_THROW(extract_moments({0, 1, 0}, 0.1, 0.3));
  EXPECT_NO_THROW(extract_moments({0, 1, 0}, 0.1, 3 * 0.1));
  EXPECT_NO_THROW(extract_moments({0, 1, 0, 0, 0}, 2.0, 10.0));
  EXPECT_THROW(extract_moments({0, 1, 0, 0, 0, 0}, 2.0, 10.0), sfvu::UsageError);
}

TEST(ExtractMoments, BadInputThrowsUsageError) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_THROW(extract_moments({0, nan, 0, 0, 0}, 2.0, 9.0), sfvu::UsageError);
  EXPECT_THROW(extract_moments({0, inf, 0, 0, 0}, 2.0, 9.0), sfvu::UsageError);
  EXPECT_THROW(extract_moments({0, 1, 0, 0}, 2.0, 9.0), sfvu::UsageError);        // needs 5
  EXPECT_THROW(extract_moments({0, 1, 0, 0, 0, 0}, 2.0, 9.0), sfvu::UsageError);  // needs 5
  EXPECT_THROW(extract_moments({0, 1, 0, 0, 0}, 0.0, 9.0), sfvu::UsageError);
  EXPECT_THROW(extract_moments({0, 1, 0, 0, 0}, -2.0, 9.0), sfvu::UsageError);
  EXPECT_THROW(extract_moments({0, 1, 0, 0, 0}, 2.0, 0.0), sfvu::UsageError);

  std::vector<float> ok = {0, 1, 0, 0, 0};
  MomentOptions o;
  o.thresholds_z.clear();
  EXPECT_THROW(extract_moments(ok, 2.0, 9.0, o), sfvu::UsageError);
  o = {};
  o.merge_gap_clips = -1;
  EXPECT_THROW(extract_moments(ok, 2.0, 9.0, o), sfvu::UsageError);
  o = {};
  o.min_clips = 0;
  EXPECT_THROW(extract_moments(ok, 2.0, 9.0, o), sfvu::UsageError);
  o = {};
  o.nms_iou = 1.5;
  EXPECT_THROW(extract_moments(ok, 2.0, 9.0, o), sfvu::UsageError);
}

}  // namespace
