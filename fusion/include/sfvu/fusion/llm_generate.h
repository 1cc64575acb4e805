// sfvu/fusion/llm_generate.h: token selection and the generation loop (HF generate():
// greedy, or sampling with repetition penalty -> temperature -> top-k -> top-p, in that order).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sfvu/fusion/llm_decoder.h"

namespace sfvu::fusion {

struct SamplingOptions {
  bool greedy = true;               ///< argmax; the fields below apply only when false
  double temperature = 1.0;
  int top_k = 0;                    ///< 0 = off
  double top_p = 1.0;               ///< 1 = off
  double repetition_penalty = 1.0;  ///< 1 = off; applied in greedy mode too (HF does)
  uint64_t seed = 0;
};

struct GenerateOptions {
  int max_new_tokens = 256;
  SamplingOptions sampling;
  std::vector<int64_t> stop_ids;        ///< EOS, <|im_end|>: generation ends after emitting one
  bool keep_step_logits = false;        ///< fill GenerateResult::step_logits
  /// Called with each new id as it is chosen (a stop id included); return false to stop early.
  std::function<bool(int64_t id)> on_token;
};

struct GenerateResult {
  std::vector<int64_t> ids;          ///< new tokens (a stop id included when one ended it)
  torch::Tensor logits_last;         ///< float32 [V]: logits at the last prompt position
  torch::Tensor step_logits;         ///< float32 [n_new, V] raw logits per step (if asked)
  std::string stop_reason;           ///< "stop_id", "max_new_tokens", "callback"
  int64_t prompt_tokens = 0;
  double prefill_seconds = 0, generate_seconds = 0;
};

/// Chooses the next token from float32 logits [V] (left unchanged). `history` = prompt +
/// generated ids (for the repetition penalty; ids outside [0, V) are skipped). `generator` is
/// the seeded CPU generator of the run (unused when greedy). UsageError for out-of-range
/// options (temperature <= 0, top_p outside (0, 1], top_k < 0, repetition_penalty <= 0).
int64_t select_next_token(const torch::Tensor& logits, const SamplingOptions& options,
                          const std::vector<int64_t>& history, torch::Generator& generator);

/// Prefills `prompt_embeds` [T, D] in one forward (the cache is cleared first; its capacity
/// must hold T + max_new_tokens - 1 positions, since the last new token is never fed back,
/// else UsageError), then generates one token per step through the cache. `prompt_ids` are
/// the prompt's ids (visual slots as their placeholder id) for the repetition penalty.
/// Sampling draws from a CPU generator seeded with options.sampling.seed: the same seed gives
/// the same ids.
GenerateResult generate(LlmForCausalLMImpl& lm, const torch::Tensor& prompt_embeds,
                        const std::vector<int64_t>& prompt_ids, const GenerateOptions& options,
                        KvCache& cache);

}  // namespace sfvu::fusion
