// sfvu/pathways/tensor_io.h: .npy files as torch tensors (fixtures, features, embeddings).
#pragma once

#include <torch/torch.h>

#include <string>

#include "sfvu/base/npy.h"

namespace sfvu::pathways {

/// An NpyArray's bytes as a tensor of the matching dtype (copied).
torch::Tensor to_tensor(const NpyArray& array);
/// read_npy + to_tensor. Throws IoError / FormatError naming the file.
torch::Tensor read_npy_tensor(const std::string& path);
/// Writes `t` (moved to CPU, contiguous) as .npy; float32, float64, int64, int32, uint8 are
/// kept, other dtypes are written as float32. Throws IoError naming the file.
void write_npy_tensor(const std::string& path, const torch::Tensor& t);

}  // namespace sfvu::pathways
