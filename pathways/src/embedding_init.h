// Note [Embedding init] (clip_vision.cpp): freshly constructed CLIP position and token
// embeddings start as transformers' CLIP starts them, N(0, initializer_range = 0.02).
#pragma once

#include <torch/torch.h>

namespace sfvu::pathways {

inline void init_clip_embedding(const torch::nn::Embedding& e) {
  torch::NoGradGuard no_grad;
  e->weight.normal_(0, 0.02);
}

}  // namespace sfvu::pathways
