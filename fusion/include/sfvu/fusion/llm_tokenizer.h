// sfvu/fusion/llm_tokenizer.h: the LLMs' tokenizers, matching Hugging Face exactly.
//   - Qwen2: byte-level BPE from vocab.json + merges.txt (pathways' shared BPE core), NFC,
//     GPT-4-style pre-tokenisation regex, added/special tokens matched verbatim first.
//   - Llama (Vicuna, LLaVA-1.5/1.6): SentencePiece BPE tokenizer.model (read and run by our own
//     code: libsentencepiece cannot share a process with libtorch, see fusion/src/
//     sentencepiece_bpe.h), with HF's added tokens (<image>, <pad>, ...) and the legacy /
//     non-legacy handling around them (../shared/specs/llm_checkpoints.md §4).
// Where HF's slow (Python) and fast (Rust) tokenizers differ, encode() follows the slow one,
// whose ids the reference fixtures hold (../shared/fixtures/tokenizers), and decode() the fast
// one (what LLaVA's processors use): see the Notes in qwen2_tokenizer.cpp and llama_tokenizer.cpp.
//
// Model folder files read:
//   tokenizer.model            -> Llama (SentencePiece)
//   vocab.json + merges.txt    -> Qwen2 (byte-level BPE)
//   tokenizer_config.json      added_tokens_decoder, bos_token, eos_token, add_bos_token,
//                              legacy, add_prefix_space
//   tokenizer.json             added_tokens (when tokenizer_config.json has none), normalizer /
//                              pre_tokenizer (Llama legacy mode); its "model" is not read
//   added_tokens.json          content -> id (older folders)
// Legacy mode of the Llama tokenizer: tokenizer.json decides when it says (normalizer
// Prepend("▁") = legacy; pre_tokenizer Metaspace prepend_scheme "first" = non-legacy), else
// tokenizer_config.json "legacy", else legacy (HF's default). Legacy: every text chunk between
// added tokens gets SentencePiece's dummy "▁" prefix; non-legacy: only the start of the text.
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
#include <string_view>
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
  /// their ids. add_bos: prepend BOS when the tokenizer has one (Llama yes, unless its
  /// tokenizer_config.json says "add_bos_token": false; Qwen2 has none).
  virtual std::vector<int64_t> encode(const std::string& text, bool add_bos = false) const = 0;
  /// Text of `ids` (special tokens skipped when skip_special). Invalid UTF-8 at the end of a
  /// partial sequence is kept as bytes; see StreamingDecoder for token-by-token output. Ids
  /// that have no token (the padding rows of a model's embedding beyond the tokenizer's
  /// vocab, which a random-weight model may well pick) decode to nothing, as in HF's fast
  /// tokenizer.
  virtual std::string decode(const std::vector<int64_t>& ids, bool skip_special = true) const = 0;
  /// The raw bytes one id stands for (byte-level: its bytes; SentencePiece: "▁" -> " ", <0xNN>;
  /// an added token: its text; no token: empty).
  virtual std::string token_bytes(int64_t id) const = 0;
  /// The vocab string of one id; UsageError when the id has no token.
  virtual std::string token_string(int64_t id) const = 0;
  /// Id of a vocab or added token string, -1 when absent.
  virtual int64_t token_id(const std::string& token) const = 0;
  virtual bool is_special(int64_t id) const = 0;
  virtual int64_t vocab_size() const = 0;  ///< including added tokens
  virtual int64_t bos_id() const = 0;      ///< -1 when none
  virtual int64_t eos_id() const = 0;
  virtual std::string kind() const = 0;    ///< "qwen2_bpe" | "llama_spm"
  /// decode() drops one space at the start of its text (SentencePiece's dummy prefix: "▁The"
  /// alone decodes to "The"); StreamingDecoder does the same for its first text.
  virtual bool decode_drops_first_space() const = 0;
};

/// `text` with every invalid UTF-8 sequence replaced by U+FFFD, one per maximal invalid
/// subpart (Python's bytes.decode("utf-8", errors="replace"), what HF's decode returns). A
/// random-weight or badly prompted model can emit byte tokens that form no character; JSON
/// output needs valid UTF-8.
std::string valid_utf8(std::string_view text);

/// Turns ids into text as they are generated: emits only complete UTF-8 characters, holding
/// back a partial multi-byte sequence until its last byte arrives. Special tokens are skipped
/// (as decode(ids, /*skip_special=*/true)); the pushed pieces, joined with flush(), equal
/// decode() of all ids. One decoder per stream; not thread-safe.
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const LlmTokenizer& tokenizer) : tokenizer_(tokenizer) {}
  /// Text that became printable with `id` (may be empty).
  std::string push(int64_t id);
  /// Whatever is held back (invalid tail bytes), at the end.
  std::string flush();

 private:
  const LlmTokenizer& tokenizer_;
  std::string pending_;  ///< bytes of an incomplete UTF-8 character
  bool first_ = true;    ///< no text emitted yet (decode_drops_first_space)
};

}  // namespace sfvu::fusion
