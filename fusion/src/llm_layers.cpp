#include "llm_layers.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace sfvu::fusion::detail {
namespace {

torch::Tensor arange_exponents(int64_t dim) {
  // transformers: arange(0, dim, 2, int64).float() / dim
  return torch::arange(0, dim, 2, torch::kLong).to(torch::kFloat) / dim;
}

// Note [Dynamic NTK RoPE]
// transformers' "dynamic" rope_type recomputes inv_freq on every forward whose largest
// position + 1 (seq_len) exceeds max_position_embeddings, with
//   base' = base * (factor * seq_len / max_pos - (factor - 1)) ^ (dim / (dim - 2))
// evaluated on float32 tensors (seq_len is a tensor there), and applies it to that forward's
// tokens only: keys already in the cache keep the rotation they were stored with. It goes back
// to the original inv_freq when seq_len drops below max_pos again. Since positions only grow
// within a generation, computing the frequencies from (first + count) alone, without state,
// gives the same numbers and keeps the model immutable (shareable across threads). The
// llava_tiny `slowfast_dynrope` fixture pins this: its step logits differ from a no-cache
// recomputation.
torch::Tensor dynamic_inv_freq(const LlmConfig& config, int64_t seq_len) {
  const int64_t dim = config.head_dim();
  const double factor = config.rope_scaling.factor;
  torch::Tensor ratio = torch::scalar_tensor(seq_len, torch::kLong) * factor / config.max_position_embeddings;
  torch::Tensor base = torch::pow(ratio - (factor - 1.0), double(dim) / double(dim - 2)) * config.rope_theta;
  return torch::reciprocal(torch::pow(base, arange_exponents(dim)));
}

// transformers' apply_rotary_pos_emb: x * cos + rotate_half(x) * sin, rotate_half(x) =
// cat(-x2, x1) (halves, not interleaved pairs). x [T, heads, hd]; cos/sin [T, hd].
torch::Tensor apply_rope(const torch::Tensor& x, const RopeTables& rope) {
  const int64_t half = x.size(-1) / 2;
  torch::Tensor rotated = torch::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
  return x * rope.cos.unsqueeze(1) + rotated * rope.sin.unsqueeze(1);
}

}  // namespace

torch::Tensor rope_inv_freq(const LlmConfig& config) {
  torch::Tensor inv_freq = torch::reciprocal(torch::pow(config.rope_theta, arange_exponents(config.head_dim())));
  // transformers >= 4.43 divides inv_freq (not the positions) by the linear factor.
  if (config.rope_scaling.kind == RopeScaling::Kind::kLinear) inv_freq /= config.rope_scaling.factor;
  return inv_freq;
}

RopeTables rope_tables(const LlmConfig& config, const torch::Tensor& default_inv_freq, int64_t first, int64_t count,
                       torch::Dtype dtype, torch::Device device) {
  const int64_t seq_len = first + count;
  torch::Tensor inv_freq = default_inv_freq;
  if (config.rope_scaling.kind == RopeScaling::Kind::kDynamic && seq_len > config.max_position_embeddings)
    inv_freq = dynamic_inv_freq(config, seq_len);
  // cos/sin in float32 whatever the model dtype (transformers disables autocast here).
  torch::Tensor positions = torch::arange(first, seq_len, torch::kLong).to(torch::kFloat);
  torch::Tensor freqs = torch::outer(positions, inv_freq);  // [T, hd / 2]
  torch::Tensor angles = torch::cat({freqs, freqs}, -1);    // [T, hd]
  return {angles.cos().to(device, dtype), angles.sin().to(device, dtype)};
}

// Note [Decode GEMV]
// A decode step multiplies one row by every weight matrix, so it is bound by reading the
// weights. libtorch sends a 1-row linear() to a GEMM, which with the generic BLAS of the
// Debian build streams a [152000, 896] float32 head at ~3.7 GB/s against ~12 GB/s for
// mv() (measured); small matrices gain 2.5-5x too. For bfloat16, libtorch 1.13 has no fast
// GEMV either (linear() ~15 GB/s, mv() ~10 GB/s on this machine, half the read bandwidth), so
// gemv_bf16() below reads the bf16 weights once, widening each to float32 (a bf16 is the top
// half of a float32) and accumulating in float32 as oneDNN's bf16 GEMM does; the result is
// rounded to bf16 like linear()'s. Rows are split across libtorch's threads.
namespace {

float bf16_bits_to_float(uint16_t bits) {
  const uint32_t widened = uint32_t(bits) << 16;
  float f;
  std::memcpy(&f, &widened, sizeof f);
  return f;
}

float dot_bf16_scalar(const uint16_t* w, const float* x, int64_t n) {
  float acc = 0.f;
  for (int64_t i = 0; i < n; ++i) acc += bf16_bits_to_float(w[i]) * x[i];
  return acc;
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) float dot_bf16_avx2(const uint16_t* w, const float* x, int64_t n) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i));
    const __m256i lo = _mm256_cvtepu16_epi32(_mm256_castsi256_si128(packed));
    const __m256i hi = _mm256_cvtepu16_epi32(_mm256_extracti128_si256(packed, 1));
    acc0 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(lo, 16)), _mm256_loadu_ps(x + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_castsi256_ps(_mm256_slli_epi32(hi, 16)), _mm256_loadu_ps(x + i + 8), acc1);
  }
  const __m256 acc = _mm256_add_ps(acc0, acc1);
  __m128 sum = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
  sum = _mm_add_ss(sum, _mm_shuffle_ps(sum, sum, 1));
  return _mm_cvtss_f32(sum) + dot_bf16_scalar(w + i, x + i, n - i);
}
#endif

using DotBf16 = float (*)(const uint16_t*, const float*, int64_t);

DotBf16 pick_dot_bf16() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return dot_bf16_avx2;
#endif
  return dot_bf16_scalar;
}

// weight bf16 [out, in] contiguous, x bf16 [in] -> bf16 [out] (+ bias).
torch::Tensor gemv_bf16(const torch::Tensor& weight, const torch::Tensor& x, const torch::Tensor& bias) {
  static const DotBf16 dot = pick_dot_bf16();
  const int64_t out = weight.size(0), in = weight.size(1);
  torch::Tensor xf = x.to(torch::kFloat).contiguous();
  torch::Tensor y = torch::empty({out}, torch::kFloat);
  const auto* w = reinterpret_cast<const uint16_t*>(weight.data_ptr<at::BFloat16>());
  const float* xp = xf.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  at::parallel_for(0, out, 256, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) yp[r] = dot(w + r * in, xp, in);
  });
  if (bias.defined()) y.add_(bias.to(torch::kFloat));
  return y.to(torch::kBFloat16);
}

}  // namespace

torch::Tensor linear_rows(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias) {
  if (x.dim() == 2 && x.size(0) == 1 && x.device().is_cpu() && weight.is_contiguous()) {
    if (x.scalar_type() == torch::kFloat) {
      torch::Tensor y = torch::mv(weight, x[0]);
      if (bias.defined()) y.add_(bias);
      return y.unsqueeze(0);
    }
    if (x.scalar_type() == torch::kBFloat16 && weight.scalar_type() == torch::kBFloat16)
      return gemv_bf16(weight, x[0], bias).unsqueeze(0);
  }
  return torch::linear(x, weight, bias);
}

int64_t auto_chunk_rows(int64_t num_heads, int64_t keys) {
  // 16 MB of float32 scores: the block stays in the last-level cache between the score
  // product, the softmax and the value product (Qwen2-0.5B shapes, 2,000-6,000-token
  // prefills: up to 1.6x faster than with 128 MB blocks). At least 16 rows keep the
  // products GEMMs.
  constexpr int64_t kScoreBudgetElements = int64_t{1} << 22;
  return std::max<int64_t>(16, kScoreBudgetElements / std::max<int64_t>(1, num_heads * keys));
}

LlmLinearImpl::LlmLinearImpl(int64_t in_features, int64_t out_features, bool with_bias, torch::Dtype dtype) {
  weight = register_parameter("weight", torch::zeros({out_features, in_features}, dtype));
  if (with_bias) bias = register_parameter("bias", torch::zeros({out_features}, dtype));
}

LlmEmbeddingImpl::LlmEmbeddingImpl(int64_t vocab_size, int64_t hidden_size, torch::Dtype dtype) {
  weight = register_parameter("weight", torch::zeros({vocab_size, hidden_size}, dtype));
}

RmsNormImpl::RmsNormImpl(int64_t size, double eps, torch::Dtype dtype) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({size}, dtype));
}

torch::Tensor RmsNormImpl::forward(const torch::Tensor& x) {
  torch::Tensor xf = x.to(torch::kFloat);
  torch::Tensor variance = xf.pow(2).mean(-1, /*keepdim=*/true);
  return weight * (xf * torch::rsqrt(variance + eps_)).to(x.scalar_type());
}

LlmAttentionImpl::LlmAttentionImpl(const LlmConfig& c, torch::Dtype dtype)
    : num_heads_(c.num_attention_heads),
      num_kv_heads_(c.num_key_value_heads),
      head_dim_(c.head_dim()),
      sliding_window_(c.sliding_window) {
  // Qwen2: biases on q/k/v only; Llama's attention_bias: on all four; Mistral: none.
  const bool qwen2 = c.model_type == "qwen2";
  const bool qkv_bias = qwen2 || c.attention_bias, o_bias = !qwen2 && c.attention_bias;
  q_proj = register_module("q_proj", LlmLinear(c.hidden_size, num_heads_ * head_dim_, qkv_bias, dtype));
  k_proj = register_module("k_proj", LlmLinear(c.hidden_size, num_kv_heads_ * head_dim_, qkv_bias, dtype));
  v_proj = register_module("v_proj", LlmLinear(c.hidden_size, num_kv_heads_ * head_dim_, qkv_bias, dtype));
  o_proj = register_module("o_proj", LlmLinear(num_heads_ * head_dim_, c.hidden_size, o_bias, dtype));
}

// Note [Attention in query chunks]
// A prompt of T tokens needs a [heads, T, T] score matrix (6,300 tokens x 14 heads = 2.2 GB in
// float32). The queries are processed in chunks of rows instead: a chunk [c0, c1) scores only
// the keys it can see (causal: < past + c1; sliding window: > past + c0 - window), so the block
// stays bounded and the masked half of the square is never computed. Within a chunk the
// grouped kv heads are not repeated: the `rep` query heads sharing kv head g are stacked as
// rows of one [rep * rows, hd] x [hd, keys] product per kv head. Only the chunk's diagonal
// block needs the causal mask (earlier keys are visible to every row). Softmax runs in
// float32. transformers divides the scores by sqrt(head_dim) after the product; dividing the
// queries instead saves a pass over the scores and gives the same bits when sqrt(head_dim) is
// a power of two (head_dim 16, 64, 256: Qwen2-0.5B, the fixtures), and differs by rounding
// otherwise (head_dim 128).
torch::Tensor LlmAttentionImpl::forward(const torch::Tensor& x, const RopeTables& rope, LayerCache cache,
                                        int64_t chunk_rows) {
  const int64_t T = x.size(0), past = cache.past, total = past + T;
  const int64_t rep = num_heads_ / num_kv_heads_;
  torch::Tensor q = apply_rope(q_proj(x).view({T, num_heads_, head_dim_}), rope).div_(std::sqrt(double(head_dim_)));
  torch::Tensor k = apply_rope(k_proj(x).view({T, num_kv_heads_, head_dim_}), rope);
  torch::Tensor v = v_proj(x).view({T, num_kv_heads_, head_dim_});
  cache.keys.slice(1, past, total).copy_(k.transpose(0, 1));  // [Hkv, T, hd] into the cache
  cache.values.slice(1, past, total).copy_(v.transpose(0, 1));

  // [T, H, hd] -> [Hkv, rep, T, hd]: query head h reads kv head h / rep (transformers' repeat_kv).
  torch::Tensor grouped = q.view({T, num_kv_heads_, rep, head_dim_}).permute({1, 2, 0, 3});
  torch::Tensor out = torch::empty({T, num_heads_, head_dim_}, x.options());
  const int64_t rows = chunk_rows > 0 ? chunk_rows : auto_chunk_rows(num_heads_, total);
  for (int64_t c0 = 0; c0 < T; c0 += rows) {
    const int64_t c1 = std::min(T, c0 + rows), n = c1 - c0;
    const int64_t key_end = past + c1;
    const int64_t key_begin = sliding_window_ > 0 ? std::max<int64_t>(0, past + c0 - sliding_window_ + 1) : 0;
    torch::Tensor keys = cache.keys.slice(1, key_begin, key_end);  // [Hkv, L, hd]
    torch::Tensor values = cache.values.slice(1, key_begin, key_end);
    torch::Tensor queries = grouped.slice(2, c0, c1).reshape({num_kv_heads_, rep * n, head_dim_});
    // A bf16 decode step: libtorch 1.13's CPU bf16 bmm is slow for one row (~0.5 ms a layer), so
    // the products run in float32 on widened copies and are rounded to bf16, as a bf16 GEMM
    // (float32 accumulation) rounds its result.
    const bool widen = n == 1 && x.scalar_type() == torch::kBFloat16 && x.device().is_cpu();
    torch::Tensor scores = widen ? torch::matmul(queries.to(torch::kFloat), keys.to(torch::kFloat).transpose(1, 2))
                                       .to(torch::kBFloat16)
                                 : torch::matmul(queries, keys.transpose(1, 2));  // [Hkv, rep*n, L]
    if (n > 1) {  // one query row sees exactly [key_begin, key_end): nothing to mask
      const int64_t L = key_end - key_begin;
      torch::Tensor block = scores.view({num_kv_heads_, rep, n, L});
      torch::Tensor masked;  // true = hidden
      if (sliding_window_ > 0) {
        torch::Tensor query_pos = torch::arange(past + c0, past + c1, torch::kLong).unsqueeze(1);
        torch::Tensor key_pos = torch::arange(key_begin, key_end, torch::kLong).unsqueeze(0);
        masked = (key_pos > query_pos).logical_or_(key_pos <= query_pos - sliding_window_);  // [n, L]
      } else {
        block = block.narrow(3, L - n, n);  // keys past+c0 .. past+c1-1
        masked = torch::ones({n, n}, torch::kBool).triu(1);
      }
      block.masked_fill_(masked.to(scores.device()), -std::numeric_limits<float>::infinity());
    }
    torch::Tensor probs = torch::softmax(scores, -1, torch::kFloat).to(x.scalar_type());
    torch::Tensor context = widen ? torch::matmul(probs.to(torch::kFloat), values.to(torch::kFloat)).to(x.scalar_type())
                                  : torch::matmul(probs, values);  // [Hkv, rep*n, hd]
    out.slice(0, c0, c1)
        .view({n, num_kv_heads_, rep, head_dim_})
        .copy_(context.view({num_kv_heads_, rep, n, head_dim_}).permute({2, 0, 1, 3}));
  }
  return o_proj(out.view({T, num_heads_ * head_dim_}));
}

LlmMlpImpl::LlmMlpImpl(const LlmConfig& c, torch::Dtype dtype)
    : gate_proj(register_module("gate_proj", LlmLinear(c.hidden_size, c.intermediate_size, c.mlp_bias, dtype))),
      up_proj(register_module("up_proj", LlmLinear(c.hidden_size, c.intermediate_size, c.mlp_bias, dtype))),
      down_proj(register_module("down_proj", LlmLinear(c.intermediate_size, c.hidden_size, c.mlp_bias, dtype))) {}

torch::Tensor LlmMlpImpl::forward(const torch::Tensor& x) {
  // In place on fresh temporaries (the decoder runs without autograd): same numbers, fewer
  // [T, intermediate] buffers.
  torch::Tensor gate = gate_proj(x);
  torch::silu_(gate);
  return down_proj(gate.mul_(up_proj(x)));
}

LlmDecoderLayerImpl::LlmDecoderLayerImpl(const LlmConfig& c, torch::Dtype dtype)
    : input_layernorm(register_module("input_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps, dtype))),
      post_attention_layernorm(
          register_module("post_attention_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps, dtype))),
      self_attn(register_module("self_attn", LlmAttention(c, dtype))),
      mlp(register_module("mlp", LlmMlp(c, dtype))) {}

torch::Tensor LlmDecoderLayerImpl::forward(const torch::Tensor& x, const RopeTables& rope, LayerCache cache,
                                           int64_t chunk_rows) {
  torch::Tensor h = self_attn(input_layernorm(x), rope, cache, chunk_rows).add_(x);
  return mlp(post_attention_layernorm(h)).add_(h);
}

LlmModelImpl::LlmModelImpl(const LlmConfig& c, torch::Dtype dtype) {
  embed_tokens = register_module("embed_tokens", LlmEmbedding(c.vocab_size, c.hidden_size, dtype));
  torch::nn::ModuleList list;
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    layers.push_back(LlmDecoderLayer(c, dtype));
    list->push_back(layers.back());
  }
  register_module("layers", list);
  norm = register_module("norm", RmsNorm(c.hidden_size, c.rms_norm_eps, dtype));
}

}  // namespace sfvu::fusion::detail
