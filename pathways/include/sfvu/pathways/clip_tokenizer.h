// sfvu/pathways/clip_tokenizer.h: CLIP's byte-level BPE tokenizer, as OpenAI's
// `clip.tokenize(texts, context_length=77, truncate=True)` computes it, from the Hugging Face
// files `vocab.json` + `merges.txt`.
//
// Steps (see tests/fixtures/clip_tiny/README.md "Tokenizer"):
//   1. clean: HTML-unescape twice (all HTML5 named references, decimal and hex), strip,
//      collapse whitespace runs to one space, strip, Unicode lower-case (as Python's
//      str.lower(), final sigma included). ftfy's fixes are NOT applied (see Note in the .cpp).
//   2. split with <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+
//   3. each piece: UTF-8 bytes -> byte symbols, "</w>" on the last, merges by rank
//      (the byte-level BPE core shared with the Qwen2 tokenizer: sfvu/pathways/byte_bpe.h).
//   4. [sot] + ids + [eot]; longer than the context: keep the first `context` ids, last = eot.
//
// Thread safety: immutable after construction; encode() may run concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace sfvu::pathways {

class ClipTokenizer {
 public:
  static constexpr int kContextLength = 77;

  /// Loads vocab.json (token -> id) and merges.txt ("#version" header, then one merge per
  /// line in rank order). Throws IoError / FormatError naming the file (and line).
  static ClipTokenizer from_files(const std::string& vocab_json, const std::string& merges_txt);
  /// from_files(dir/vocab.json, dir/merges.txt)
  static ClipTokenizer from_pretrained(const std::string& model_dir);

  /// Step 1 only (the reference's `cleaned_text`).
  std::string clean(const std::string& text) const;
  /// SOT ... EOT, no padding; truncated to `context_length` ids with EOT kept last.
  std::vector<int64_t> encode(const std::string& text, int context_length = kContextLength) const;
  /// encode() padded with `pad_id` (OpenAI: 0) to exactly `context_length`.
  std::vector<int64_t> encode_padded(const std::string& text, int context_length = kContextLength,
                                     int64_t pad_id = 0) const;
  /// Vocab strings of `ids` (for debugging and the CLI).
  std::vector<std::string> tokens(const std::vector<int64_t>& ids) const;

  int64_t sot_id() const;  ///< <|startoftext|> (49406 in CLIP's vocab)
  int64_t eot_id() const;  ///< <|endoftext|> (49407)
  size_t vocab_size() const;

  ClipTokenizer(ClipTokenizer&&) noexcept;
  ClipTokenizer& operator=(ClipTokenizer&&) noexcept;
  ~ClipTokenizer();

 private:
  struct Impl;
  explicit ClipTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sfvu::pathways
