// The std of freshly constructed CLIP position and token embeddings (Note [Embedding init] in
// clip_vision.cpp): transformers' CLIP initializer_range.
#pragma once

namespace sfvu::pathways {

inline constexpr double kEmbeddingInitStd = 0.02;

}  // namespace sfvu::pathways
