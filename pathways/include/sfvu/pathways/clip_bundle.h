// sfvu/pathways/clip_bundle.h: a CLIP folder loaded whole: model, tokenizer (if the folder has
// vocab.json + merges.txt), preprocessing, and a fingerprint of the weights for caches.
//
// Thread safety: immutable after load(); text_embeds() may run concurrently (call it under
// torch::NoGradGuard or let it set one, as it does).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "sfvu/pathways/clip_model.h"
#include "sfvu/pathways/clip_preprocess.h"
#include "sfvu/pathways/clip_tokenizer.h"

namespace sfvu::pathways {

/// A hash of `dir`'s absolute path, config.json text and every weights file's size and mtime:
/// changes whenever the folder's config or weights change (token cache keys).
std::string folder_fingerprint(const std::string& dir);

struct ClipBundle {
  ClipModel model{nullptr};
  std::shared_ptr<const ClipTokenizer> tokenizer;  ///< null when the folder has no vocabulary
  ClipImageProcessor processor;
  std::string dir;
  /// Changes whenever the folder's config or weights change (path, sizes, mtimes, config text).
  std::string fingerprint;

  /// Loads `dir` (config.json, model.safetensors[.index.json], optional vocab.json +
  /// merges.txt and preprocessor_config.json). Throws as ClipModelImpl::from_pretrained.
  static ClipBundle load(const std::string& dir, torch::Dtype dtype = torch::kFloat32,
                         torch::Device device = torch::kCPU);
  /// The tokenizer, or a UsageError naming the folder if it has none.
  const ClipTokenizer& require_tokenizer() const;
  /// Projected text embeddings [N, projection_dim] float32 CPU, not normalised. Texts longer
  /// than 77 tokens are truncated (EOT kept), as clip.tokenize(truncate=True).
  torch::Tensor text_embeds(const std::vector<std::string>& texts) const;
};

}  // namespace sfvu::pathways
