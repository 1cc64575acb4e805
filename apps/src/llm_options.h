// Options and loading shared by the LLM commands (`sfvu generate`, `sfvu ask`, `sfvu predict
// --task qa` with a LLaVA-family model): the model folder, dtype, RoPE override, sampling.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "sfvu/fusion/chat_template.h"
#include "sfvu/fusion/llava_model.h"
#include "sfvu/fusion/llm_generate.h"
#include "sfvu/fusion/llm_tokenizer.h"

namespace sfvu::cli {

/// True when `dir`/config.json is a LLaVA-family checkpoint (model_type llava, llava_next,
/// llava_onevision): how predict and qa tell an LLM folder from our own model folders.
bool is_llava_model_dir(const std::string& dir);

/// --model, --dtype fp32|bf16, --rope-scaling.
void add_llm_model_options(po::options_description& desc);
/// --max-new-tokens, --greedy, --temperature, --top-k, --top-p, --repetition-penalty, --seed.
void add_sampling_options(po::options_description& desc, int default_max_new_tokens);
/// The sampling options; greedy unless --temperature is given (--greedy with it: UsageError).
fusion::SamplingOptions sampling_options(const po::variables_map& vm);

/// Loads the model of --model in --dtype, with --rope-scaling overriding config.json's.
fusion::LlavaModel load_llava(const po::variables_map& vm);
/// Its tokenizer (IoError naming the folder when it has none).
std::unique_ptr<fusion::LlmTokenizer> load_llm_tokenizer(const po::variables_map& vm);

/// Generation ends on any of these: the config's eos ids, the tokenizer's EOS, <|im_end|>.
std::vector<int64_t> stop_ids(const fusion::LlavaConfig& config, const fusion::LlmTokenizer* tokenizer);

/// A video's frames for the LLM: `n_frames` uniformly spaced (segment midpoints), squashed to
/// the vision tower's input size and normalised with the model's preprocessor mean/std
/// (preprocessor_config.json, else the tower's defaults). float32 [T, 3, S, S].
struct LlmFrames {
  torch::Tensor pixels;
  std::vector<double> seconds;
  double duration_seconds = 0;
};
LlmFrames read_llm_frames(const std::string& video, const std::string& model_dir, const fusion::LlavaConfig& config,
                          int n_frames);

/// The prompt's ids with the single media placeholder expanded to `n_visual` copies.
std::vector<int64_t> expand_placeholder(const std::vector<int64_t>& ids, int64_t placeholder_id, int64_t n_visual,
                                        const std::string& where);

/// One `sfvu ask` question about one video.
struct AskSettings {
  std::string question;
  fusion::VideoLayout layout = fusion::VideoLayout::kSlowFast;
  fusion::SlowFastLayoutOptions slowfast;
  fusion::ChatTemplate chat = fusion::ChatTemplate::kChatML;
  int n_frames = 50;
  fusion::GenerateOptions generate;  ///< stop ids included
  bool stream = false;               ///< print the answer's text to stdout as it comes
};

/// Decodes `video`, encodes its frames, prompts and generates: the `sfvu ask` JSON line
/// {"video", "question", "answer", "n_visual_tokens", "timing": {...}, ...}. `model_dir` is
/// where preprocessor_config.json may be ("" for none). Call under torch::NoGradGuard.
json answer_video(fusion::LlavaModelImpl& llava, const fusion::LlmTokenizer& tokenizer, const std::string& model_dir,
                  const std::string& video, const AskSettings& settings);

}  // namespace sfvu::cli
