// SlowFast-LLaVA's token recipe: frame indices (banker's rounding), slow positions (float32
// linspace truncation), pair max-pooling, exact-bin adaptive pooling, and the layout against
// the reference's own output (tests/fixtures/sf_llava, from prepare_slowfast).
#include <gtest/gtest.h>

#include "sfvu/base/error.h"
#include "sfvu/pathways/slowfast_layout.h"
#include "support/tensor_support.h"
#include "support/test_support.h"

namespace sfvu::pathways {
namespace {

TEST(SfLlavaFrames, SegmentMidpointsWithBankersRounding) {
  // seg = 10/4 = 2.5: round(2.5) = 2 and round(7.5) = 8 (half to even). Round-half-away
  // would give 3 and 8, i.e. [1, 4, 6, 9].
  EXPECT_EQ(sf_llava_frame_indices(11, 4), (std::vector<int64_t>{1, 3, 6, 9}));
  // 250 frames, 50 samples: seg = 4.98.
  std::vector<int64_t> idx = sf_llava_frame_indices(250, 50);
  ASSERT_EQ(idx.size(), 50u);
  EXPECT_EQ(idx[0], 2);    // (0 + 5) / 2
  EXPECT_EQ(idx[1], 7);    // (5 + 10) / 2
  EXPECT_EQ(idx[49], 246);  // (round(244.02) + round(249)) / 2 = (244 + 249) / 2
  // Fewer frames than samples: indices repeat, never leave the video.
  for (int64_t i : sf_llava_frame_indices(7, 50)) EXPECT_TRUE(i >= 0 && i < 7);
  EXPECT_THROW(sf_llava_frame_indices(0, 50), UsageError);
}

TEST(SfLlavaFrames, SlowPositionsTruncateFloat32Linspace) {
  EXPECT_EQ(sf_llava_slow_positions(50, 10), (std::vector<int64_t>{0, 5, 10, 15, 20, 25, 30, 35, 40, 45}));
  EXPECT_EQ(sf_llava_slow_positions(10, 3), (std::vector<int64_t>{0, 3, 6}));  // 3.33, 6.67 truncated
  torch::Tensor ref = test::npy_tensor(test::fixture("sf_llava/slow_frame_idx.npy"));
  std::vector<int64_t> expected(ref.data_ptr<int64_t>(), ref.data_ptr<int64_t>() + ref.numel());
  EXPECT_EQ(sf_llava_slow_positions(4, 2), expected);  // [0, 2]
}

TEST(SlowFastPooling, MaxPoolPairsIsRowWise) {
  // One frame, 2x4 grid, D = 1: values 0..7 row-major.
  torch::Tensor g = torch::arange(8, torch::kFloat32).view({1, 2, 4, 1});
  torch::Tensor p = max_pool_pairs(g);
  EXPECT_EQ(p.sizes(), (std::vector<int64_t>{1, 2, 2, 1}));
  EXPECT_TRUE(torch::equal(p.flatten(), torch::tensor({1.f, 3.f, 5.f, 7.f})));
  EXPECT_THROW(max_pool_pairs(torch::zeros({1, 2, 3, 1})), UsageError);
}

TEST(SlowFastPooling, AdaptiveAvgPoolUsesOverlappingExactBins) {
  // 6 -> 4: bins [0,2), [1,3), [3,5), [4,6) on each axis.
  torch::Tensor g = torch::arange(36, torch::kFloat32).view({1, 6, 6, 1});
  torch::Tensor p = adaptive_avg_pool_grid(g, 4, 4);
  EXPECT_EQ(p.sizes(), (std::vector<int64_t>{1, 4, 4, 1}));
  // Cell (1, 2): rows 1..2, cols 3..4 -> (9 + 10 + 15 + 16) / 4 = 12.5
  EXPECT_FLOAT_EQ(p[0][1][2][0].item<float>(), 12.5f);
  // Cell (0, 0): rows 0..1, cols 0..1 -> (0 + 1 + 6 + 7) / 4 = 3.5
  EXPECT_FLOAT_EQ(p[0][0][0][0].item<float>(), 3.5f);
  // 24 -> 4 has disjoint bins of 6.
  EXPECT_FLOAT_EQ(adaptive_avg_pool_grid(torch::ones({2, 24, 24, 3}), 4, 4).sum().item<float>(), 2 * 16 * 3);
}

TEST(SfLlavaLayout, MatchesTheReferencePrepareSlowfast) {
  // Reference: 4 frames of a 6x6 grid, 64-d; slow = frames [0, 2] pair-pooled (18 each),
  // fast = all 4 pooled to 4x4 (16 each): 36 + 64 = 100 tokens.
  torch::Tensor frames = test::npy_tensor(test::fixture("sf_llava/frame_embeds.npy"));  // [4, 36, 64]
  torch::Tensor tokens = sf_llava_layout(frames.view({4, 6, 6, 64}), 2, 4, 4);
  test::expect_close(tokens, test::npy_tensor(test::fixture("sf_llava/slowfast_embeds.npy")), 1e-6, 1e-6,
                     "slowfast_embeds");
}

TEST(SfLlavaLayout, PresetHas3680Tokens) {
  torch::Tensor grids = torch::randn({50, 24, 24, 8});
  torch::Tensor tokens = sf_llava_layout(grids);
  EXPECT_EQ(tokens.sizes(), (std::vector<int64_t>{3680, 8}));
  // The first slow token is the max of frame 0's first two patches; the fast block starts at 2880.
  EXPECT_TRUE(torch::equal(tokens[0], torch::max(grids[0][0][0], grids[0][0][1])));
  EXPECT_TRUE(torch::allclose(tokens[2880], grids[0].slice(0, 0, 6).slice(1, 0, 6).mean(std::vector<int64_t>{0, 1})));
}

}  // namespace
}  // namespace sfvu::pathways
