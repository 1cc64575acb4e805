// sfvu/pathways/checkpoint_io.h: torch tensors <-> safetensors, and loading a module's
// parameters by name (STYLE rule 5: parameter names equal checkpoint keys).
#pragma once

#include <torch/torch.h>

#include <functional>
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
  std::vector<std::string> used;        ///< checkpoint keys that were loaded
  bool ok() const { return missing.empty() && mismatched.empty(); }
};

/// Copies every named parameter and buffer of `module` from `checkpoint` (converting dtype
/// to the parameter's). Keys matching `ignore` (e.g. "position_ids" buffers of old HF
/// checkpoints) are neither used nor reported. Throws FormatError naming the checkpoint and
/// listing the missing and mis-shaped keys when !ok(); returns the report otherwise.
LoadReport load_checkpoint(torch::nn::Module& module, const SafetensorsCheckpoint& checkpoint,
                           const std::vector<std::string>& ignore_suffixes = {"position_ids"});

struct LoadOptions {
  /// Names ending in one of these are neither loaded nor reported.
  std::vector<std::string> ignore_suffixes = {"position_ids"};
  /// The checkpoint key of a module parameter name (identity when empty): a prefix, or a
  /// tensor-name layout rename (LLaVA's old `language_model.model.*` vs new `model.language_model.*`).
  std::function<std::string(const std::string&)> checkpoint_key;
  /// Checkpoint tensors no parameter wanted: logged when true; when false the caller (a model
  /// loaded in parts) checks report.used itself.
  bool report_unexpected = true;
};

/// load_checkpoint with a key mapping (see LoadOptions).
LoadReport load_checkpoint(torch::nn::Module& module, const SafetensorsCheckpoint& checkpoint,
                           const LoadOptions& options);

/// Writes every named parameter and buffer of `module` (contiguous, on CPU) to `path`.
void save_checkpoint(const torch::nn::Module& module, const std::string& path,
                     const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace sfvu::pathways
