#include <gtest/gtest.h>

#include <thread>

#include "sfvu/pathways/torch_runtime.h"
#include "support/test_support.h"

namespace sfvu::pathways {
namespace {

TEST(TorchRuntime, ThreadsFollowHardware) {
  TorchRuntimeInfo info = configure_torch_runtime();
  EXPECT_EQ(info.hardware_threads, int(std::max(1u, std::thread::hardware_concurrency())));
  EXPECT_EQ(info.intra_op_threads, info.hardware_threads);
  EXPECT_EQ(torch::get_num_threads(), info.hardware_threads);
  info = configure_torch_runtime(1);
  EXPECT_EQ(torch::get_num_threads(), 1);
  configure_torch_runtime();
}

TEST(TorchRuntime, OptimizedBlasIsLoaded) {
  // Debian's libtorch falls back to the reference BLAS without libopenblas0-pthread (~12x
  // slower fp32 matmul). make test installs it, so this must hold on every machine.
  torch::Tensor a = torch::ones({8, 8});
  (void)torch::mm(a, a);
  TorchRuntimeInfo info = configure_torch_runtime();
  EXPECT_FALSE(info.blas_library.empty());
  EXPECT_TRUE(info.blas_is_optimized) << "BLAS in use: " << info.blas_library;
}

TEST(TorchRuntime, BlasThreadsAreSetAndRestored) {
  // sfvu train's workers run OpenBLAS on one thread each (Note [Batched steps]).
  const int before = set_blas_threads(1);
  ASSERT_GT(before, 0) << "the BLAS make test installs is OpenBLAS";
  EXPECT_EQ(set_blas_threads(0), 1);  // 0 only reports
  EXPECT_EQ(set_blas_threads(before), 1);
  EXPECT_EQ(set_blas_threads(0), before);
}

TEST(TorchRuntime, FramesToTensorSharesTheBuffer) {
  decode::VideoReader reader(decode::Source::path(test::video("bikes.mp4")));
  auto r = reader.read({{decode::SamplingPlan::uniform(3), decode::FrameFormat::square(32)}});
  decode::FrameBatch batch = std::move(r.streams[0]);
  ASSERT_EQ(batch.size(), 3);
  const uint8_t* data = batch.rgb.data();
  uint8_t px = batch.rgb[32 * 32 * 3 + 5];
  torch::Tensor t = frames_to_tensor(std::move(batch));
  EXPECT_EQ(t.sizes(), (std::vector<int64_t>{3, 32, 32, 3}));
  EXPECT_EQ(t.dtype(), torch::kUInt8);
  EXPECT_EQ(t.data_ptr<uint8_t>(), data);
  EXPECT_EQ(t[1][0][1][2].item<uint8_t>(), px);
}

}  // namespace
}  // namespace sfvu::pathways
