// Token budget planner (Note [Token budget]) and pathway option resolution, against counts
// computed by hand from the documented rule.
#include <gtest/gtest.h>

#include "sfvu/base/error.h"
#include "sfvu/pathways/slowfast_layout.h"
#include "sfvu/pathways/token_planner.h"
#include "support/test_support.h"

namespace sfvu::pathways {
namespace {

const ClipVisionConfig kB32 = ClipConfig::vit_b32().vision;
const ClipVisionConfig kL14 = ClipConfig::vit_l14_336().vision;

TEST(SlowFastOptions, LowInputSizeIsHalfTheGridAtLeastFourPatches) {
  EXPECT_EQ(low_input_size(kB32), 128);
  EXPECT_EQ(low_input_size(ClipConfig::vit_b16().vision), 112);
  EXPECT_EQ(low_input_size(kL14), 168);
  PathwayOptions p;
  EXPECT_EQ(resolve_input_size(p, kB32), 224);
  p.input_size = -1;
  EXPECT_EQ(resolve_input_size(p, kB32), 128);
  p.input_size = 96;
  EXPECT_EQ(resolve_input_size(p, kB32), 96);
}

TEST(SlowFastOptions, VisionFlopsCountsTokensAtTheInputSize) {
  // ViT-B/32 at 224: 49 patches + CLS, the usual 4.4 G multiply-adds = 8.8 GFLOP.
  EXPECT_NEAR(vision_flops(kB32, 512, 224) / 1e9, 8.82, 0.05);
  EXPECT_LT(vision_flops(kB32, 512, 128), vision_flops(kB32, 512, 224) / 2.5);
}

TEST(SlowFastOptions, PresetsAndValidation) {
  SlowFastOptions sf = SlowFastOptions::preset("sf-llava");
  EXPECT_TRUE(sf.sf_llava_sampling);
  EXPECT_EQ(sf.layer, -2);
  EXPECT_EQ(sf.token_budget, 0);
  EXPECT_NE(sf.describe(), SlowFastOptions::preset("default").describe());
  EXPECT_THROW(SlowFastOptions::preset("fastest"), UsageError);
  SlowFastOptions bad;
  bad.fast.fps = 0;
  EXPECT_THROW(bad.validate(), UsageError);
  bad = SlowFastOptions{};
  bad.fast.pool_h = 4;
  bad.fast.pool_w = 0;
  EXPECT_THROW(bad.validate(), UsageError);
}

TEST(TokenPlanner, ShortVideoKeepsTheWantedRates) {
  SlowFastPlan p = plan_tokens(SlowFastOptions{}, kB32, 60.0);
  EXPECT_EQ(p.slow.n_frames(), 60);
  EXPECT_EQ(p.fast.n_frames(), 480);
  EXPECT_EQ(p.slow.input_size, 224);
  EXPECT_EQ(p.fast.input_size, 128);
  EXPECT_EQ(p.slow.tokens_per_frame(), 49);
  EXPECT_EQ(p.fast.tokens_per_frame(), 16);
  EXPECT_EQ(p.total_tokens(), 10620);
  EXPECT_FALSE(p.thinned);
  EXPECT_FALSE(p.shared_frames);  // different input sizes
  EXPECT_DOUBLE_EQ(p.slow.times_seconds[7], 7.0);
  EXPECT_DOUBLE_EQ(p.fast.times_seconds[3], 3.0 / 8.0);
  EXPECT_DOUBLE_EQ(p.fast.times_seconds.back(), 479.0 / 8.0);
}

TEST(TokenPlanner, FractionalDurationRoundsFramesUp) {
  SlowFastPlan p = plan_tokens(SlowFastOptions{}, kB32, 10.5);
  EXPECT_EQ(p.slow.n_frames(), 11);  // 0..10 s
  EXPECT_EQ(p.fast.n_frames(), 84);
  EXPECT_DOUBLE_EQ(p.slow.times_seconds.back(), 10.0);
}

TEST(TokenPlanner, TenMinutesScaleBothRatesEvenly) {
  SlowFastPlan p = plan_tokens(SlowFastOptions{}, kB32, 600.0);
  EXPECT_TRUE(p.thinned);
  EXPECT_EQ(p.fast.n_frames(), 1481);  // floor(4800 * 32768 / 106200)
  EXPECT_EQ(p.slow.n_frames(), 185);   // floor((32768 - 1481 * 16) / 49)
  EXPECT_EQ(p.total_tokens(), 32761);
  EXPECT_LE(p.total_tokens(), 32768);
  EXPECT_DOUBLE_EQ(p.fast.times_seconds[1], 600.0 / 1481.0);
}

TEST(TokenPlanner, OneHourKeepsOneFastFramePerClip) {
  SlowFastPlan p = plan_tokens(SlowFastOptions{}, kB32, 3600.0);
  EXPECT_EQ(p.fast.n_frames(), 1800);
  EXPECT_EQ(p.slow.n_frames(), 80);
  EXPECT_EQ(p.total_tokens(), 28800 + 80 * 49);
  EXPECT_FALSE(p.over_budget);
}

TEST(TokenPlanner, TinyBudgetCoarsensFastPoolingThenGoesOver) {
  SlowFastOptions o;
  o.token_budget = 100;  // fast floor 30 frames: 4x4 and 2x2 leave no slow frame, 1x1 does
  SlowFastPlan p = plan_tokens(o, kB32, 60.0);
  EXPECT_EQ(p.fast.tokens_h, 1);
  EXPECT_EQ(p.fast.n_frames(), 30);
  EXPECT_EQ(p.slow.n_frames(), 1);
  EXPECT_EQ(p.total_tokens(), 79);
  EXPECT_FALSE(p.over_budget);
  o.token_budget = 50;
  p = plan_tokens(o, kB32, 60.0);
  EXPECT_TRUE(p.over_budget);
  EXPECT_EQ(p.slow.n_frames(), 1);
  EXPECT_EQ(p.total_tokens(), 79);
}

TEST(TokenPlanner, NoBudgetMeansNoLimit) {
  SlowFastOptions o;
  o.token_budget = 0;
  SlowFastPlan p = plan_tokens(o, kB32, 3600.0);
  EXPECT_EQ(p.slow.n_frames(), 3600);
  EXPECT_EQ(p.fast.n_frames(), 28800);
}

TEST(TokenPlanner, FullResolutionFastSharesTheSlowFrames) {
  SlowFastOptions o;
  o.fast.input_size = 0;
  SlowFastPlan p = plan_tokens(o, kB32, 10.0);
  ASSERT_TRUE(p.shared_frames);
  ASSERT_EQ(p.slow_positions.size(), 10u);
  EXPECT_EQ(p.slow_positions[3], 24);  // 3 s = fast frame 24 at 8 fps
}

TEST(TokenPlanner, FrameCountsUseSegmentMidpoints) {
  SlowFastOptions o;
  o.slow.n_frames = 4;
  SlowFastPlan p = plan_tokens(o, kB32, 8.0);
  ASSERT_EQ(p.slow.n_frames(), 4);
  EXPECT_DOUBLE_EQ(p.slow.times_seconds[0], 1.0);
  EXPECT_DOUBLE_EQ(p.slow.times_seconds[3], 7.0);
}

TEST(TokenPlanner, PoolingLargerThanTheGridKeepsTheGrid) {
  SlowFastOptions o;
  o.fast.pool_h = o.fast.pool_w = 8;  // the 128 px grid is 4x4
  SlowFastPlan p = plan_tokens(o, kB32, 5.0);
  EXPECT_EQ(p.fast.tokens_h, 4);
  EXPECT_EQ(p.fast.tokens_w, 4);
}

TEST(TokenPlanner, SfLlavaPresetReproducesTheReferenceLayout) {
  // 300 frames at 30 fps: indices by the SF-LLaVA formula, times = their pts.
  std::vector<decode::IndexEntry> frames;
  for (int64_t i = 0; i < 300; ++i) frames.push_back({i * 1001, i * 1001, 1001, i % 30 == 0});
  decode::FrameIndex index(frames, {}, 1, 30000);
  SlowFastPlan p = plan_tokens(SlowFastOptions::preset("sf-llava"), kL14, 10.01, &index);
  const auto idx = sf_llava_frame_indices(300, 50);
  ASSERT_EQ(p.fast.n_frames(), 50);
  EXPECT_DOUBLE_EQ(p.fast.times_seconds[17], double(idx[17]) * 1001 / 30000);
  EXPECT_TRUE(p.shared_frames);
  EXPECT_EQ(p.slow_positions, sf_llava_slow_positions(50, 10));
  EXPECT_EQ(p.slow.tokens_h, 24);
  EXPECT_EQ(p.slow.tokens_w, 12);
  EXPECT_EQ(p.fast.tokens_h, 4);
  EXPECT_EQ(p.total_tokens(), 3680);
}

TEST(TokenPlanner, ErrorsNameTheProblem) {
  test::expect_error<FormatError>([] { plan_tokens(SlowFastOptions{}, kB32, 0.0); }, {"duration"});
  test::expect_error<FormatError>([] { plan_tokens(SlowFastOptions::preset("sf-llava"), kL14, 5.0, nullptr); },
                                  {"frame index"});
  SlowFastOptions o;
  o.slow.pair_max_pool = true;  // ViT-B/32's 7x7 grid has an odd width
  test::expect_error<UsageError>([&] { plan_tokens(o, kB32, 5.0); }, {"even", "7"});
  o = SlowFastOptions{};
  o.fast.input_size = 16;
  test::expect_error<UsageError>([&] { plan_tokens(o, kB32, 5.0); }, {"fast", "16"});
}

}  // namespace
}  // namespace sfvu::pathways
