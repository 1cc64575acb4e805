#include "sfvu/pathways/byte_bpe.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <queue>
#include <unordered_map>
#include <utility>

#include "flat_index.h"
#include "sfvu/base/error.h"
#include "text_cleaning.h"

namespace sfvu::pathways {
namespace {

using nlohmann::json;

// Code point of each byte's symbol (see byte_level_alphabet()); all are below U+0144.
constexpr char32_t kAlphabetEnd = 0x144;

char32_t byte_symbol_code_point(int byte, char32_t& next_free) {
  bool self = (byte >= 33 && byte <= 126) || (byte >= 161 && byte <= 172) || byte >= 174;
  return self ? char32_t(byte) : next_free++;
}

// Code point -> byte, -1 for code points that are no byte's symbol.
const std::array<int16_t, kAlphabetEnd>& symbol_bytes() {
  static const std::array<int16_t, kAlphabetEnd> table = [] {
    std::array<int16_t, kAlphabetEnd> t;
    t.fill(-1);
    char32_t next_free = 0x100;
    for (int b = 0; b < 256; ++b) t[byte_symbol_code_point(b, next_free)] = int16_t(b);
    return t;
  }();
  return table;
}

std::string read_file(const std::string& path, const std::string& owner, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw IoError(owner + ": cannot open " + what + " '" + path + "': " + std::strerror(errno));
  }
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError(owner + ": error reading '" + path + "'");
  return content;
}

// A line quoted in an error message, cut to a readable length.
std::string excerpt(std::string_view line) {
  constexpr size_t kMaxChars = 80;
  return line.size() <= kMaxChars ? std::string(line) : std::string(line.substr(0, kMaxChars)) + "...";
}

uint64_t pair_key(int32_t left, int32_t right) { return (uint64_t(uint32_t(left)) << 32) | uint32_t(right); }

struct Merge {
  int32_t rank;       ///< line order in merges.txt: lower merges first
  int32_t merged_id;  ///< vocab id of left + right
};

// vocab.json through nlohmann's SAX interface: no DOM of 150k nodes, so Qwen2's vocab loads in
// a fraction of the time. Accepts exactly one object of integer values.
class VocabReader : public json::json_sax_t {
 public:
  VocabReader(std::string where, StringIndex& token_to_id)
      : where_(std::move(where)), token_to_id_(token_to_id) {}

  bool null() override { return value("null", "null"); }
  bool boolean(bool v) override { return value("boolean", v ? "true" : "false"); }
  bool number_integer(number_integer_t v) override {
    return v < 0 ? value("number", std::to_string(v)) : add(uint64_t(v), std::to_string(v));
  }
  bool number_unsigned(number_unsigned_t v) override { return add(v, std::to_string(v)); }
  bool number_float(number_float_t, const string_t& s) override { return value("number", s); }
  bool string(string_t& s) override { return value("string", json(s).dump()); }
  bool binary(binary_t&) override { return value("binary", "binary"); }
  bool start_object(std::size_t) override { return depth_++ == 0 ? true : value("object", "an object"); }
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override { return value("array", "an array"); }
  bool end_array() override { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    throw FormatError(where_ + " is not valid JSON: " + e.what());
  }

 private:
  // A value that is not an id (or a top level that is not an object).
  bool value(const char* type, const std::string& text) {
    if (depth_ == 0) {
      throw FormatError(where_ + " must be a JSON object (token -> id), not " + type);
    }
    throw FormatError(where_ + ": token '" + key_ + "' has id " + text +
                      ", expected an integer in [0, 2^31)");
  }
  bool add(uint64_t id, const std::string& text) {
    if (depth_ == 0 || id > uint64_t(INT32_MAX)) return value("number", text);
    if (!token_to_id_.insert(key_, int32_t(id))) {
      throw FormatError(where_ + ": token '" + key_ + "' appears twice");
    }
    return true;
  }

  std::string where_;
  StringIndex& token_to_id_;
  std::string key_;
  int depth_ = 0;
};

}  // namespace

const std::array<std::string, 256>& byte_level_alphabet() {
  static const std::array<std::string, 256> symbols = [] {
    std::array<std::string, 256> s;
    char32_t next_free = 0x100;
    for (int b = 0; b < 256; ++b) {
      s[size_t(b)] = text_cleaning::encode_utf8(std::u32string(1, byte_symbol_code_point(b, next_free)));
    }
    return s;
  }();
  return symbols;
}

std::string to_byte_level(std::string_view bytes) {
  const auto& alphabet = byte_level_alphabet();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += alphabet[uint8_t(c)];
  return out;
}

bool from_byte_level(std::string_view text, std::string& bytes) {
  const auto& table = symbol_bytes();
  for (size_t i = 0; i < text.size();) {
    auto lead = uint8_t(text[i]);
    char32_t cp;
    if (lead < 0x80) {
      cp = lead;
      i += 1;
    } else if ((lead & 0xE0) == 0xC0 && i + 1 < text.size() && (uint8_t(text[i + 1]) & 0xC0) == 0x80) {
      cp = (char32_t(lead & 0x1F) << 6) | (uint8_t(text[i + 1]) & 0x3F);
      i += 2;
    } else {
      return false;  // 3- and 4-byte characters are no symbols
    }
    if (cp >= kAlphabetEnd || table[cp] < 0) return false;
    bytes += char(table[cp]);
  }
  return true;
}

struct ByteBpe::Impl {
  ByteBpeOptions options;
  StringIndex token_to_id;
  U64Index<int32_t> id_to_entry;  ///< id -> entry of token_to_id
  int32_t max_id = -1;
  std::array<int32_t, 256> byte_id{};      ///< symbol of each byte
  std::array<int32_t, 256> byte_eow_id{};  ///< the same with the end-of-word suffix
  U64Index<Merge> merges;                  ///< pair_key(left, right) -> merge
  bool in_training_order = true;

  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;  ///< piece -> ids

  int32_t id_of(std::string_view token) const { return token_to_id.find(token); }
  void load_vocab(const std::string& path);
  void load_merges(const std::string& path);
  std::vector<int32_t> byte_symbols(std::string_view piece) const;
  const Merge* find_merge(int32_t left, int32_t right) const { return merges.find(pair_key(left, right)); }
  std::vector<int32_t> bpe_heap(std::string_view piece) const;
  std::vector<int32_t> bpe_rank_loop(std::string_view piece) const;
};

void ByteBpe::Impl::load_vocab(const std::string& path) {
  const std::string& owner = options.owner;
  std::string content = read_file(path, owner, "vocab file");
  VocabReader reader(owner + ": " + path, token_to_id);
  token_to_id.reserve(content.size() / 16);
  json::sax_parse(content, &reader);
  id_to_entry.reserve(token_to_id.size());
  for (size_t e = 0; e < token_to_id.size(); ++e) {
    const int32_t id = token_to_id.value(e);
    if (!id_to_entry.insert(uint64_t(id), int32_t(e))) {
      throw FormatError(owner + ": " + path + ": id " + std::to_string(id) + " is used by both '" +
                        std::string(token_to_id.key(size_t(*id_to_entry.find(uint64_t(id))))) + "' and '" +
                        std::string(token_to_id.key(e)) + "'");
    }
    max_id = std::max(max_id, id);
  }
  const auto& alphabet = byte_level_alphabet();
  const std::string& eow = options.end_of_word;
  for (size_t b = 0; b < 256; ++b) {
    byte_id[b] = id_of(alphabet[b]);
    byte_eow_id[b] = eow.empty() ? byte_id[b] : id_of(alphabet[b] + eow);
    if (byte_id[b] < 0 || byte_eow_id[b] < 0) {
      throw FormatError(owner + ": " + path + " lacks the symbol of byte " + std::to_string(b) + " ('" +
                        alphabet[b] + "'" + (eow.empty() ? "" : " or with " + eow) + ")");
    }
  }
}

// merges.txt: optional "#version" first line, then "left right" per line, in rank order.
// Note [BPE order]: the heap in bpe_heap() equals the rank loop when no merge produces a symbol
// that an earlier line already merges. Trained merges files are in that order (CLIP's, and
// Qwen2's 151,387 merges); we check it here rather than silently tokenize differently.
void ByteBpe::Impl::load_merges(const std::string& path) {
  const std::string& owner = options.owner;
  const std::string content = read_file(path, owner, "merges file");
  U64Index<uint32_t> first_use_line;  // symbol id -> first line merging it
  merges.reserve(token_to_id.size());
  first_use_line.reserve(token_to_id.size());
  std::string merged;  // reused for left + right
  const std::string_view text(content);
  size_t line_no = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if ((line_no == 1 && line.rfind("#version", 0) == 0) || line.empty()) continue;
    auto where = [&] { return owner + ": " + path + ":" + std::to_string(line_no) + ": "; };
    size_t space = line.find(' ');
    if (space == 0 || space == std::string_view::npos || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos) {
      throw FormatError(where() + "expected two symbols separated by one space, got '" + excerpt(line) + "'");
    }
    std::string_view left = line.substr(0, space), right = line.substr(space + 1);
    int32_t left_id = id_of(left);
    if (left_id < 0) throw FormatError(where() + "symbol '" + std::string(left) + "' is not in the vocab");
    int32_t right_id = id_of(right);
    if (right_id < 0) throw FormatError(where() + "symbol '" + std::string(right) + "' is not in the vocab");
    int32_t merged_id = id_of(merged.assign(left).append(right));
    if (merged_id < 0) throw FormatError(where() + "'" + merged + "' is not in the vocab");
    first_use_line.insert(uint64_t(left_id), uint32_t(line_no));  // keeps the first line
    first_use_line.insert(uint64_t(right_id), uint32_t(line_no));
    if (const uint32_t* used = first_use_line.find(uint64_t(merged_id))) {
      if (options.reject_out_of_order_merges) {
        throw FormatError(where() + "makes '" + merged + "', which line " + std::to_string(*used) +
                          " already merges (not in training order)");
      }
      in_training_order = false;
    }
    auto rank = int32_t(merges.size());
    if (!merges.insert(pair_key(left_id, right_id), Merge{rank, merged_id})) {
      throw FormatError(where() + "duplicate merge '" + std::string(line) + "'");
    }
  }
}

std::vector<int32_t> ByteBpe::Impl::byte_symbols(std::string_view piece) const {
  std::vector<int32_t> ids(piece.size());
  for (size_t i = 0; i < piece.size(); ++i) {
    auto byte = uint8_t(piece[i]);
    ids[i] = i + 1 == piece.size() ? byte_eow_id[byte] : byte_id[byte];
  }
  return ids;
}

// Note [BPE order]
// Hugging Face's (and OpenAI's) bpe() repeatedly takes the lowest-ranked adjacent pair and
// merges all of its occurrences left to right (bpe_rank_loop). We pop pairs from a min-heap
// ordered by (rank, position) and merge one occurrence at a time: O(n log n) instead of O(n^2)
// per piece. The two agree when every symbol that a merge creates is only merged again at a
// higher rank (checked by load_merges): then the pairs that a merge creates never outrank the
// current one, so all occurrences of the current pair are merged, leftmost first, before
// anything else, exactly as in the loop's pass. Counter-example out of order: merges "ab a"
// then "a b" turn "abab" into "ab","ab" in the loop but "aba","b" in the heap.
std::vector<int32_t> ByteBpe::Impl::bpe_heap(std::string_view piece) const {
  struct Symbol {
    int32_t id;  ///< -1 once merged into its left neighbour
    int32_t prev, next;
  };
  struct Candidate {
    int32_t rank, left, left_id, right_id, merged_id;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  const std::vector<int32_t> initial = byte_symbols(piece);
  const auto n = int32_t(initial.size());
  std::vector<Symbol> symbols(initial.size());
  for (int32_t i = 0; i < n; ++i) symbols[size_t(i)] = {initial[size_t(i)], i - 1, i + 1 < n ? i + 1 : -1};
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> queue;
  auto push_pair = [&](int32_t left) {
    if (left < 0 || symbols[size_t(left)].next < 0) return;
    const Symbol& l = symbols[size_t(left)];
    const Symbol& r = symbols[size_t(l.next)];
    if (const Merge* m = find_merge(l.id, r.id)) queue.push({m->rank, left, l.id, r.id, m->merged_id});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push_pair(i);
  while (!queue.empty()) {
    Candidate c = queue.top();
    queue.pop();
    Symbol& l = symbols[size_t(c.left)];
    // Stale when either side has changed since the push: ids only ever grow into longer
    // tokens, so equal ids mean the same two symbols.
    if (l.id != c.left_id || l.next < 0 || symbols[size_t(l.next)].id != c.right_id) continue;
    Symbol& r = symbols[size_t(l.next)];
    l.id = c.merged_id;
    l.next = r.next;
    if (r.next >= 0) symbols[size_t(r.next)].prev = c.left;
    r.id = -1;
    push_pair(l.prev);
    push_pair(c.left);
  }
  std::vector<int32_t> ids;
  for (int32_t i = n > 0 ? 0 : -1; i >= 0; i = symbols[size_t(i)].next) ids.push_back(symbols[size_t(i)].id);
  return ids;
}

std::vector<int32_t> ByteBpe::Impl::bpe_rank_loop(std::string_view piece) const {
  std::vector<int32_t> word = byte_symbols(piece), merged_word;
  while (word.size() > 1) {
    const Merge* best = nullptr;
    int32_t best_left = -1, best_right = -1;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      const Merge* m = find_merge(word[i], word[i + 1]);
      if (m != nullptr && (best == nullptr || m->rank < best->rank)) {
        best = m;
        best_left = word[i];
        best_right = word[i + 1];
      }
    }
    if (best == nullptr) break;
    merged_word.clear();
    for (size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == best_left && word[i + 1] == best_right) {
        merged_word.push_back(best->merged_id);
        i += 2;
      } else {
        merged_word.push_back(word[i++]);
      }
    }
    word.swap(merged_word);
  }
  return word;
}

ByteBpe::ByteBpe(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ByteBpe::ByteBpe(ByteBpe&&) noexcept = default;
ByteBpe& ByteBpe::operator=(ByteBpe&&) noexcept = default;
ByteBpe::~ByteBpe() = default;

ByteBpe ByteBpe::from_files(const std::string& vocab_json, const std::string& merges_txt,
                            const ByteBpeOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->load_vocab(vocab_json);
  impl->load_merges(merges_txt);
  return ByteBpe(std::move(impl));
}

void ByteBpe::encode_piece(std::string_view piece, std::vector<int64_t>& ids) const {
  if (piece.empty()) return;
  const std::string key(piece);
  {
    std::lock_guard<std::mutex> lock(impl_->cache_mutex);
    auto it = impl_->cache.find(key);
    if (it != impl_->cache.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  // Outside the lock: other threads go on.
  std::vector<int32_t> piece_ids =
      impl_->in_training_order ? impl_->bpe_heap(piece) : impl_->bpe_rank_loop(piece);
  ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
  std::lock_guard<std::mutex> lock(impl_->cache_mutex);
  if (impl_->cache.size() >= impl_->options.max_cached_pieces) impl_->cache.clear();
  impl_->cache.emplace(key, std::move(piece_ids));
}

std::vector<int64_t> ByteBpe::encode_piece_exact(std::string_view piece) const {
  std::vector<int32_t> ids = impl_->bpe_rank_loop(piece);
  return std::vector<int64_t>(ids.begin(), ids.end());
}

int64_t ByteBpe::id_of(std::string_view token) const { return impl_->id_of(token); }

std::optional<std::string_view> ByteBpe::token_of(int64_t id) const {
  if (id < 0 || id > INT32_MAX) return std::nullopt;
  const int32_t* entry = impl_->id_to_entry.find(uint64_t(id));
  if (entry == nullptr) return std::nullopt;
  return impl_->token_to_id.key(size_t(*entry));
}

size_t ByteBpe::vocab_size() const { return impl_->token_to_id.size(); }
int64_t ByteBpe::max_id() const { return impl_->max_id; }
size_t ByteBpe::merge_count() const { return impl_->merges.size(); }
bool ByteBpe::merges_in_training_order() const { return impl_->in_training_order; }

}  // namespace sfvu::pathways
