// sfvu/fusion/word_tokenizer.h: a word-level vocabulary for models trained from scratch on a
// small closed language (the synthetic benchmark's queries). Pretrained backbones use CLIP's
// BPE (pathways/clip_tokenizer.h) instead.
//
// Text is lower-cased and split into runs of letters/digits; punctuation is dropped. Ids:
// 0 <pad>, 1 <unk>, 2 <sot>, words..., and <eot> last, so that CLIP's text tower pools at
// argmax(ids) = the end of the text as with CLIP's own vocabulary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sfvu::fusion {

class WordTokenizer {
 public:
  static constexpr int64_t kPad = 0, kUnk = 1, kSot = 2;
  /// The vocabulary of `texts` (sorted, deduplicated words).
  static WordTokenizer from_texts(const std::vector<std::string>& texts);
  /// `words` as stored in a model folder (without the special tokens).
  static WordTokenizer from_words(std::vector<std::string> words);
  /// Reads `path` ({"type": "word", "words": [...]}); throws IoError / FormatError naming it.
  static WordTokenizer from_file(const std::string& path);
  void save(const std::string& path) const;  ///< atomic (temporary file + rename)

  static std::vector<std::string> split(const std::string& text);
  /// <sot> words <eot>, at most `max_length` ids (words cut, <eot> kept).
  std::vector<int64_t> encode(const std::string& text, int max_length) const;
  int64_t eot_id() const { return static_cast<int64_t>(words_.size()) + 3; }
  int64_t vocab_size() const { return eot_id() + 1; }
  const std::vector<std::string>& words() const { return words_; }

 private:
  std::vector<std::string> words_;  ///< sorted
};

}  // namespace sfvu::fusion
