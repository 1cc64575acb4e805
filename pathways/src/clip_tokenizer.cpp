#include "sfvu/pathways/clip_tokenizer.h"

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <string_view>
#include <unordered_map>

#include "sfvu/base/error.h"
#include "text_cleaning.h"

// Note [ftfy]
// OpenAI's basic_clean() runs ftfy.fix_text() before html.unescape(); we do not. ftfy is a
// heuristic Python library: it has no Debian package and no C/C++ counterpart, and its output
// depends on its version and on its mojibake detector, so a port would be guesswork that we
// could not even test (ftfy was not available to make the fixtures either: the reference ids
// in tests/fixtures/clip_tiny/tokenizer_cases.json were computed with a pass-through fix_text,
// see the fixture README "ftfy"). For text that fix_text leaves alone (ASCII, or NFC text with
// none of the forms below) our ids equal OpenAI's. With real ftfy (default settings) they
// differ where it would have changed the text:
//   - mojibake is not repaired: "cafÃ©" stays "cafÃ©" (-> "cafã©"), not "café";
//   - curly quotes stay curly: in "it’s", ’s is not the contraction 's;
//   - ligatures are not expanded: "ﬁsh" keeps U+FB01 instead of "fish";
//   - fullwidth forms stay fullwidth: "ＣＬＩＰ" is not "CLIP" (U+3000 is whitespace anyway);
//   - no NFC: a decomposed "café" (e + U+0301) tokenizes as e plus a combining accent;
//   - no third HTML unescape: fix_text unescapes once itself when the text has no '<', so
//     OpenAI turns "&amp;amp;amp;" into "&" where we give "&amp;";
//   - terminal escape sequences and the control characters ftfy removes are kept, and C1
//     controls are not reinterpreted as windows-1252.
// A caller that needs these fixes can run ftfy (or NFC normalization) on the text first.

namespace sfvu::pathways {
namespace {

using nlohmann::json;

constexpr std::string_view kSotToken = "<|startoftext|>";
constexpr std::string_view kEotToken = "<|endoftext|>";
constexpr std::string_view kEndOfWord = "</w>";
// The BPE cache is cleared when it reaches this many words, so a long-running process that
// tokenizes an open-ended stream of text does not grow without bound.
constexpr size_t kMaxCachedWords = size_t{1} << 16;

// GPT-2/CLIP byte alphabet: bytes 33-126, 161-172 and 174-255 stand for the code point of the
// same value; the other 68 bytes, in increasing order, take U+0100, U+0101, ... (so every
// symbol is a printable, non-space character). Returns the UTF-8 of each byte's symbol.
std::array<std::string, 256> byte_symbols() {
  std::array<std::string, 256> symbols;
  char32_t next_free = 0x100;
  for (int b = 0; b < 256; ++b) {
    bool self = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
    char32_t symbol = self ? char32_t(b) : next_free++;
    symbols[size_t(b)] = text_cleaning::encode_utf8(std::u32string(1, symbol));
  }
  return symbols;
}

std::ifstream open_input(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw IoError("ClipTokenizer: cannot open " + std::string(what) + " '" + path +
                  "': " + std::strerror(errno));
  }
  return in;
}

// A line quoted in an error message, cut to a readable length.
std::string excerpt(const std::string& line) {
  constexpr size_t kMaxChars = 80;
  return line.size() <= kMaxChars ? line : line.substr(0, kMaxChars) + "...";
}

bool id_in_range(int64_t id) { return id >= 0 && id <= INT32_MAX; }

uint64_t pair_key(int32_t left, int32_t right) {
  return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
}

struct Merge {
  int32_t rank;       ///< line order in merges.txt: lower merges first
  int32_t merged_id;  ///< vocab id of left + right
};

}  // namespace

struct ClipTokenizer::Impl {
  std::unordered_map<std::string, int32_t> token_to_id;
  std::unordered_map<int32_t, std::string> id_to_token;
  std::array<int32_t, 256> byte_id{};      ///< symbol of each byte
  std::array<int32_t, 256> byte_eow_id{};  ///< the same with "</w>": a word's last byte
  std::unordered_map<uint64_t, Merge> merges;  ///< pair_key(left, right) -> merge
  int32_t sot_id = -1;
  int32_t eot_id = -1;

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;  ///< piece -> ids

  void load_vocab(const std::string& path);
  void load_merges(const std::string& path);
  int32_t id_of(const std::string& token) const {
    auto it = token_to_id.find(token);
    return it == token_to_id.end() ? -1 : it->second;
  }
  std::vector<int32_t> bpe(std::string_view piece) const;
  void append_piece_ids(const std::string& piece, std::vector<int64_t>& ids) const;
};

void ClipTokenizer::Impl::load_vocab(const std::string& path) {
  std::ifstream in = open_input(path, "vocab file");
  json vocab;
  try {
    vocab = json::parse(in);
  } catch (const json::exception& e) {
    throw FormatError("ClipTokenizer: " + path + " is not valid JSON: " + e.what());
  }
  if (!vocab.is_object()) {
    throw FormatError("ClipTokenizer: " + path + " must be a JSON object (token -> id), not " +
                      std::string(vocab.type_name()));
  }
  for (const auto& [token, value] : vocab.items()) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
        value.get<int64_t>() > INT32_MAX) {
      throw FormatError("ClipTokenizer: " + path + ": token '" + token +
                        "' has id " + value.dump() + ", expected an integer in [0, 2^31)");
    }
    auto id = int32_t(value.get<int64_t>());
    if (!id_to_token.emplace(id, token).second) {
      throw FormatError("ClipTokenizer: " + path + ": id " + std::to_string(id) +
                        " is used by both '" + id_to_token[id] + "' and '" + token + "'");
    }
    token_to_id.emplace(token, id);
  }
  std::array<std::string, 256> symbols = byte_symbols();
  for (size_t b = 0; b < 256; ++b) {
    byte_id[b] = id_of(symbols[b]);
    byte_eow_id[b] = id_of(symbols[b] + std::string(kEndOfWord));
    if (byte_id[b] < 0 || byte_eow_id[b] < 0) {
      throw FormatError("ClipTokenizer: " + path + " lacks the symbol of byte " +
                        std::to_string(b) + " ('" + symbols[b] + "' or with </w>)");
    }
  }
  sot_id = id_of(std::string(kSotToken));
  eot_id = id_of(std::string(kEotToken));
  if (sot_id < 0 || eot_id < 0) {
    throw FormatError("ClipTokenizer: " + path + " lacks " + std::string(kSotToken) + " or " +
                      std::string(kEotToken));
  }
}

// merges.txt: optional "#version" first line, then "left right" per line, in rank order.
// bpe() applies merges one pair at a time (Note [BPE order]), which equals OpenAI's loop when
// no merge produces a symbol that an earlier line already merges. Trained merges files are in
// that order; we check it here rather than silently tokenize differently.
void ClipTokenizer::Impl::load_merges(const std::string& path) {
  std::ifstream in = open_input(path, "merges file");
  std::unordered_map<int32_t, size_t> first_use_line;  // symbol id -> first line merging it
  std::string line;
  for (size_t line_no = 1; std::getline(in, line); ++line_no) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if ((line_no == 1 && line.rfind("#version", 0) == 0) || line.empty()) continue;
    const std::string where = "ClipTokenizer: " + path + ":" + std::to_string(line_no) + ": ";
    size_t space = line.find(' ');
    if (space == 0 || space == std::string::npos || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string::npos) {
      throw FormatError(where + "expected two symbols separated by one space, got '" +
                        excerpt(line) + "'");
    }
    std::string left = line.substr(0, space), right = line.substr(space + 1);
    int32_t left_id = id_of(left), right_id = id_of(right), merged_id = id_of(left + right);
    if (left_id < 0) throw FormatError(where + "symbol '" + left + "' is not in the vocab");
    if (right_id < 0) throw FormatError(where + "symbol '" + right + "' is not in the vocab");
    if (merged_id < 0) throw FormatError(where + "'" + left + right + "' is not in the vocab");
    first_use_line.emplace(left_id, line_no);
    first_use_line.emplace(right_id, line_no);
    auto used = first_use_line.find(merged_id);
    if (used != first_use_line.end()) {
      throw FormatError(where + "makes '" + left + right + "', which line " +
                        std::to_string(used->second) + " already merges (not in training order)");
    }
    auto rank = int32_t(merges.size());
    if (!merges.emplace(pair_key(left_id, right_id), Merge{rank, merged_id}).second) {
      throw FormatError(where + "duplicate merge '" + line + "'");
    }
  }
  if (in.bad()) throw IoError("ClipTokenizer: error reading '" + path + "'");
}

// Note [BPE order]
// OpenAI's bpe() repeatedly takes the lowest-ranked adjacent pair and merges all of its
// occurrences left to right. We pop pairs from a min-heap ordered by (rank, position) and merge
// one occurrence at a time: O(n log n) instead of O(n^2) per word. The two agree when every
// symbol that a merge creates is only merged again at a higher rank (checked by load_merges):
// then the pairs that a merge creates never outrank the current one, so all occurrences of the
// current pair are merged, leftmost first, before anything else, exactly as in OpenAI's pass.
std::vector<int32_t> ClipTokenizer::Impl::bpe(std::string_view piece) const {
  struct Symbol {
    int32_t id;  ///< -1 once merged into its left neighbour
    int32_t prev, next;
  };
  struct Candidate {
    int32_t rank, left, left_id, right_id, merged_id;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : left > o.left;
    }
  };
  const auto n = int32_t(piece.size());
  std::vector<Symbol> symbols(piece.size());
  for (int32_t i = 0; i < n; ++i) {
    auto byte = uint8_t(piece[i]);
    bool last = i + 1 == n;
    symbols[i] = {last ? byte_eow_id[byte] : byte_id[byte], i - 1, last ? -1 : i + 1};
  }
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto push_pair = [&](int32_t left) {
    if (left < 0 || symbols[left].next < 0) return;
    const Symbol& l = symbols[left];
    const Symbol& r = symbols[l.next];
    auto it = merges.find(pair_key(l.id, r.id));
    if (it != merges.end()) queue.push({it->second.rank, left, l.id, r.id, it->second.merged_id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push_pair(i);
  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    Symbol& l = symbols[c.left];
    // Stale when either side has changed since the push: ids only ever grow into longer
    // tokens, so equal ids mean the same two symbols.
    if (l.id != c.left_id || l.next < 0 || symbols[l.next].id != c.right_id) continue;
    Symbol& r = symbols[l.next];
    l.id = c.merged_id;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = c.left;
    r.id = -1;
    push_pair(l.prev);
    push_pair(c.left);
  }
  std::vector<int32_t> ids;
  for (int32_t i = n > 0 ? 0 : -1; i >= 0; i = symbols[i].next) ids.push_back(symbols[i].id);
  return ids;
}

void ClipTokenizer::Impl::append_piece_ids(const std::string& piece,
                                           std::vector<int64_t>& ids) const {
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    auto it = cache.find(piece);
    if (it != cache.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> piece_ids = bpe(piece);  // outside the lock: other threads go on
  ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
  std::lock_guard<std::mutex> lock(cache_mutex);
  if (cache.size() >= kMaxCachedWords) cache.clear();
  cache.emplace(piece, std::move(piece_ids));
}

ClipTokenizer::ClipTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClipTokenizer::ClipTokenizer(ClipTokenizer&&) noexcept = default;
ClipTokenizer& ClipTokenizer::operator=(ClipTokenizer&&) noexcept = default;
ClipTokenizer::~ClipTokenizer() = default;

ClipTokenizer ClipTokenizer::from_files(const std::string& vocab_json,
                                        const std::string& merges_txt) {
  auto impl = std::make_unique<Impl>();
  impl->load_vocab(vocab_json);
  impl->load_merges(merges_txt);
  return ClipTokenizer(std::move(impl));
}

ClipTokenizer ClipTokenizer::from_pretrained(const std::string& model_dir) {
  std::filesystem::path dir(model_dir);
  return from_files((dir / "vocab.json").string(), (dir / "merges.txt").string());
}

std::string ClipTokenizer::clean(const std::string& text) const {
  return text_cleaning::encode_utf8(text_cleaning::clean(text));  // no ftfy: Note [ftfy]
}

std::vector<int64_t> ClipTokenizer::encode(const std::string& text, int context_length) const {
  if (context_length < 1) {
    throw UsageError("ClipTokenizer::encode: context_length must be at least 1, got " +
                     std::to_string(context_length));
  }
  const auto context = size_t(context_length);
  const std::u32string cleaned = text_cleaning::clean(text);
  std::vector<int64_t> ids{impl_->sot_id};
  size_t pos = 0;
  std::u32string_view piece;
  // Once `context` ids are there, truncation will drop everything after them: stop early.
  while (ids.size() < context && text_cleaning::next_piece(cleaned, pos, piece)) {
    std::string utf8 = text_cleaning::encode_utf8(piece);
    // Only the exact strings are special: "<|ſtartoftext|>" matches the pattern's first
    // alternative (IGNORECASE) but goes through BPE, as in OpenAI's code.
    if (utf8 == kSotToken) {
      ids.push_back(impl_->sot_id);
    } else if (utf8 == kEotToken) {
      ids.push_back(impl_->eot_id);
    } else {
      impl_->append_piece_ids(utf8, ids);
    }
  }
  ids.push_back(impl_->eot_id);
  if (ids.size() > context) {  // clip.tokenize(truncate=True)
    ids.resize(context);
    ids.back() = impl_->eot_id;
  }
  return ids;
}

std::vector<int64_t> ClipTokenizer::encode_padded(const std::string& text, int context_length,
                                                  int64_t pad_id) const {
  std::vector<int64_t> ids = encode(text, context_length);
  ids.resize(size_t(context_length), pad_id);
  return ids;
}

std::vector<std::string> ClipTokenizer::tokens(const std::vector<int64_t>& ids) const {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (int64_t id : ids) {
    auto it = id_in_range(id) ? impl_->id_to_token.find(int32_t(id)) : impl_->id_to_token.end();
    if (it == impl_->id_to_token.end()) {
      throw UsageError("ClipTokenizer::tokens: id " + std::to_string(id) + " is not in the vocab");
    }
    out.push_back(it->second);
  }
  return out;
}

int64_t ClipTokenizer::sot_id() const { return impl_->sot_id; }
int64_t ClipTokenizer::eot_id() const { return impl_->eot_id; }
size_t ClipTokenizer::vocab_size() const { return impl_->token_to_id.size(); }

}  // namespace sfvu::pathways
