#include "sfvu/pathways/transformer.h"

#include <cmath>

namespace sfvu::pathways {

torch::Tensor activate(const torch::Tensor& x, Activation act) {
  switch (act) {
    case Activation::kQuickGelu:
      // Without autograd, overwrite the (temporary) input: one pass less over the MLP width.
      if (!torch::GradMode::is_enabled()) return x.mul_(torch::sigmoid(x * 1.702));
      return x * torch::sigmoid(1.702 * x);
    case Activation::kGelu: return torch::gelu(x);
    case Activation::kGeluTanh: return torch::gelu(x, "tanh");
  }
  return x;
}

AttentionImpl::AttentionImpl(int hidden_size, int num_heads)
    : num_heads_(num_heads),
      head_dim_(hidden_size / num_heads),
      scale_(1.0 / std::sqrt(double(hidden_size / num_heads))),
      q_proj(register_module("q_proj", torch::nn::Linear(hidden_size, hidden_size))),
      k_proj(register_module("k_proj", torch::nn::Linear(hidden_size, hidden_size))),
      v_proj(register_module("v_proj", torch::nn::Linear(hidden_size, hidden_size))),
      out_proj(register_module("out_proj", torch::nn::Linear(hidden_size, hidden_size))) {}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context, const torch::Tensor& mask) {
  const torch::Tensor& kv = context.defined() ? context : x;
  const int64_t B = x.size(0), Tq = x.size(1), Tk = kv.size(1);
  // [B, T, D] -> [B, H, T, hd]
  auto heads = [&](const torch::Tensor& t, int64_t T) {
    return t.view({B, T, num_heads_, head_dim_}).transpose(1, 2);
  };
  torch::Tensor q = heads(q_proj(x), Tq);
  torch::Tensor k = heads(k_proj(kv), Tk);
  torch::Tensor v = heads(v_proj(kv), Tk);
  // Scale folded into the score GEMM (the reference scales q: same numbers up to rounding).
  torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)).mul_(scale_);  // [B, H, Tq, Tk]
  if (mask.defined()) scores.add_(mask);
  torch::Tensor out = torch::matmul(torch::softmax(scores, -1), v);  // [B, H, Tq, hd]
  return out_proj(out.transpose(1, 2).reshape({B, Tq, num_heads_ * head_dim_}));
}

MlpImpl::MlpImpl(int hidden_size, int intermediate_size, Activation act)
    : act_(act),
      fc1(register_module("fc1", torch::nn::Linear(hidden_size, intermediate_size))),
      fc2(register_module("fc2", torch::nn::Linear(intermediate_size, hidden_size))) {}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) { return fc2(activate(fc1(x), act_)); }

EncoderLayerImpl::EncoderLayerImpl(int hidden_size, int intermediate_size, int num_heads, Activation act, double eps)
    : self_attn(register_module("self_attn", Attention(hidden_size, num_heads))),
      layer_norm1(register_module("layer_norm1",
                                  torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden_size}).eps(eps)))),
      layer_norm2(register_module("layer_norm2",
                                  torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden_size}).eps(eps)))),
      mlp(register_module("mlp", Mlp(hidden_size, intermediate_size, act))) {}

torch::Tensor EncoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  torch::Tensor h = x + self_attn->forward(layer_norm1(x), torch::Tensor(), mask);
  return h + mlp(layer_norm2(h));
}

EncoderImpl::EncoderImpl(const EncoderShape& s) : layers(register_module("layers", torch::nn::ModuleList())) {
  for (int i = 0; i < s.num_hidden_layers; ++i)
    layers->push_back(
        EncoderLayer(s.hidden_size, s.intermediate_size, s.num_attention_heads, s.hidden_act, s.layer_norm_eps));
}

torch::Tensor EncoderImpl::forward(torch::Tensor x, const torch::Tensor& mask, std::vector<torch::Tensor>* hidden_states) {
  if (hidden_states) hidden_states->push_back(x);
  for (const auto& layer : *layers) {
    x = layer->as<EncoderLayer>()->forward(x, mask);
    if (hidden_states) hidden_states->push_back(x);
  }
  return x;
}

}  // namespace sfvu::pathways
