#include "sfvu/pathways/slowfast_layout.h"

#include <cmath>

#include "sfvu/base/error.h"

namespace sfvu::pathways {
namespace {

void check_grid(const torch::Tensor& g, const char* what) {
  if (g.dim() != 4) throw UsageError(std::string(what) + ": expected a [T, H, W, D] token grid");
}

}  // namespace

std::vector<int64_t> sf_llava_frame_indices(int64_t n_frames, int64_t n_sample) {
  if (n_frames <= 0 || n_sample <= 0) throw UsageError("frame sampling: counts must be > 0");
  const double seg = double(n_frames - 1) / double(n_sample);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < n_sample; ++i) {
    // std::nearbyint in the default rounding mode: half to even, as Python's round().
    const int64_t s = static_cast<int64_t>(std::nearbyint(seg * double(i)));
    const int64_t e = static_cast<int64_t>(std::nearbyint(seg * double(i + 1)));
    out.push_back((s + e) / 2);  // both >= 0: division is floor
  }
  return out;
}

std::vector<int64_t> sf_llava_slow_positions(int64_t n_sample, int64_t n_slow) {
  if (n_slow <= 0 || n_slow > n_sample) throw UsageError("slow frames: need 0 < n_slow <= n_sample");
  // numpy.linspace: start + k * step in float64, then the float32 cast, then int32 truncation.
  const double step = double(n_sample) / double(n_slow);
  std::vector<int64_t> out;
  for (int64_t k = 0; k < n_slow; ++k) out.push_back(static_cast<int64_t>(static_cast<float>(double(k) * step)));
  return out;
}

torch::Tensor max_pool_pairs(const torch::Tensor& grid) {
  check_grid(grid, "max_pool_pairs");
  const int64_t T = grid.size(0), H = grid.size(1), W = grid.size(2), D = grid.size(3);
  if (W % 2 != 0) throw UsageError("max_pool_pairs: grid width " + std::to_string(W) + " is odd");
  return std::get<0>(grid.reshape({T, H, W / 2, 2, D}).max(3));
}

torch::Tensor adaptive_avg_pool_grid(const torch::Tensor& grid, int64_t out_h, int64_t out_w) {
  check_grid(grid, "adaptive_avg_pool_grid");
  // torch's adaptive pooling uses exactly the bins [floor(i*H/o), ceil((i+1)*H/o)).
  torch::Tensor x = grid.permute({0, 3, 1, 2});  // [T, D, H, W]
  return torch::adaptive_avg_pool2d(x, {out_h, out_w}).permute({0, 2, 3, 1}).contiguous();
}

torch::Tensor slowfast_tokens(const torch::Tensor& slow_grid, const torch::Tensor& fast_grid) {
  check_grid(slow_grid, "slowfast_tokens (slow)");
  check_grid(fast_grid, "slowfast_tokens (fast)");
  const int64_t D = slow_grid.size(3);
  if (fast_grid.size(3) != D) throw UsageError("slowfast_tokens: slow and fast token widths differ");
  return torch::cat({slow_grid.reshape({-1, D}), fast_grid.reshape({-1, D})}, 0);
}

torch::Tensor sf_llava_layout(const torch::Tensor& grids, int64_t n_slow, int64_t fast_h, int64_t fast_w) {
  check_grid(grids, "sf_llava_layout");
  std::vector<int64_t> pos = sf_llava_slow_positions(grids.size(0), n_slow);
  torch::Tensor slow = grids.index_select(0, torch::tensor(pos, torch::kLong).to(grids.device()));
  return slowfast_tokens(max_pool_pairs(slow), adaptive_avg_pool_grid(grids, fast_h, fast_w));
}

}  // namespace sfvu::pathways
