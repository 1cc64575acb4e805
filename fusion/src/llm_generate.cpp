#include "sfvu/fusion/llm_generate.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <limits>

#include "sfvu/base/clock.h"
#include "sfvu/base/error.h"

namespace sfvu::fusion {
namespace {

constexpr float kRemoved = -std::numeric_limits<float>::infinity();

void check_options(const SamplingOptions& o) {
  if (!(o.repetition_penalty > 0))
    throw UsageError("repetition_penalty must be positive (got " + std::to_string(o.repetition_penalty) + ")");
  if (o.greedy) return;
  if (!(o.temperature > 0)) throw UsageError("temperature must be positive (got " + std::to_string(o.temperature) + ")");
  if (o.top_k < 0) throw UsageError("top_k must not be negative (got " + std::to_string(o.top_k) + ")");
  if (!(o.top_p > 0 && o.top_p <= 1)) throw UsageError("top_p must be in (0, 1] (got " + std::to_string(o.top_p) + ")");
}

// transformers' RepetitionPenaltyLogitsProcessor: every id seen so far (prompt included) has
// its logit divided by the penalty when positive, multiplied when negative.
void apply_repetition_penalty(torch::Tensor& scores, const std::vector<int64_t>& history, double penalty) {
  std::vector<int64_t> seen;
  for (int64_t id : history)
    if (id >= 0 && id < scores.size(0)) seen.push_back(id);  // skips -200 style placeholders
  if (seen.empty()) return;
  torch::Tensor index = torch::tensor(seen, torch::kLong);
  torch::Tensor picked = scores.index_select(0, index);
  scores.index_put_({index}, torch::where(picked < 0, picked * penalty, picked / penalty));
}

// transformers' TopKLogitsWarper: drop everything below the k-th largest logit (ties kept).
void apply_top_k(torch::Tensor& scores, int top_k) {
  const int64_t k = std::min<int64_t>(top_k, scores.size(0));
  torch::Tensor kth = std::get<0>(scores.topk(k)).select(0, k - 1);
  scores.masked_fill_(scores < kth, kRemoved);
}

// transformers' TopPLogitsWarper: sort ascending, drop the tokens whose cumulative
// probability stays <= 1 - top_p, always keeping the most likely one.
void apply_top_p(torch::Tensor& scores, double top_p) {
  auto [sorted, order] = scores.sort(/*dim=*/0, /*descending=*/false);
  torch::Tensor cumulative = sorted.softmax(0).cumsum(0);
  torch::Tensor remove_sorted = cumulative <= (1.0 - top_p);
  remove_sorted[-1] = false;
  torch::Tensor remove = torch::zeros_like(remove_sorted).scatter_(0, order, remove_sorted);
  scores.masked_fill_(remove, kRemoved);
}

}  // namespace

int64_t select_next_token(const torch::Tensor& logits, const SamplingOptions& options,
                          const std::vector<int64_t>& history, torch::Generator& generator) {
  torch::NoGradGuard no_grad;
  check_options(options);
  if (logits.dim() != 1 || logits.size(0) == 0) throw UsageError("select_next_token: expected logits [V]");
  // A float32 working copy: the caller's logits (kept as step_logits) stay raw.
  torch::Tensor scores = logits.to(torch::kCPU, torch::kFloat, /*non_blocking=*/false, /*copy=*/true);
  if (options.repetition_penalty != 1.0) apply_repetition_penalty(scores, history, options.repetition_penalty);
  if (options.greedy) return scores.argmax().item<int64_t>();
  // transformers' warper order: temperature, top-k, top-p; then multinomial sampling.
  if (options.temperature != 1.0) scores.div_(options.temperature);
  if (options.top_k > 0) apply_top_k(scores, options.top_k);
  if (options.top_p < 1.0) apply_top_p(scores, options.top_p);
  torch::Tensor probs = scores.softmax(0);
  return torch::multinomial(probs, 1, /*replacement=*/false, generator).item<int64_t>();
}

GenerateResult generate(LlmForCausalLMImpl& lm, const torch::Tensor& prompt_embeds,
                        const std::vector<int64_t>& prompt_ids, const GenerateOptions& options, KvCache& cache) {
  torch::NoGradGuard no_grad;
  check_options(options.sampling);
  if (options.max_new_tokens < 0)
    throw UsageError("max_new_tokens must not be negative (got " + std::to_string(options.max_new_tokens) + ")");
  if (prompt_embeds.dim() != 2 || prompt_embeds.size(0) == 0)
    throw UsageError("generate: expected prompt embeddings [T, D] with T >= 1");
  const int64_t T = prompt_embeds.size(0);
  // The last new token is never fed back, so T + max_new - 1 positions suffice.
  const int64_t needed = T + std::max(0, options.max_new_tokens - 1);
  if (cache.capacity() < needed)
    throw UsageError("KV cache capacity " + std::to_string(cache.capacity()) + " tokens is too small for a " +
                     std::to_string(T) + "-token prompt and " + std::to_string(options.max_new_tokens) +
                     " new tokens");

  GenerateResult result;
  result.prompt_tokens = T;
  cache.clear();
  const double t0 = steady_seconds();
  torch::Tensor hidden = lm.forward(prompt_embeds, cache);
  torch::Tensor logits = lm.logits(hidden.slice(0, T - 1)).select(0, 0);  // only the last row: [V]
  result.logits_last = logits;
  const double t1 = steady_seconds();
  result.prefill_seconds = t1 - t0;

  torch::Generator generator = at::detail::createCPUGenerator(options.sampling.seed);
  std::vector<int64_t> history = prompt_ids;
  std::vector<torch::Tensor> step_logits;
  result.stop_reason = "max_new_tokens";
  for (int step = 0; step < options.max_new_tokens; ++step) {
    if (options.keep_step_logits) step_logits.push_back(logits);
    const int64_t id = select_next_token(logits, options.sampling, history, generator);
    result.ids.push_back(id);
    history.push_back(id);
    const bool go_on = !options.on_token || options.on_token(id);
    if (std::find(options.stop_ids.begin(), options.stop_ids.end(), id) != options.stop_ids.end()) {
      result.stop_reason = "stop_id";
      break;
    }
    if (!go_on) {
      result.stop_reason = "callback";
      break;
    }
    if (step + 1 == options.max_new_tokens) break;
    hidden = lm.forward(lm.embed(torch::tensor({id}, torch::kLong)), cache);
    logits = lm.logits(hidden).select(0, 0);
  }
  result.generate_seconds = steady_seconds() - t1;
  if (options.keep_step_logits && !step_logits.empty()) result.step_logits = torch::stack(step_logits);
  return result;
}

}  // namespace sfvu::fusion
