#include "sfvu/fusion/chat_template.h"

#include <string_view>

#include "sfvu/base/error.h"

namespace sfvu::fusion {
namespace {

constexpr const char* kNames = "llava15, vicuna_v1, slowfast_llava, chatml";

// The prompts of ../shared/specs/llm_checkpoints.md §4, literally.
constexpr std::string_view kVicunaSystem =
    "A chat between a curious human and an artificial intelligence assistant. The assistant "
    "gives helpful, detailed, and polite answers to the human's questions.";
// SF-LLaVA's video QA prompt (conv_mode "image_seq_v3" of apple/ml-slowfast-llava): the text
// around the question; the answer is primed with "In the video,".
constexpr std::string_view kSlowFastInstruction =
    "The input consists of a sequence of key frames from a video. Answer concisely with overall "
    "content and context of the video, highlighting any significant events, characters, or "
    "objects that appear throughout the video. Question: ";
constexpr std::string_view kSlowFastAnswer = " \nASSISTANT:\nAnswer: In the video,";
constexpr std::string_view kChatMLSystem = "You are a helpful assistant.";

// "<image>\n" before the text of a user turn; nothing for text-only prompts.
std::string media_line(const std::string& media_token) {
  return media_token.empty() ? std::string() : media_token + "\n";
}

}  // namespace

ChatTemplate default_chat_template(const std::string& model_type, const std::string& text_model_type) {
  if (model_type == "llava_onevision" || text_model_type.rfind("qwen2", 0) == 0) return ChatTemplate::kChatML;
  if (model_type == "llava_next") return ChatTemplate::kVicunaV1;
  // LLaVA-NeXT-Video's template is LLaVA-1.5's with "<video>" (no system line by default).
  if (model_type == "llava" || model_type == "llava_next_video") return ChatTemplate::kLlava15;
  throw UsageError("no default chat template for model_type '" + model_type + "' (language model '" +
                   text_model_type + "'); name one of " + kNames);
}

ChatTemplate parse_chat_template(const std::string& name) {
  if (name == "llava15") return ChatTemplate::kLlava15;
  if (name == "vicuna_v1") return ChatTemplate::kVicunaV1;
  if (name == "slowfast_llava") return ChatTemplate::kSlowFastLlava;
  if (name == "chatml") return ChatTemplate::kChatML;
  throw UsageError("unknown chat template '" + name + "'; expected one of " + kNames);
}

std::string to_string(ChatTemplate t) {
  switch (t) {
    case ChatTemplate::kLlava15:
      return "llava15";
    case ChatTemplate::kVicunaV1:
      return "vicuna_v1";
    case ChatTemplate::kSlowFastLlava:
      return "slowfast_llava";
    case ChatTemplate::kChatML:
      return "chatml";
  }
  throw UsageError("to_string: invalid ChatTemplate " + std::to_string(int(t)));
}

std::string render_prompt(ChatTemplate t, const std::string& question, const std::string& media_token) {
  const std::string media = media_line(media_token);
  switch (t) {
    case ChatTemplate::kLlava15:
      return "USER: " + media + question + " ASSISTANT:";
    case ChatTemplate::kVicunaV1:
      return std::string(kVicunaSystem) + " USER: " + media + question + " ASSISTANT:";
    case ChatTemplate::kSlowFastLlava:
      return "USER: " + media + std::string(kSlowFastInstruction) + question + std::string(kSlowFastAnswer);
    case ChatTemplate::kChatML:
      return "<|im_start|>system\n" + std::string(kChatMLSystem) + "<|im_end|>\n<|im_start|>user\n" + media +
             question + "<|im_end|>\n<|im_start|>assistant\n";
  }
  throw UsageError("render_prompt: invalid ChatTemplate " + std::to_string(int(t)));
}

}  // namespace sfvu::fusion
