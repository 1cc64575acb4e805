// sfvu/pathways/slowfast_layout.h: the SlowFast token recipe's arithmetic (which frames,
// which pooling, which order), as SlowFast-LLaVA defines it (../shared/specs/slowfast_presets.md).
//
// Shapes: a "grid" is per-frame patch tokens [T, H, W, D] (CLS dropped, row-major patches).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace sfvu::pathways {

/// SF-LLaVA's frame choice: `n_sample` frames of `n_frames` at segment midpoints.
///   seg = (n_frames - 1) / n_sample; s_i = round_half_even(seg * i);
///   e_i = round_half_even(seg * (i + 1)); idx_i = (s_i + e_i) div 2
std::vector<int64_t> sf_llava_frame_indices(int64_t n_frames, int64_t n_sample = 50);

/// Positions (among `n_sample` sampled frames) of the slow frames:
/// int32(float32(numpy.linspace(0, n_sample, n_slow + 1)))[:n_slow], truncating.
std::vector<int64_t> sf_llava_slow_positions(int64_t n_sample = 50, int64_t n_slow = 10);

/// Max over horizontally adjacent token pairs (2k, 2k+1) of each row: [T, H, W, D] ->
/// [T, H, W/2, D] (W even). SF-LLaVA's slow pooling (MaxPool1d(2, 2) over row-major tokens).
torch::Tensor max_pool_pairs(const torch::Tensor& grid);

/// Adaptive average pooling to [T, out_h, out_w, D] with exact bins
/// [floor(i * H / out_h), ceil((i + 1) * H / out_h)) (bins overlap when H % out_h != 0).
torch::Tensor adaptive_avg_pool_grid(const torch::Tensor& grid, int64_t out_h, int64_t out_w);

/// All slow tokens (frame-major, row-major) then all fast tokens: [Ts*Hs*Ws + Tf*Hf*Wf, D].
torch::Tensor slowfast_tokens(const torch::Tensor& slow_grid, const torch::Tensor& fast_grid);

/// SF-LLaVA's layout from per-frame grids of all sampled frames [T, H, W, D]: slow = frames
/// at sf_llava_slow_positions(T, n_slow) max-pooled in pairs; fast = all frames pooled to
/// fast_h x fast_w. 50 frames of 24x24 with n_slow 10 and 4x4 give 2880 + 800 = 3680 tokens.
torch::Tensor sf_llava_layout(const torch::Tensor& grids, int64_t n_slow = 10, int64_t fast_h = 4,
                              int64_t fast_w = 4);

}  // namespace sfvu::pathways
