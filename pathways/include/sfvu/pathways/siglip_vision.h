// sfvu/pathways/siglip_vision.h: SigLIP's vision tower (transformers' SiglipVisionModel), as
// LLaVA-OneVision uses it: patch conv with bias, learned positions, no CLS, pre-LN encoder
// (pathways' shared EncoderLayer with gelu_pytorch_tanh, LN eps 1e-6), post_layernorm (never
// used by LLaVA: the feature is hidden_states[-1], taken before it). No attention-pool head.
//
// Parameter paths (below "vision_model."): embeddings.patch_embedding.{weight,bias},
// embeddings.position_embedding.weight, encoder.layers.N.*, post_layernorm.*
#pragma once

#include <torch/torch.h>

#include <vector>

#include "sfvu/pathways/clip_config.h"
#include "sfvu/pathways/transformer.h"

namespace sfvu::pathways {

/// transformers' SiglipVisionConfig defaults (so a config.json diff means what it means there).
struct SiglipVisionConfig : EncoderShape {
  SiglipVisionConfig() {
    hidden_size = 768;
    intermediate_size = 3072;
    num_hidden_layers = 12;
    num_attention_heads = 12;
    hidden_act = Activation::kGeluTanh;
    layer_norm_eps = 1e-6;
  }
  int num_channels = 3;
  int image_size = 224;
  int patch_size = 16;
  bool vision_use_head = true;  ///< we never build the head (LLaVA sets false)
  int grid() const { return image_size / patch_size; }
};

// (SiglipVisionTransformer: being written, issue 9)

}  // namespace sfvu::pathways
