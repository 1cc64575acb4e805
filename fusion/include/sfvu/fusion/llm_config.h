// sfvu/fusion/llm_config.h: the language model half of a LLaVA-family checkpoint
// (transformers' LlamaConfig / MistralConfig / Qwen2Config), as `text_config` of config.json.
//
// Hub configs are written as a diff against the class defaults (llava-1.5's text_config lists
// only a few keys; hidden 4096 / 32 layers come from LlamaConfig), so from_json() starts from
// defaults(model_type) and overlays the keys present. ../shared/specs/llm_checkpoints.md §1;
// the fixtures' reference/config_resolved.json pins what transformers resolves.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace sfvu::fusion {

/// `rope_scaling` of config.json: {"type"|"rope_type": "linear"|"dynamic", "factor": f}.
struct RopeScaling {
  enum class Kind { kNone, kLinear, kDynamic };
  Kind kind = Kind::kNone;
  double factor = 1.0;
  /// "none", "linear:2", "dynamic:2" (the CLI's --rope-scaling spelling).
  std::string to_string() const;
  /// Parses "dynamic:F" / "linear:F" / "none"; UsageError otherwise.
  static RopeScaling parse(const std::string& spec);
};

struct LlmConfig {
  std::string model_type = "llama";  ///< "llama", "mistral" or "qwen2"
  int64_t vocab_size = 32000;
  int hidden_size = 4096;
  int intermediate_size = 11008;
  int num_hidden_layers = 32;
  int num_attention_heads = 32;
  int num_key_value_heads = 32;  ///< GQA: < num_attention_heads
  /// config "head_dim" (Llama, Mistral); 0 = hidden_size / num_attention_heads.
  int head_dim_override = 0;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool attention_bias = false;  ///< q/k/v biases (Qwen2: always true); Llama: o_proj too
  bool mlp_bias = false;        ///< Llama's mlp_bias: gate/up/down biases
  /// Attend to the last `sliding_window` positions only (Mistral's default 4096; Qwen2 only
  /// with use_sliding_window); 0 = full causal attention.
  int64_t sliding_window = 0;
  bool tie_word_embeddings = false;
  std::string hidden_act = "silu";
  int64_t bos_token_id = 1;                  ///< -1 = none (Qwen2's class default)
  std::vector<int64_t> eos_token_ids = {2};  ///< config's eos_token_id (int or list)

  int head_dim() const { return head_dim_override > 0 ? head_dim_override : hidden_size / num_attention_heads; }
  /// Parameter count of the decoder (embeddings, layers, norm, untied head).
  int64_t parameter_count() const;

  /// transformers' class defaults for `model_type` ("llama", "mistral", "qwen2"); FormatError
  /// naming `where` for anything else.
  static LlmConfig defaults(const std::string& model_type, const std::string& where = "config");
  /// A text_config object (or a flat LLM config.json): defaults(model_type) overlaid with the
  /// keys present (model_type absent = "llama", as LlavaConfig assumes; a parent with another
  /// default, e.g. OneVision's "qwen2", sets it first). Unsupported values (rope type "yarn",
  /// hidden_act other than silu) and inconsistent shapes are FormatErrors; every error names
  /// `where` and the key.
  static LlmConfig from_json(const nlohmann::json& text_config, const std::string& where);
  /// The resolved config as JSON (every field, transformers' key names).
  nlohmann::json to_json() const;

  /// Real shapes, for benchmarks with random weights: Qwen2-0.5B-Instruct as in
  /// llava-onevision-qwen2-0.5b-ov-hf (vocab 152000, tied), and Vicuna-7B v1.5 (vocab 32064).
  static LlmConfig qwen2_0_5b();
  static LlmConfig vicuna_7b();
};

}  // namespace sfvu::fusion
