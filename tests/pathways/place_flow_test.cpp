// Note [Place flow]: per-place Lucas-Kanade motion of a pathway's frames.
#include <gtest/gtest.h>

#include "sfvu/base/error.h"
#include "sfvu/pathways/place_flow.h"

namespace sfvu::pathways {
namespace {

// T frames of side `size` on flat grey, a 6x6 checkered block (at `size` / 32 scale) whose
// corner starts at (8, 12) in 32-px units and moves (dx, dy) 32-px pixels per frame.
torch::Tensor moving_block(int64_t T, int64_t size, double dx, double dy) {
  const int64_t s = size / 32;
  torch::Tensor f = torch::full({T, size, size, 3}, 100, torch::kUInt8);
  for (int64_t t = 0; t < T; ++t) {
    const int64_t x0 = int64_t(std::lround((8 + dx * double(t)) * double(s)));
    const int64_t y0 = int64_t(std::lround((12 + dy * double(t)) * double(s)));
    for (int64_t y = 0; y < 6 * s; ++y)
      for (int64_t x = 0; x < 6 * s; ++x) {
        const bool dark = ((x / s) + (y / s)) % 2 == 0;
        f[t][y0 + y][x0 + x].fill_(dark ? 20 : 240);
      }
  }
  return f;
}

// The place holding most of the block at frame t (4x4 grid of 8-px places).
torch::Tensor at_block(const torch::Tensor& flow, int64_t t, double dx, double dy) {
  const double cx = 8 + dx * double(t) + 3, cy = 12 + dy * double(t) + 3;
  return flow[t][int64_t(cy / 8)][int64_t(cx / 8)];
}

TEST(PlaceFlow, AMovingBlockMovesItsPlaceTheWayItGoes) {
  for (auto [dx, dy] : {std::pair{1.0, 0.0}, {-1.0, 0.0}, {0.0, 1.0}, {0.0, -1.0}}) {
    torch::Tensor flow = place_flow(moving_block(9, 32, dx, dy), 4, 4);
    ASSERT_EQ(flow.sizes(), (std::vector<int64_t>{9, 4, 4, 2}));
    torch::Tensor uv = at_block(flow, 4, dx, dy);
    const double u = uv[0].item<double>(), v = uv[1].item<double>();
    // The way it goes, about a pixel a frame diluted by the place's still pixels.
    EXPECT_GT(u * dx + v * dy, 0.2) << "dx " << dx << " dy " << dy << ": u " << u << " v " << v;
    EXPECT_LT(std::abs(u * dy) + std::abs(v * dx), 0.5 * (u * dx + v * dy)) << "dx " << dx << " dy " << dy;
    EXPECT_LT(flow[4][0][3].abs().max().item<double>(), 1e-3);  // a flat place far away does not move
  }
}

TEST(PlaceFlow, StillFramesHaveNoMotionAndLargerFramesAreShrunkFirst) {
  torch::Tensor still = moving_block(5, 32, 0, 0);
  EXPECT_LT(place_flow(still, 4, 4).abs().max().item<double>(), 1e-4);
  torch::Tensor big = moving_block(9, 64, 1, 0);  // 2 px a frame at 64 px, 1 px at the flow size
  EXPECT_EQ(flow_frames(big, 4, 4).sizes(), (std::vector<int64_t>{9, 32, 32, 3}));
  EXPECT_TRUE(torch::equal(flow_frames(still, 4, 4), still));
  EXPECT_GT(at_block(place_flow(big, 4, 4), 4, 1, 0)[0].item<double>(), 0.2);
  EXPECT_TRUE(torch::equal(place_flow(still.narrow(0, 0, 1), 4, 4), torch::zeros({1, 4, 4, 2})));
  EXPECT_THROW(place_flow(still.to(torch::kFloat32), 4, 4), UsageError);
  EXPECT_THROW(place_flow(still, 0, 4), UsageError);
  EXPECT_THROW(flow_frames(still.select(3, 0), 4, 4), UsageError);
}

}  // namespace
}  // namespace sfvu::pathways
