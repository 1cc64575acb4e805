// sfvu/pathways/torch_runtime.h: libtorch process set-up, and frames as tensors.
//
// libtorch defaults to one intra-op thread on this platform and Debian's build silently
// falls back to the reference BLAS (~12x slower fp32 matmul) when OpenBLAS is missing.
// configure_torch_runtime() fixes the first and reports the second; call it once at start-up.
#pragma once

#include <string>

#include <torch/torch.h>

#include "sfvu/decode/video_reader.h"

namespace sfvu::pathways {

struct TorchRuntimeInfo {
  int intra_op_threads = 0;   ///< what libtorch now uses
  int hardware_threads = 0;   ///< std::thread::hardware_concurrency()
  std::string blas_library;   ///< resolved path of the BLAS libtorch loaded ("" if none found)
  bool blas_is_optimized = false;  ///< OpenBLAS/MKL/BLIS rather than the reference BLAS
};

/// Sets libtorch's intra-op thread count (`threads` <= 0: one per hardware thread) and
/// inspects the loaded BLAS. Warns once (through the log sink) if it is the reference BLAS.
TorchRuntimeInfo configure_torch_runtime(int threads = 0);

/// Sets OpenBLAS's own thread count (libtorch's intra-op threads do not reach it) and returns
/// the previous one (`threads` <= 0: changes nothing, only reports); -1 (and nothing changed)
/// when the loaded BLAS is not OpenBLAS. Threads
/// that each run their own forward passes (sfvu train's workers) want 1 each: OpenBLAS's
/// threads would otherwise spin against them (measured: a third of the time in sched_yield).
int set_blas_threads(int threads);

/// The frames of a batch as a uint8 tensor [T, H, W, 3] that owns the batch's buffer
/// (no copy). The batch is moved from.
torch::Tensor frames_to_tensor(decode::FrameBatch&& batch);

}  // namespace sfvu::pathways
