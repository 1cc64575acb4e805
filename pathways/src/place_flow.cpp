#include "sfvu/pathways/place_flow.h"

#include "sfvu/base/error.h"

namespace sfvu::pathways {

namespace F = torch::nn::functional;

namespace {
void check_frames(const torch::Tensor& frames, int64_t grid_h, int64_t grid_w, const char* who) {
  if (frames.dim() != 4 || frames.size(3) != 3 || frames.scalar_type() != torch::kUInt8 || grid_h <= 0 || grid_w <= 0)
    throw UsageError(std::string(who) + ": uint8 frames [T, H, W, 3] and a positive grid");
}
}  // namespace

torch::Tensor flow_frames(const torch::Tensor& frames, int64_t grid_h, int64_t grid_w) {
  check_frames(frames, grid_h, grid_w, "flow_frames");
  const int64_t h = kFlowPixelsPerPlace * grid_h, w = kFlowPixelsPerPlace * grid_w;
  if (frames.size(1) == h && frames.size(2) == w) return frames;
  if (frames.size(0) == 0) return torch::zeros({0, h, w, 3}, torch::kUInt8);
  torch::Tensor x = frames.permute({0, 3, 1, 2}).to(torch::kFloat32);
  x = F::interpolate(x, F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kArea));
  return x.round().clamp(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
}

// Note [Place flow]
// The fast pathway exists to see motion, but a ViT sees one frame at a time: the direction of
// a movement is only in how its tokens change, and on the synthetic benchmark a from-scratch
// backbone's tokens did not carry it (a linear probe on the timeline's tokens and their change
// told the four directions apart 41-49 % of the time on held-out moves, chance 25 %). The
// pixels do: here, per place of the token grid (8x8 pixels of the frames shrunk to 8 px per
// place), the Lucas-Kanade least-squares motion of its content between the frames before and
// after, [sum Ix^2, sum IxIy; sum IxIy, sum Iy^2] (u, v) = -(sum Ix It, sum Iy It), summed
// over the place's pixels and the three colour channels, with 1e-4 added to the diagonal so
// that a flat place (no gradient to see motion by) stays near 0. The brightness constancy it
// rests on holds for a rigid shape shifting by about a pixel a step: on the benchmark's
// 32-px fast frames a moving shape travels 0.3-0.7 px per step, and the place with the
// largest motion summed over +-4 steps pointed the queried way for 189 of 200 moves. It is a
// two-stream ConvNet's optical-flow input in its cheapest form: no learning, a few
// multiply-adds per pixel. The fast timeline reads it per place next to the tokens (with_flow
// in grounding/learned_model.h); with it the synthetic benchmark's models began to tell a
// move from the move back (README, "Which way a shape moves").
torch::Tensor place_flow(const torch::Tensor& frames, int64_t grid_h, int64_t grid_w) {
  check_frames(frames, grid_h, grid_w, "place_flow");
  torch::NoGradGuard no_grad;
  const int64_t T = frames.size(0);
  if (T < 2) return torch::zeros({T, grid_h, grid_w, 2});
  torch::Tensor x = flow_frames(frames, grid_h, grid_w).permute({0, 3, 1, 2}).to(torch::kFloat32) / 255.0;  // [T,3,h,w]
  torch::Tensor dx = torch::tensor({-0.5f, 0.f, 0.5f});
  torch::Tensor Ix = F::conv2d(F::pad(x, F::PadFuncOptions({1, 1, 0, 0}).mode(torch::kReplicate)),
                               dx.reshape({1, 1, 1, 3}).repeat({3, 1, 1, 1}), F::Conv2dFuncOptions().groups(3));
  torch::Tensor Iy = F::conv2d(F::pad(x, F::PadFuncOptions({0, 0, 1, 1}).mode(torch::kReplicate)),
                               dx.reshape({1, 1, 3, 1}).repeat({3, 1, 1, 1}), F::Conv2dFuncOptions().groups(3));
  torch::Tensor next = torch::arange(T).add(1).clamp_max(T - 1), prev = torch::arange(T).sub(1).clamp_min(0);
  torch::Tensor It = (x.index_select(0, next) - x.index_select(0, prev)) / (next - prev).to(torch::kFloat32).reshape({T, 1, 1, 1});
  auto place_sum = [&](const torch::Tensor& a) {
    return F::avg_pool2d(a.sum(1, true), F::AvgPool2dFuncOptions(kFlowPixelsPerPlace)).squeeze(1);  // [T, gh, gw]
  };
  const double eps = 1e-4;
  torch::Tensor a11 = place_sum(Ix * Ix) + eps, a12 = place_sum(Ix * Iy), a22 = place_sum(Iy * Iy) + eps;
  torch::Tensor b1 = -place_sum(Ix * It), b2 = -place_sum(Iy * It);
  torch::Tensor det = a11 * a22 - a12 * a12;
  return torch::stack({(a22 * b1 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det}, -1).contiguous();
}

}  // namespace sfvu::pathways
