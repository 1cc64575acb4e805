// The Qwen2 tokenizer (transformers' Qwen2Tokenizer): NFC, added tokens, the split pattern
// below, then byte-level BPE (pathways::ByteBpe, no end-of-word suffix).
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

#include <algorithm>

#include "sfvu/base/error.h"
#include "sfvu/pathways/byte_bpe.h"
#include "tokenizer_folder.h"

namespace sfvu::fusion::detail {
namespace {

constexpr const char* kEndOfText = "<|endoftext|>";

bool is_letter(UChar32 c) { return (U_GET_GC_MASK(c) & U_GC_L_MASK) != 0; }  // \p{L}
bool is_number(UChar32 c) { return (U_GET_GC_MASK(c) & U_GC_N_MASK) != 0; }  // \p{N}
// \s of Python's `regex` module (Qwen2Tokenizer imports it): Unicode White_Space.
bool is_space(UChar32 c) { return u_isUWhiteSpace(c) != 0; }
bool is_line_break(UChar32 c) { return c == '\r' || c == '\n'; }
bool is_other(UChar32 c) { return !is_space(c) && !is_letter(c) && !is_number(c); }

// Simple case folding, as the (?i:...) group matches: U+017F (long s) is an 's'.
bool folds_to(UChar32 c, char ascii_lower) {
  return c == ascii_lower || u_foldCase(c, U_FOLD_CASE_DEFAULT) == UChar32(ascii_lower);
}

// Note [Qwen2 split pattern]
// Qwen2Tokenizer splits with
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//   \s*[\r\n]+|\s+(?!\S)|\s+
// via regex.findall. Every code point matches some alternative (it is a letter, a number,
// whitespace or none of these), so the pieces tile the text. At each position the first
// alternative that matches wins, with backtracking inside it:
//   - \s*[\r\n]+ takes the whitespace run up to and including its LAST \r or \n;
//   - \s+(?!\S) takes a whitespace run that ends the text, or all of a run but its last
//     character (which then starts the next piece, e.g. " Hello" after "\n   ");
//   - \p{N} is ONE number character: "333" is three pieces.
// The reference ids (../shared/fixtures/tokenizers/qwen2_bpe/cases.json) cover every branch.
class Qwen2Splitter {
 public:
  explicit Qwen2Splitter(std::string_view utf8) : text_(utf8) {
    const auto* p = reinterpret_cast<const uint8_t*>(utf8.data());
    const auto n = int32_t(utf8.size());
    for (int32_t i = 0; i < n;) {
      offsets_.push_back(size_t(i));
      UChar32 c;
      U8_NEXT_OR_FFFD(p, i, n, c);
      cps_.push_back(c);
    }
    offsets_.push_back(utf8.size());
  }

  /// Calls `emit(piece)` for every piece, in order.
  template <typename Emit>
  void for_each_piece(Emit&& emit) const {
    for (size_t pos = 0; pos < cps_.size();) {
      size_t len = match(pos);
      emit(text_.substr(offsets_[pos], offsets_[pos + len] - offsets_[pos]));
      pos += len;
    }
  }

 private:
  // Length in code points of the match at `p` (at least 1).
  size_t match(size_t p) const {
    const size_t n = cps_.size();
    auto at = [&](size_t i) { return i < n ? cps_[i] : UChar32(-1); };
    auto run = [&](size_t i, bool (*pred)(UChar32)) {  // end of the run of `pred` from i
      while (i < n && pred(cps_[i])) ++i;
      return i;
    };
    const UChar32 c = cps_[p];
    // (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if (c == '\'') {
      UChar32 a = at(p + 1), b = at(p + 2);
      if (folds_to(a, 's') || folds_to(a, 't') || folds_to(a, 'm') || folds_to(a, 'd')) return 2;
      if ((folds_to(a, 'r') && folds_to(b, 'e')) || (folds_to(a, 'v') && folds_to(b, 'e')) ||
          (folds_to(a, 'l') && folds_to(b, 'l'))) {
        return 3;
      }
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (is_letter(c)) return run(p, is_letter) - p;
    if (!is_line_break(c) && !is_number(c) && p + 1 < n && is_letter(cps_[p + 1])) {
      return run(p + 1, is_letter) - p;
    }
    // \p{N}
    if (is_number(c)) return 1;
    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
    size_t q = c == ' ' ? p + 1 : p;
    if (q < n && is_other(cps_[q])) return run(run(q, is_other), is_line_break) - p;
    // The rest start with whitespace (c is neither letter, number nor other).
    const size_t space_end = run(p, is_space);
    // \s*[\r\n]+
    for (size_t i = space_end; i > p; --i) {
      if (is_line_break(cps_[i - 1])) return i - p;
    }
    // \s+(?!\S), then \s+
    if (space_end == n || space_end - p == 1) return space_end - p;
    return space_end - 1 - p;
  }

  std::string_view text_;
  std::vector<UChar32> cps_;
  std::vector<size_t> offsets_;  ///< byte offset of each code point, then the end
};

// NFC (unicodedata.normalize("NFC", text)); ill-formed UTF-8 becomes U+FFFD first.
std::string to_nfc(const std::string& text) {
  if (std::all_of(text.begin(), text.end(), [](char c) { return uint8_t(c) < 0x80; })) return text;
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* nfc = unorm2_getNFCInstance(&status);
  std::u16string utf16(text.size(), u'\0');
  int32_t length = 0;
  u_strFromUTF8WithSub(utf16.data(), int32_t(utf16.size()), &length, text.data(), int32_t(text.size()),
                       0xFFFD, nullptr, &status);
  utf16.resize(size_t(std::max(length, 0)));
  std::u16string normalized(utf16.size() * 3 + 1, u'\0');  // NFC grows text at most 3x
  length = unorm2_normalize(nfc, utf16.data(), int32_t(utf16.size()), normalized.data(),
                            int32_t(normalized.size()), &status);
  normalized.resize(size_t(std::max(length, 0)));
  std::string utf8(normalized.size() * 3, '\0');
  u_strToUTF8(utf8.data(), int32_t(utf8.size()), &length, normalized.data(), int32_t(normalized.size()),
              &status);
  if (U_FAILURE(status)) {
    throw FormatError(std::string("Qwen2Tokenizer: NFC normalisation failed: ") + u_errorName(status));
  }
  utf8.resize(size_t(length));
  return utf8;
}

class Qwen2Tokenizer final : public LlmTokenizer {
 public:
  Qwen2Tokenizer(pathways::ByteBpe bpe, AddedTokens added, int64_t eos_id)
      : bpe_(std::move(bpe)), added_(std::move(added)), eos_id_(eos_id) {}

  // Note [Qwen2 NFC]: the slow tokenizer normalises the whole text before it looks for added
  // tokens (prepare_for_tokenization); the fast one only the text between them. They differ
  // only when NFC composes across a token's edge (">" + U+0338 is U+226F).
  std::vector<int64_t> encode(const std::string& text, bool /*add_bos: Qwen2 has none*/) const override {
    const std::string normalized = to_nfc(text);
    std::vector<int64_t> ids;
    for (const AddedTokens::Segment& segment : added_.split(normalized)) {
      if (segment.token != nullptr) {
        ids.push_back(segment.token->id);
        continue;
      }
      Qwen2Splitter(segment.text).for_each_piece([&](std::string_view piece) {
        bpe_.encode_piece(piece, ids);
      });
    }
    return ids;
  }

  std::string decode(const std::vector<int64_t>& ids, bool skip_special) const override {
    std::string out;
    for (int64_t id : ids) {
      if (!(skip_special && is_special(id))) out += token_bytes(id);
    }
    return out;
  }

  std::string token_bytes(int64_t id) const override {
    if (const AddedToken* t = added_.find(id)) return t->content;
    if (!bpe_.token_of(id)) return "";  // no token (a padding row of the embedding)
    std::string bytes;
    if (!pathways::from_byte_level(vocab_token(id), bytes)) {
      throw FormatError("Qwen2Tokenizer: vocab token " + std::to_string(id) + " '" +
                        std::string(vocab_token(id)) + "' is not a byte-level string");
    }
    return bytes;
  }

  std::string token_string(int64_t id) const override {
    if (const AddedToken* t = added_.find(id)) return t->content;
    return std::string(vocab_token(id));
  }

  int64_t token_id(const std::string& token) const override {
    int64_t id = added_.id_of(token);
    return id >= 0 ? id : bpe_.id_of(token);
  }

  bool is_special(int64_t id) const override {
    const AddedToken* t = added_.find(id);
    return t != nullptr && t->special;
  }
  int64_t vocab_size() const override { return std::max(bpe_.max_id(), added_.max_id()) + 1; }
  int64_t bos_id() const override { return -1; }
  int64_t eos_id() const override { return eos_id_; }
  std::string kind() const override { return "qwen2_bpe"; }
  bool decode_drops_first_space() const override { return false; }

 private:
  std::string_view vocab_token(int64_t id) const {
    std::optional<std::string_view> token = bpe_.token_of(id);
    if (!token) {
      throw UsageError("Qwen2Tokenizer: id " + std::to_string(id) + " is not in the vocab (size " +
                       std::to_string(vocab_size()) + ")");
    }
    return *token;
  }

  pathways::ByteBpe bpe_;
  AddedTokens added_;
  int64_t eos_id_;
};

}  // namespace

std::unique_ptr<LlmTokenizer> load_qwen2_tokenizer(TokenizerFolder folder) {
  pathways::ByteBpeOptions options;
  options.owner = "Qwen2Tokenizer";
  pathways::ByteBpe bpe =
      pathways::ByteBpe::from_files(folder.path("vocab.json"), folder.path("merges.txt"), options);
  // Qwen2Tokenizer's unk/eos/pad default; HF appends it after the vocab when no file names it.
  AddedToken end_of_text{kEndOfText, std::max(bpe.max_id(), int64_t{-1}) + 1, true, false, false};
  for (const AddedToken& t : folder.added_tokens) end_of_text.id = std::max(end_of_text.id, t.id + 1);
  folder.add_if_absent(end_of_text);
  for (const AddedToken& t : folder.added_tokens) {
    if (std::optional<std::string_view> clash = bpe.token_of(t.id); clash && *clash != t.content) {
      throw FormatError("Qwen2Tokenizer: " + folder.dir + ": added token '" + t.content + "' has id " +
                        std::to_string(t.id) + ", which vocab.json gives to '" + std::string(*clash) + "'");
    }
  }
  AddedTokens added(folder.added_tokens);
  const std::string eos = folder.config_token("eos_token", kEndOfText);
  int64_t eos_id = added.id_of(eos);
  if (eos_id < 0) eos_id = bpe.id_of(eos);
  if (eos_id < 0) {
    throw FormatError("Qwen2Tokenizer: " + folder.path("tokenizer_config.json") + ": eos_token '" + eos +
                      "' is neither an added token nor in vocab.json");
  }
  return std::make_unique<Qwen2Tokenizer>(std::move(bpe), std::move(added), eos_id);
}

}  // namespace sfvu::fusion::detail
