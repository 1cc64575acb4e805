// The prompts of ../shared/specs/llm_checkpoints.md §4, as literal strings.
#include "sfvu/fusion/chat_template.h"

#include <gtest/gtest.h>

#include "sfvu/base/error.h"

namespace sfvu::fusion {
namespace {

TEST(ChatTemplate, Llava15) {
  EXPECT_EQ(render_prompt(ChatTemplate::kLlava15, "What is shown?", "<image>"),
            "USER: <image>\nWhat is shown? ASSISTANT:");
  EXPECT_EQ(render_prompt(ChatTemplate::kLlava15, "Hi", ""), "USER: Hi ASSISTANT:");
  // LLaVA-NeXT-Video: the same with "<video>".
  EXPECT_EQ(render_prompt(ChatTemplate::kLlava15, "Why?", "<video>"), "USER: <video>\nWhy? ASSISTANT:");
}

TEST(ChatTemplate, VicunaV1HasTheSystemLine) {
  EXPECT_EQ(render_prompt(ChatTemplate::kVicunaV1, "What is shown?", "<image>"),
            "A chat between a curious human and an artificial intelligence assistant. The assistant "
            "gives helpful, detailed, and polite answers to the human's questions. USER: <image>\n"
            "What is shown? ASSISTANT:");
}

TEST(ChatTemplate, SlowFastLlavaVideoQa) {
  EXPECT_EQ(render_prompt(ChatTemplate::kSlowFastLlava, "What is the man doing?", "<image>"),
            "USER: <image>\nThe input consists of a sequence of key frames from a video. Answer "
            "concisely with overall content and context of the video, highlighting any significant "
            "events, characters, or objects that appear throughout the video. Question: What is the "
            "man doing? \nASSISTANT:\nAnswer: In the video,");
}

TEST(ChatTemplate, ChatMLWithTheSystemLine) {
  EXPECT_EQ(render_prompt(ChatTemplate::kChatML, "Describe the video.", "<video>"),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<video>\n"
            "Describe the video.<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(render_prompt(ChatTemplate::kChatML, "Hi", ""),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\n");
}

TEST(ChatTemplate, DefaultsPerModelType) {
  EXPECT_EQ(default_chat_template("llava_onevision", "qwen2"), ChatTemplate::kChatML);
  EXPECT_EQ(default_chat_template("llava", "llama"), ChatTemplate::kLlava15);
  EXPECT_EQ(default_chat_template("llava_next", "llama"), ChatTemplate::kVicunaV1);
  EXPECT_EQ(default_chat_template("llava_next_video", "llama"), ChatTemplate::kLlava15);
  EXPECT_THROW(default_chat_template("whisper", "whisper"), UsageError);
}

TEST(ChatTemplate, NamesRoundTrip) {
  for (ChatTemplate t : {ChatTemplate::kLlava15, ChatTemplate::kVicunaV1, ChatTemplate::kSlowFastLlava,
                         ChatTemplate::kChatML}) {
    EXPECT_EQ(parse_chat_template(to_string(t)), t);
  }
  try {
    parse_chat_template("alpaca");
    ADD_FAILURE() << "no exception";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("alpaca"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("chatml"), std::string::npos);
  }
}

}  // namespace
}  // namespace sfvu::fusion
