// sfvu/fusion/llm_tokenizer.h: the LLMs' tokenizers, matching Hugging Face exactly.
//   - Qwen2: byte-level BPE from vocab.json + merges.txt (pathways' shared BPE core), NFC,
//     GPT-4-style pre-tokenisation regex, added/special tokens matched verbatim first.
//   - Llama (Vicuna, LLaVA-1.5/1.6): SentencePiece tokenizer.model via libsentencepiece, with
//     HF's added tokens (<image>, <pad>, ...) and the legacy / non-legacy handling around them
//     (read from tokenizer.json; ../shared/specs/llm_checkpoints.md §4).
//
// Usage:
//   auto tok = fusion::LlmTokenizer::from_pretrained(model_dir);   // picks the kind from the files
//   std::vector<int64_t> ids = tok->encode("USER: <image>\nWhat?", /*add_bos=*/true);
//   std::string text = tok->decode(ids);
//
// Thread safety: immutable after loading; encode/decode may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sfvu::fusion {

class LlmTokenizer {
 public:
  virtual ~LlmTokenizer() = default;

  /// Loads the tokenizer of a model folder: tokenizer.model (+ tokenizer.json /
  /// tokenizer_config.json / added_tokens.json for added tokens and the legacy flag) -> Llama;
  /// vocab.json + merges.txt (+ the same files for added tokens) -> Qwen2. IoError / FormatError
  /// naming the folder and file when neither is complete.
  static std::unique_ptr<LlmTokenizer> from_pretrained(const std::string& dir);

  /// Token ids of `text`; added tokens (<image>, <|im_start|>, ...) written in the text become
  /// their ids. add_bos: prepend BOS when the tokenizer has one (Llama yes; Qwen2 has none).
  virtual std::vector<int64_t> encode(const std::string& text, bool add_bos = false) const = 0;
  /// Text of `ids` (special tokens skipped when skip_special). Invalid UTF-8 at the end of a
  /// partial sequence is kept as bytes; see StreamingDecoder for token-by-token output.
  virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special = true) const = 0;
  /// The raw bytes one id stands for (byte-level: its bytes; SentencePiece: "▁" -> " ", <0xNN>).
  virtual std::string token_bytes(int64_t id) const = 0;
  virtual std::string token_string(int64_t id) const = 0;  ///< the vocab string of one id
  /// Id of a vocab or added token string, -1 when absent.
  virtual int64_t token_id(const std::string& token) const = 0;
  virtual bool is_special(int64_t id) const = 0;
  virtual int64_t vocab_size() const = 0;  ///< including added tokens
  virtual int64_t bos_id() const = 0;      ///< -1 when none
  virtual int64_t eos_id() const = 0;
  virtual std::string kind() const = 0;    ///< "qwen2_bpe" | "llama_spm"
};

/// Turns ids into text as they are generated: emits only complete UTF-8 characters, holding
/// back a partial multi-byte sequence until its last byte arrives.
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const LlmTokenizer& tokenizer) : tokenizer_(tokenizer) {}
  /// Text that became printable with `id` (may be empty).
  std::string push(int64_t id);
  /// Whatever is held back (invalid tail bytes), at the end.
  std::string flush();

 private:
  const LlmTokenizer& tokenizer_;
  std::vector<int64_t> ids_;
  std::string pending_;
  bool first_ = true;
};

}  // namespace sfvu::fusion
