// sfvu/pathways/checkpoint_io.h: torch tensors <-> safetensors, and loading a module's
// parameters by name (STYLE rule 5: parameter names equal checkpoint keys).
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "sfvu/base/safetensors.h"

namespace sfvu::pathways {

/// A tensor over the mapped bytes of `view` (no copy), keeping `file` mapped while it lives.
/// Read-only memory: copy before writing to it.
torch::Tensor to_tensor(const TensorView& view, std::shared_ptr<const SafetensorsFile> file);

struct LoadReport {
  std::vector<std::string> missing;     ///< module parameters absent from the checkpoint
  std::vector<std::string> unexpected;  ///< checkpoint tensors no parameter wanted
  std::vector<std::string> mismatched;  ///< "name: checkpoint [a, b] vs model [c, d]"
  bool ok() const { return missing.empty() && mismatched.empty(); }
};

/// Copies every named parameter and buffer of `module` from `checkpoint` (converting dtype
/// to the parameter's). Keys matching `ignore` (e.g. "position_ids" buffers of old HF
/// checkpoints) are neither used nor reported. Throws FormatError naming the checkpoint and
/// listing the missing and mis-shaped keys when !ok(); returns the report otherwise.
LoadReport load_checkpoint(torch::nn::Module& module, const SafetensorsCheckpoint& checkpoint,
                           const std::vector<std::string>& ignore_suffixes = {"position_ids"});

/// Writes every named parameter and buffer of `module` (contiguous, on CPU) to `path`.
void save_checkpoint(const torch::nn::Module& module, const std::string& path,
                     const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace sfvu::pathways
