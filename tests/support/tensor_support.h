// Torch helpers for tests: .npy fixtures as tensors, and golden comparison with L-inf and
// mean-abs (L1) tolerances (STYLE rule 16).
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "sfvu/pathways/tensor_io.h"

namespace sfvu::test {

inline torch::Tensor npy_tensor(const std::string& path) { return pathways::read_npy_tensor(path); }

/// |actual - expected| <= atol + rtol * |expected| everywhere, and mean |diff| <= mean_atol.
inline void expect_close(const torch::Tensor& actual, const torch::Tensor& expected, double atol, double rtol,
                         const std::string& what, double mean_atol = 1e-5) {
  ASSERT_TRUE(actual.defined()) << what << ": undefined";
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  torch::Tensor a = actual.detach().to(torch::kCPU, torch::kFloat64);
  torch::Tensor e = expected.detach().to(torch::kFloat64);
  torch::Tensor diff = (a - e).abs();
  torch::Tensor bound = atol + rtol * e.abs();
  double max_abs = diff.max().item<double>(), mean_abs = diff.mean().item<double>();
  int64_t bad = (diff > bound).sum().item<int64_t>();
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << diff.numel() << " elements out of tolerance (max abs "
                    << max_abs << ", atol " << atol << ", rtol " << rtol << ")";
  EXPECT_LE(mean_abs, mean_atol) << what << ": mean abs diff";
}

/// Smallest row-wise cosine similarity of two [N, D] tensors.
inline double min_cosine(const torch::Tensor& a, const torch::Tensor& b) {
  torch::Tensor x = a.detach().to(torch::kCPU, torch::kFloat64), y = b.detach().to(torch::kCPU, torch::kFloat64);
  return torch::cosine_similarity(x, y, 1).min().item<double>();
}

}  // namespace sfvu::test
