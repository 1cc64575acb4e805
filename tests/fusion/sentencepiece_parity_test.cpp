// Our SentencePiece BPE (fusion/src/sentencepiece_bpe.h, Note [No libsentencepiece]) against
// Google's libsentencepiece itself, in a process without libtorch (where the library works):
// the tiny self-made model and, when ../shared is present, Meta's Llama-2 tokenizer.model, over
// the tiny corpus, the shared reference strings and generated text (whitespace runs, digits,
// accents, CJK, emoji, bytes the model lacks).
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "../../fusion/src/sentencepiece_bpe.h"
#include "support/test_support.h"

namespace sfvu {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> texts() {
  std::vector<std::string> out;
  std::istringstream corpus(read_file(test::fixture("llm_tokenizers_tiny/corpus.txt")));
  for (std::string line; std::getline(corpus, line);) out.push_back(line);
  const std::vector<std::string> pieces{"the", " ", "  ", "\n", "\t", "Hello", "world", "123", "4", "é", "ü",
                                        "日本", "語", "🙂", "👍🏽", "<image>", "USER:", "ASSISTANT:", "'s", "!!", "\xc3\xa9",
                                        "naïve", "café", "ß", "Ω", "\r\n", "▁", "x"};
  std::mt19937 rng(20261121);
  for (int n = 0; n < 400; ++n) {
    std::string t;
    const int k = 1 + int(rng() % 12);
    for (int i = 0; i < k; ++i) t += pieces[rng() % pieces.size()];
    out.push_back(t);
  }
  return out;
}

void expect_same_ids(const std::string& model_path) {
  sentencepiece::SentencePieceProcessor reference;
  ASSERT_TRUE(reference.Load(model_path).ok()) << model_path;
  const auto ours = fusion::detail::SentencePieceBpe::parse(read_file(model_path), model_path);
  int checked = 0;
  for (const std::string& text : texts()) {
    std::vector<int> expected, actual;
    ASSERT_TRUE(reference.Encode(text, &expected).ok());
    ours.encode(text, /*add_dummy_prefix=*/true, actual);
    EXPECT_EQ(actual, expected) << "text: '" << text << "'";
    ++checked;
  }
  EXPECT_GT(checked, 400);
}

TEST(SentencePieceParityWithLibsentencepiece, TinyModel) {
  expect_same_ids(test::fixture("llm_tokenizers_tiny/llama/tokenizer.model"));
}

TEST(SentencePieceParityWithLibsentencepiece, Llama2Model) {
  const std::string path = std::string(SFVU_SHARED_DIR) + "/fixtures/tokenizers/llama2_spm/tokenizer.model";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no " << path << " (../shared absent: a user's clone)";
  expect_same_ids(path);
}

}  // namespace
}  // namespace sfvu
