// tokenizer_folder.h (private): what the Qwen2 and Llama tokenizers share: the Hugging Face
// tokenizer files of a model folder (tokenizer_config.json, tokenizer.json, added_tokens.json)
// and the split of text around added tokens. Implemented in llm_tokenizer.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sfvu/fusion/llm_tokenizer.h"

namespace sfvu::fusion::detail {

/// One entry of "added_tokens_decoder" / "added_tokens" (HF's AddedToken).
struct AddedToken {
  std::string content;
  int64_t id = -1;
  bool special = false;  ///< dropped by decode(skip_special)
  bool lstrip = false;   ///< eats the whitespace on its left
  bool rstrip = false;   ///< eats the whitespace on its right
};

/// Added tokens, matched verbatim in text before any other processing.
class AddedTokens {
 public:
  struct Segment {
    std::string_view text;              ///< plain text (token == nullptr), never empty
    const AddedToken* token = nullptr;  ///< an added token
  };

  AddedTokens() = default;
  explicit AddedTokens(std::vector<AddedToken> tokens);

  /// `text` cut around every added token, leftmost-longest first, as HF's Trie.split; then
  /// lstrip/rstrip applied to the neighbouring text (Python's str.strip whitespace) and empty
  /// text dropped, as PreTrainedTokenizer.tokenize does. Views into `text`.
  std::vector<Segment> split(std::string_view text) const;
  const AddedToken* find(int64_t id) const;         ///< nullptr when `id` is no added token
  int64_t id_of(const std::string& content) const;  ///< -1 when absent
  int64_t max_id() const;                           ///< -1 when empty
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  std::vector<AddedToken> tokens_;  ///< by id
  std::unordered_map<int64_t, size_t> by_id_;
  std::unordered_map<std::string, size_t> by_content_;
  std::array<bool, 256> first_byte_{};  ///< bytes some token starts with
};

/// The tokenizer files of a model folder, as far as both tokenizers need them.
struct TokenizerFolder {
  std::string dir;
  nlohmann::json config;          ///< tokenizer_config.json; null when absent
  nlohmann::json tokenizer_json;  ///< tokenizer.json without its "model"; null when absent or unread
  /// From tokenizer_config.json "added_tokens_decoder", tokenizer.json "added_tokens" and
  /// added_tokens.json (first one naming an id wins), sorted by id.
  std::vector<AddedToken> added_tokens;

  /// Reads whichever of the files exist. tokenizer.json (7 MB for Qwen2) is parsed only when
  /// `settings_from_tokenizer_json` or when tokenizer_config.json has no added_tokens_decoder.
  /// FormatError naming the file and key when one is malformed; IoError when one exists but
  /// cannot be read.
  static TokenizerFolder read(const std::string& dir, bool settings_from_tokenizer_json);
  std::string path(const std::string& file) const;  ///< dir/file
  /// A special-token name of tokenizer_config.json ("eos_token": "<|im_end|>" or
  /// {"content": ...}); `fallback` when absent or null.
  std::string config_token(const std::string& key, const std::string& fallback) const;
  /// Adds `token` unless its content or id is already there (HF adds unk/bos/eos this way).
  void add_if_absent(const AddedToken& token);
};

std::unique_ptr<LlmTokenizer> load_qwen2_tokenizer(TokenizerFolder folder);
std::unique_ptr<LlmTokenizer> load_llama_tokenizer(TokenizerFolder folder);

/// The bytes of `path`; IoError starting with `owner` ("LlamaTokenizer") when unreadable.
std::string read_file(const std::string& path, const std::string& owner);

/// Python's str.isspace(): general category Zs or bidi class WS, B or S.
bool is_python_space(uint32_t code_point);

}  // namespace sfvu::fusion::detail
