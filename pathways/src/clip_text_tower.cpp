// CLIP's text tower (the causal transformer). Named clip_text_tower.cpp: the tokenizer's
// text cleaning lives in text_cleaning.cpp.
#include <limits>

#include "sfvu/base/error.h"
#include "sfvu/pathways/clip_model.h"

namespace sfvu::pathways {

ClipTextEmbeddingsImpl::ClipTextEmbeddingsImpl(const ClipTextConfig& c)
    : token_embedding(register_module("token_embedding", torch::nn::Embedding(c.vocab_size, c.hidden_size))),
      position_embedding(
          register_module("position_embedding", torch::nn::Embedding(c.max_position_embeddings, c.hidden_size))) {
  // Note [Embedding init] (clip_vision.cpp): the text tower keeps torch's N(0, 1), unlike
  // transformers' CLIP; at N(0, 0.02) a from-scratch tower's outputs hardly depended on the words.
}

torch::Tensor ClipTextEmbeddingsImpl::forward(const torch::Tensor& ids) {
  const int64_t T = ids.size(1);
  return token_embedding(ids) + position_embedding->weight.slice(0, 0, T).unsqueeze(0);
}

ClipTextTransformerImpl::ClipTextTransformerImpl(const ClipTextConfig& c)
    : config_(c),
      embeddings(register_module("embeddings", ClipTextEmbeddings(c))),
      encoder(register_module("encoder", Encoder(c))),
      final_layer_norm(register_module(
          "final_layer_norm",
          torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)))) {}

TextOutput ClipTextTransformerImpl::forward(const torch::Tensor& ids_in, bool keep_hidden_states) {
  if (ids_in.dim() != 2) throw UsageError("CLIP text: token ids must be [batch, length]");
  const int64_t B = ids_in.size(0), T = ids_in.size(1);
  if (T > config_.max_position_embeddings)
    throw UsageError("CLIP text: " + std::to_string(T) + " tokens exceed the model's " +
                     std::to_string(config_.max_position_embeddings));
  const torch::Device device = final_layer_norm->weight.device();
  torch::Tensor ids = ids_in.to(device, torch::kLong);
  TextOutput out;
  torch::Tensor x = embeddings->forward(ids);  // [B, T, D]
  // Causal: position i attends to positions <= i.
  torch::Tensor mask = torch::full({T, T}, -std::numeric_limits<float>::infinity(),
                                   torch::TensorOptions().dtype(x.scalar_type()).device(device))
                           .triu(1);
  x = encoder->forward(x, mask, keep_hidden_states ? &out.hidden_states : nullptr);
  out.last_hidden_state = final_layer_norm(x);
  // transformers: eos_token_id == 2 (legacy configs) pools at argmax(ids), the first
  // <|endoftext|> since it has the largest id; otherwise at the first eos_token_id.
  out.eot_index = config_.eos_token_id == 2 ? ids.argmax(-1) : (ids == static_cast<int64_t>(config_.eos_token_id)).to(torch::kInt).argmax(-1);
  out.pooled = out.last_hidden_state.index({torch::arange(B, torch::TensorOptions().device(device)), out.eot_index});
  return out;
}

}  // namespace sfvu::pathways
