#include "sfvu/fusion/llm_decoder.h"

#include <string>

#include "llm_layers.h"
#include "sfvu/base/error.h"

namespace sfvu::fusion {
namespace {

std::string shape_string(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

}  // namespace

KvCache::KvCache(const LlmConfig& config, int64_t capacity_tokens, torch::Dtype dtype, torch::Device device)
    : capacity_(capacity_tokens) {
  if (capacity_tokens <= 0)
    throw UsageError("KV cache capacity must be positive (got " + std::to_string(capacity_tokens) + " tokens)");
  const auto options = torch::TensorOptions().dtype(dtype).device(device);
  for (int l = 0; l < config.num_hidden_layers; ++l) {
    // Uninitialised: only positions < length() are ever read.
    keys_.push_back(torch::empty({config.num_key_value_heads, capacity_tokens, config.head_dim()}, options));
    values_.push_back(torch::empty({config.num_key_value_heads, capacity_tokens, config.head_dim()}, options));
  }
}

size_t KvCache::bytes() const {
  size_t total = 0;
  for (size_t l = 0; l < keys_.size(); ++l) total += keys_[l].nbytes() + values_[l].nbytes();
  return total;
}

void KvCache::truncate(int64_t n) {
  if (n < 0 || n > length_)
    throw UsageError("KV cache truncate(" + std::to_string(n) + "): the cache holds " + std::to_string(length_) +
                     " positions");
  length_ = n;
}

void KvCache::advance(int64_t n) {
  if (n < 0 || length_ + n > capacity_)
    throw UsageError("KV cache full: " + std::to_string(length_) + " + " + std::to_string(n) + " positions exceed its " +
                     std::to_string(capacity_) + "-token capacity");
  length_ += n;
}

struct LlmForCausalLMImpl::Impl {
  std::shared_ptr<detail::LlmModelImpl> model;
  detail::LlmLinear lm_head{nullptr};  // null when tied to model.embed_tokens
  torch::Tensor inv_freq;              // float32 [head_dim / 2], CPU
  int64_t chunk_rows = 0;

  const torch::Tensor& head_weight() const { return lm_head ? lm_head->weight : model->embed_tokens->weight; }
};

LlmForCausalLMImpl::LlmForCausalLMImpl(const LlmConfig& config, torch::Dtype dtype)
    : config_(config), impl_(std::make_shared<Impl>()) {
  impl_->model = register_module("model", std::make_shared<detail::LlmModelImpl>(config, dtype));
  if (!config.tie_word_embeddings)
    impl_->lm_head = register_module("lm_head", detail::LlmLinear(config.hidden_size, config.vocab_size, false, dtype));
  impl_->inv_freq = detail::rope_inv_freq(config);
}

torch::Dtype LlmForCausalLMImpl::dtype() const {
  return impl_->model->embed_tokens->weight.scalar_type();
}

void LlmForCausalLMImpl::set_attention_chunk_rows(int64_t rows) {
  if (rows < 0) throw UsageError("attention chunk rows must not be negative (got " + std::to_string(rows) + ")");
  impl_->chunk_rows = rows;
}

torch::Tensor LlmForCausalLMImpl::embed(const torch::Tensor& ids) {
  torch::NoGradGuard no_grad;
  if (ids.dim() != 1 || ids.is_floating_point())
    throw UsageError("LLM embed: expected integer token ids [T], got " + shape_string(ids));
  const torch::Tensor& table = impl_->model->embed_tokens->weight;
  torch::Tensor index = ids.to(table.device(), torch::kLong);
  if (index.numel() > 0) {
    const int64_t lo = index.min().item<int64_t>(), hi = index.max().item<int64_t>();
    if (lo < 0 || hi >= config_.vocab_size)
      throw UsageError("LLM embed: token id " + std::to_string(lo < 0 ? lo : hi) + " is outside the vocabulary [0, " +
                       std::to_string(config_.vocab_size) + ")");
  }
  return table.index_select(0, index);
}

torch::Tensor LlmForCausalLMImpl::forward(const torch::Tensor& embeds, KvCache& cache,
                                          std::vector<torch::Tensor>* hidden_states) {
  torch::NoGradGuard no_grad;
  const torch::Tensor& table = impl_->model->embed_tokens->weight;
  if (embeds.dim() != 2 || embeds.size(1) != config_.hidden_size || embeds.size(0) == 0)
    throw UsageError("LLM forward: expected embeddings [T, " + std::to_string(config_.hidden_size) + "], got " +
                     shape_string(embeds));
  const int64_t T = embeds.size(0), past = cache.length();
  if (cache.num_layers() != config_.num_hidden_layers || cache.keys(0).size(0) != config_.num_key_value_heads ||
      cache.keys(0).size(2) != config_.head_dim())
    throw UsageError("LLM forward: the KV cache (" + std::to_string(cache.num_layers()) + " layers of " +
                     shape_string(cache.keys(0)) + ") was not made for this model");
  if (cache.keys(0).scalar_type() != table.scalar_type() || cache.keys(0).device() != table.device())
    throw UsageError(std::string("LLM forward: the KV cache is ") + c10::toString(cache.keys(0).scalar_type()) +
                     " on " + cache.keys(0).device().str() + ", the model " + c10::toString(table.scalar_type()) +
                     " on " + table.device().str());
  if (past + T > cache.capacity())
    throw UsageError("KV cache full: " + std::to_string(past) + " + " + std::to_string(T) + " positions exceed its " +
                     std::to_string(cache.capacity()) + "-token capacity");

  detail::RopeTables rope =
      detail::rope_tables(config_, impl_->inv_freq, past, T, table.scalar_type(), table.device());
  torch::Tensor x = embeds.to(table.device(), table.scalar_type());
  if (hidden_states) hidden_states->assign(1, x);
  auto& layers = impl_->model->layers;
  for (size_t l = 0; l < layers.size(); ++l) {
    const int layer = static_cast<int>(l);
    x = layers[l]->forward(x, rope, detail::LayerCache{cache.keys(layer), cache.values(layer), past},
                           impl_->chunk_rows);
    if (hidden_states) hidden_states->push_back(x);
  }
  cache.advance(T);
  x = impl_->model->norm(x);
  if (hidden_states) hidden_states->back() = x;  // transformers' last hidden state is post-norm
  return x;
}

torch::Tensor LlmForCausalLMImpl::logits(const torch::Tensor& hidden) {
  torch::NoGradGuard no_grad;
  const torch::Tensor& weight = impl_->head_weight();
  if (hidden.dim() != 2 || hidden.size(1) != config_.hidden_size)
    throw UsageError("LLM logits: expected hidden states [T, " + std::to_string(config_.hidden_size) + "], got " +
                     shape_string(hidden));
  return detail::linear_rows(hidden.to(weight.scalar_type()), weight, torch::Tensor()).to(torch::kFloat);
}

}  // namespace sfvu::fusion
