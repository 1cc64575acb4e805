#include "sfvu/pathways/checkpoint_io.h"

#include <set>
#include <sstream>

#include "sfvu/base/error.h"
#include "sfvu/base/log.h"

namespace sfvu::pathways {
namespace {

torch::Dtype torch_dtype(TensorDtype d) {
  switch (d) {
    case TensorDtype::kF64: return torch::kFloat64;
    case TensorDtype::kF32: return torch::kFloat32;
    case TensorDtype::kF16: return torch::kFloat16;
    case TensorDtype::kBF16: return torch::kBFloat16;
    case TensorDtype::kI64: return torch::kInt64;
    case TensorDtype::kI32: return torch::kInt32;
    case TensorDtype::kI16: return torch::kInt16;
    case TensorDtype::kI8: return torch::kInt8;
    case TensorDtype::kU8: return torch::kUInt8;
    case TensorDtype::kBool: return torch::kBool;
  }
  return torch::kFloat32;
}

TensorDtype safetensors_dtype(torch::Dtype d, const std::string& name) {
  switch (d) {
    case torch::kFloat64: return TensorDtype::kF64;
    case torch::kFloat32: return TensorDtype::kF32;
    case torch::kFloat16: return TensorDtype::kF16;
    case torch::kBFloat16: return TensorDtype::kBF16;
    case torch::kInt64: return TensorDtype::kI64;
    case torch::kInt32: return TensorDtype::kI32;
    case torch::kInt16: return TensorDtype::kI16;
    case torch::kInt8: return TensorDtype::kI8;
    case torch::kUInt8: return TensorDtype::kU8;
    case torch::kBool: return TensorDtype::kBool;
    default: throw UsageError("tensor '" + name + "': dtype not storable in safetensors");
  }
}

std::string shape_text(torch::IntArrayRef s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  return o.str() + "]";
}

bool ignored(const std::string& name, const std::vector<std::string>& suffixes) {
  for (const auto& s : suffixes)
    if (name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) return true;
  return false;
}

std::string listing(const std::vector<std::string>& names) {
  std::string out;
  const size_t kShown = 8;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kShown) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

}  // namespace

torch::Tensor to_tensor(const TensorView& view, std::shared_ptr<const SafetensorsFile> file) {
  std::vector<int64_t> shape(view.shape.begin(), view.shape.end());
  return torch::from_blob(
      const_cast<uint8_t*>(view.data), shape, [file](void*) mutable { file.reset(); },
      torch::TensorOptions().dtype(torch_dtype(view.dtype)));
}

LoadReport load_checkpoint(torch::nn::Module& module, const SafetensorsCheckpoint& checkpoint,
                           const std::vector<std::string>& ignore_suffixes) {
  LoadOptions options;
  options.ignore_suffixes = ignore_suffixes;
  return load_checkpoint(module, checkpoint, options);
}

LoadReport load_checkpoint(torch::nn::Module& module, const SafetensorsCheckpoint& checkpoint,
                           const LoadOptions& options) {
  LoadReport report;
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  const auto& ignore_suffixes = options.ignore_suffixes;
  auto load_one = [&](const std::string& param_name, torch::Tensor& target) {
    if (ignored(param_name, ignore_suffixes)) return;
    const std::string name = options.checkpoint_key ? options.checkpoint_key(param_name) : param_name;
    if (!checkpoint.contains(name)) {
      report.missing.push_back(name);
      return;
    }
    used.insert(name);
    const TensorView& view = checkpoint.tensor(name);
    std::vector<int64_t> shape(view.shape.begin(), view.shape.end());
    if (torch::IntArrayRef(shape) != target.sizes()) {
      report.mismatched.push_back(name + ": checkpoint " + shape_text(shape) + " vs model " + shape_text(target.sizes()));
      return;
    }
    target.copy_(to_tensor(view, checkpoint.file_of(name)));
  };
  for (auto& p : module.named_parameters(true)) load_one(p.key(), p.value());
  for (auto& b : module.named_buffers(true)) load_one(b.key(), b.value());
  report.used.assign(used.begin(), used.end());
  for (const std::string& name : checkpoint.names())
    if (!used.count(name) && !ignored(name, ignore_suffixes)) report.unexpected.push_back(name);
  if (!report.ok()) {
    // Name the file itself when there is one (a sharded checkpoint is named by its index).
    const std::string& where = checkpoint.files().size() == 1 ? checkpoint.files()[0]->path() : checkpoint.path();
    std::string msg = where + ": checkpoint does not fit the model:";
    if (!report.missing.empty()) msg += " missing " + listing(report.missing) + ";";
    if (!report.mismatched.empty()) msg += " wrong shape " + listing(report.mismatched) + ";";
    throw FormatError(msg);
  }
  if (options.report_unexpected && !report.unexpected.empty())
    log_message(LogLevel::kWarning, checkpoint.path() + ": ignored " + std::to_string(report.unexpected.size()) +
                                        " tensor(s) the model does not use: " + listing(report.unexpected));
  return report;
}

void save_checkpoint(const torch::nn::Module& module, const std::string& path,
                     const std::map<std::string, std::string>& metadata) {
  std::vector<torch::Tensor> keep;
  std::vector<TensorToWrite> out;
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    keep.push_back(t.detach().to(torch::kCPU).contiguous());
    const torch::Tensor& c = keep.back();
    out.push_back({name, safetensors_dtype(c.scalar_type(), name), c.sizes().vec(), c.data_ptr()});
  };
  for (const auto& p : module.named_parameters(true)) add(p.key(), p.value());
  for (const auto& b : module.named_buffers(true)) add(b.key(), b.value());
  write_safetensors(path, out, metadata);
}

}  // namespace sfvu::pathways
