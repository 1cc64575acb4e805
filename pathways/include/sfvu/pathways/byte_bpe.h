// sfvu/pathways/byte_bpe.h: the byte-level BPE core shared by CLIP's tokenizer and the Qwen2
// LLM tokenizer (GPT-2's scheme), from the Hugging Face files vocab.json + merges.txt.
//
// A caller pre-tokenises text its own way (CLIP: lower-case + its split pattern; Qwen2: NFC +
// a GPT-4-style pattern) and hands each piece's raw UTF-8 bytes to encode_piece(), which maps
// every byte to its symbol of the 256-symbol byte alphabet, optionally suffixes the last one
// with an end-of-word marker (CLIP: "</w>"), and merges adjacent symbols by rank.
//
// Usage:
//   auto bpe = pathways::ByteBpe::from_files(dir + "/vocab.json", dir + "/merges.txt",
//                                            {/*end_of_word=*/"", ...});
//   std::vector<int64_t> ids;
//   bpe.encode_piece(" world", ids);   // -> the id of "Ġworld"
//
// Thread safety: immutable after loading except for an internal, mutex-guarded cache of
// recent pieces; encode_piece() may run concurrently.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sfvu::pathways {

/// GPT-2's byte alphabet: bytes 33-126, 161-172 and 174-255 stand for the code point of the
/// same value; the other 68 bytes, in increasing order, take U+0100, U+0101, ... (so every
/// symbol is a printable, non-space character: ' ' is "Ġ", '\n' is "Ċ"). UTF-8 of each symbol.
const std::array<std::string, 256>& byte_level_alphabet();
/// Bytes -> their byte-level string ("a b" -> "aĠb").
std::string to_byte_level(std::string_view bytes);
/// Byte-level string -> bytes, appended to `bytes`. False (and `bytes` partly appended) when
/// `text` holds a character that is not a byte symbol.
bool from_byte_level(std::string_view text, std::string& bytes);

struct ByteBpeOptions {
  /// Suffix of a piece's last symbol: "" for GPT-2 / Qwen2, "</w>" for CLIP. The vocab must
  /// hold all 256 byte symbols, and each again with the suffix when it is not empty.
  std::string end_of_word;
  /// What to do with merges that are not in training order (Note [BPE order] in the .cpp):
  /// true = FormatError naming the line; false = tokenize with the exact (slower) rank loop.
  bool reject_out_of_order_merges = false;
  /// First word of every error message, e.g. "ClipTokenizer".
  std::string owner = "ByteBpe";
  /// Pieces whose ids are cached; the cache is emptied when full, so it cannot grow unbounded.
  size_t max_cached_pieces = size_t{1} << 16;
};

class ByteBpe {
 public:
  /// Loads vocab.json (a JSON object token -> id) and merges.txt (optional "#version" first
  /// line, then "left right" per line in rank order, LF or CRLF). Throws IoError when a file
  /// cannot be read and FormatError naming the file (and line or token) when it is malformed.
  static ByteBpe from_files(const std::string& vocab_json, const std::string& merges_txt,
                            const ByteBpeOptions& options = {});

  /// Appends the ids of one pre-tokenised piece, given as raw bytes (empty: appends nothing).
  void encode_piece(std::string_view piece, std::vector<int64_t>& ids) const;
  /// Hugging Face's rank loop itself (repeatedly merge every occurrence of the lowest-ranked
  /// pair), uncached; encode_piece() uses it only when the merges are out of training order.
  /// For tests that compare it with the fast path.
  std::vector<int64_t> encode_piece_exact(std::string_view piece) const;

  int64_t id_of(std::string_view token) const;  ///< vocab id of `token`, -1 when absent
  /// Vocab string of `id` (valid as long as this ByteBpe), nullopt when absent.
  std::optional<std::string_view> token_of(int64_t id) const;
  size_t vocab_size() const;  ///< entries of vocab.json
  int64_t max_id() const;     ///< largest id of vocab.json (-1 when empty)
  size_t merge_count() const;
  bool merges_in_training_order() const;  ///< the fast path is exact

  ByteBpe(ByteBpe&&) noexcept;
  ByteBpe& operator=(ByteBpe&&) noexcept;
  ~ByteBpe();

 private:
  struct Impl;
  explicit ByteBpe(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sfvu::pathways
