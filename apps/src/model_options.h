// Options shared by the commands that run a model (--model, --dtype, --device, --threads,
// --batch) and the loading they imply.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>

#include "cli_common.h"
#include "sfvu/pathways/clip_bundle.h"
#include "sfvu/pathways/clip_model.h"
#include "sfvu/pathways/clip_preprocess.h"
#include "sfvu/pathways/clip_tokenizer.h"
#include "sfvu/pathways/tensor_io.h"

namespace sfvu::cli {

struct ModelOptions {
  std::string model_dir;
  std::string dtype = "fp32";   ///< fp32 | bf16 | fp16
  std::string device = "cpu";   ///< cpu | cuda | cuda:N
  int threads = 0;              ///< torch intra-op threads; 0 = one per core
  int batch = 16;               ///< images per forward pass
};

void add_model_options(po::options_description& desc, bool model_required = true);
ModelOptions model_options(const po::variables_map& vm);
torch::Dtype parse_dtype(const std::string& name);
torch::Device parse_device(const std::string& name);

/// A loaded CLIP with its tokenizer (if the folder has vocab.json + merges.txt) and
/// preprocessing.
using LoadedClip = pathways::ClipBundle;
LoadedClip load_clip(const ModelOptions& options);

/// Runs the vision tower over preprocessed pixels [N, 3, H, W] in batches of `batch`,
/// returning float32 CPU tensors: projected embeddings [N, P] (layer < 0 style: `layer`
/// unset) or the hidden states of `layer` [N, T, D].
torch::Tensor image_features(LoadedClip& clip, const torch::Tensor& pixels, int batch, std::optional<int> layer);

using pathways::read_npy_tensor;
using pathways::write_npy_tensor;

/// Hidden-state index from a user's layer number: 0..L, or negative from the end.
int resolve_layer(int layer, int num_layers, const std::string& what);

}  // namespace sfvu::cli
