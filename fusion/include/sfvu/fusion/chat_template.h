// sfvu/fusion/chat_template.h: the prompts of the supported models, as plain code
// (../shared/specs/llm_checkpoints.md §4).
#pragma once

#include <string>

namespace sfvu::fusion {

enum class ChatTemplate {
  kLlava15,     ///< "USER: <image>\n{q} ASSISTANT:"
  kVicunaV1,    ///< llava-v1.6-vicuna: system line + "USER: <image>\n{q} ASSISTANT:"
  kSlowFastLlava,  ///< SF-LLaVA's video QA prompt (ends "ASSISTANT:\nAnswer: In the video,")
  kChatML,      ///< OneVision / Qwen2: <|im_start|>system ... <|im_start|>assistant\n
};

/// Template for a model_type / LLM model_type pair ("llava_onevision" -> ChatML, "llava" ->
/// LLaVA-1.5, "llava_next" -> Vicuna v1).
ChatTemplate default_chat_template(const std::string& model_type, const std::string& text_model_type);
ChatTemplate parse_chat_template(const std::string& name);  ///< "llava15"|"vicuna_v1"|"slowfast_llava"|"chatml"
std::string to_string(ChatTemplate t);

/// The prompt for one user turn with one media placeholder (`media_token`, e.g. "<video>" or
/// "<image>"; empty = text only) before the question.
std::string render_prompt(ChatTemplate t, const std::string& question, const std::string& media_token);

}  // namespace sfvu::fusion
