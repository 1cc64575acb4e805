#include "sfvu/pathways/tensor_io.h"

namespace sfvu::pathways {

torch::Tensor to_tensor(const NpyArray& a) {
  torch::Dtype dt = torch::kFloat32;
  switch (a.dtype) {
    case NpyDtype::kUint8: dt = torch::kUInt8; break;
    case NpyDtype::kInt32: dt = torch::kInt32; break;
    case NpyDtype::kInt64: dt = torch::kInt64; break;
    case NpyDtype::kFloat16: dt = torch::kFloat16; break;
    case NpyDtype::kFloat32: dt = torch::kFloat32; break;
    case NpyDtype::kFloat64: dt = torch::kFloat64; break;
  }
  return torch::from_blob(const_cast<uint8_t*>(a.data.data()), a.shape, torch::TensorOptions().dtype(dt)).clone();
}

torch::Tensor read_npy_tensor(const std::string& path) { return to_tensor(read_npy(path)); }

void write_npy_tensor(const std::string& path, const torch::Tensor& t) {
  torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
  NpyDtype dt;
  switch (c.scalar_type()) {
    case torch::kFloat64: dt = NpyDtype::kFloat64; break;
    case torch::kInt64: dt = NpyDtype::kInt64; break;
    case torch::kInt32: dt = NpyDtype::kInt32; break;
    case torch::kUInt8: dt = NpyDtype::kUint8; break;
    case torch::kFloat32: dt = NpyDtype::kFloat32; break;
    default:
      c = c.to(torch::kFloat32);
      dt = NpyDtype::kFloat32;
  }
  write_npy(path, dt, c.sizes().vec(), c.data_ptr());
}

}  // namespace sfvu::pathways
