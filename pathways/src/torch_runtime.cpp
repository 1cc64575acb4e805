#include "sfvu/pathways/torch_runtime.h"

#include <dlfcn.h>
#include <link.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <memory>
#include <thread>

#include "sfvu/base/log.h"

namespace sfvu::pathways {
namespace {

// Finds the loaded shared object that provides BLAS (libblas / libopenblas / libmkl).
int find_blas(struct dl_phdr_info* info, size_t, void* out) {
  std::string name = info->dlpi_name ? info->dlpi_name : "";
  std::string base = name.substr(name.find_last_of('/') + 1);
  if (base.rfind("libblas", 0) == 0 || base.rfind("libopenblas", 0) == 0 || base.rfind("libmkl_rt", 0) == 0 ||
      base.rfind("libblis", 0) == 0) {
    char resolved[PATH_MAX];
    *static_cast<std::string*>(out) = realpath(name.c_str(), resolved) ? resolved : name;
    return 1;
  }
  return 0;
}

}  // namespace

TorchRuntimeInfo configure_torch_runtime(int threads) {
  TorchRuntimeInfo info;
  info.hardware_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int wanted = threads > 0 ? threads : info.hardware_threads;
  if (torch::get_num_threads() != wanted) torch::set_num_threads(wanted);
  info.intra_op_threads = torch::get_num_threads();
  dl_iterate_phdr(find_blas, &info.blas_library);
  const std::string& b = info.blas_library;
  info.blas_is_optimized = b.find("openblas") != std::string::npos || b.find("mkl") != std::string::npos ||
                           b.find("blis") != std::string::npos;
  if (!info.blas_is_optimized && !b.empty())
    warn_once("reference-blas", "libtorch is using the reference BLAS (" + b +
                                    "): fp32 matmul is ~12x slower; install libopenblas0-pthread");
  return info;
}

int set_blas_threads(int threads) {
  using Set = void (*)(int);
  using Get = int (*)();
  auto set = reinterpret_cast<Set>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  auto get = reinterpret_cast<Get>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (!set || !get) return -1;
  const int previous = get();
  if (threads > 0 && threads != previous) set(threads);
  return previous;
}

torch::Tensor frames_to_tensor(decode::FrameBatch&& batch) {
  auto owner = std::make_shared<decode::FrameBatch>(std::move(batch));
  const int64_t n = owner->size();
  return torch::from_blob(
      owner->rgb.data(), {n, owner->height, owner->width, 3}, [owner](void*) mutable { owner.reset(); },
      torch::TensorOptions().dtype(torch::kUInt8));
}

}  // namespace sfvu::pathways
