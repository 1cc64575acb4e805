// sentencepiece_bpe.h (private): SentencePiece's BPE model (tokenizer.model), read and run
// without libsentencepiece (Note [No libsentencepiece] below). Header-only: llama_tokenizer.cpp
// is its one user.
//
// Encodes as SentencePieceProcessor::Encode does for model_type BPE: the normaliser (only
// the rule-free "identity" one, as Llama's: dummy "▁" prefix, optional removal of extra
// spaces, " " -> "▁"), user-defined symbols kept whole, merges of the adjacent pair whose
// concatenation is the highest-scored piece (leftmost first on ties), unused pieces split
// back, and unknown pieces as their UTF-8 bytes (<0xNN>) when the model has byte pieces.
//
// Thread safety: immutable after loading; encode() may run concurrently.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sfvu/base/error.h"

namespace sfvu::fusion::detail {

class SentencePieceBpe {
 public:
  enum class PieceType : int {
    kNormal = 1,
    kUnknown = 2,
    kControl = 3,
    kUserDefined = 4,
    kUnused = 5,
    kByte = 6
  };

  /// Parses a serialized ModelProto (the bytes of `path`, which errors name). FormatError when
  /// it is no SentencePiece model, not BPE, or needs a normalisation rule table.
  static SentencePieceBpe parse(const std::string& data, const std::string& path);
  SentencePieceBpe(SentencePieceBpe&&) = default;  // the maps' views stay valid: pieces_ keeps its buffer
  SentencePieceBpe& operator=(SentencePieceBpe&&) = default;
  SentencePieceBpe(const SentencePieceBpe&) = delete;
  SentencePieceBpe& operator=(const SentencePieceBpe&) = delete;

  /// Appends the ids of `text`. add_dummy_prefix: prepend "▁" (the model's own setting is
  /// adds_dummy_prefix(); HF's non-legacy Llama turns it off).
  void encode(std::string_view text, bool add_dummy_prefix, std::vector<int>& ids) const;

  bool adds_dummy_prefix() const { return add_dummy_prefix_; }
  int size() const { return int(pieces_.size()); }
  const std::string& piece(int id) const { return pieces_[size_t(id)].text; }
  PieceType type(int id) const { return pieces_[size_t(id)].type; }
  /// Id of a piece string, -1 when absent (SentencePiece itself would say unk).
  int piece_to_id(std::string_view piece) const;
  int unk_id() const { return unk_id_; }
  int bos_id() const { return bos_id_; }  ///< -1 when the model has none
  int eos_id() const { return eos_id_; }

 private:
  SentencePieceBpe() = default;

  struct Piece {
    std::string text;
    float score = 0;
    PieceType type = PieceType::kNormal;
  };

  std::string normalize(std::string_view text, bool add_dummy_prefix) const;
  /// Length of the user-defined symbol at the start of `text`, 0 when none.
  size_t user_symbol_length(std::string_view text) const;
  void append_piece_ids(
      std::string_view piece, std::vector<int>& ids,
      const std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>>&
          unused_splits) const;

  std::vector<Piece> pieces_;
  std::unordered_map<std::string_view, int>
      mergeable_;                                       ///< normal, user-defined, unused (views into pieces_)
  std::unordered_map<std::string_view, int> reserved_;  ///< unknown, control, byte
  std::vector<std::string_view> user_symbols_;
  int byte_ids_[256];  ///< <0xNN>, -1 without byte fallback
  bool byte_fallback_ = false;
  bool add_dummy_prefix_ = true;
  bool remove_extra_whitespaces_ = true;
  bool escape_whitespaces_ = true;
  int unk_id_ = -1;
  int bos_id_ = -1;
  int eos_id_ = -1;
};

// ---- implementation ----

// Note [No libsentencepiece]
// Debian's libsentencepiece0 (0.1.97) carries its own protobuf-lite 3.14 and exports its
// symbols; libtorch loads libprotobuf.so.32 (3.21). In one process the two resolve to each
// other: the program crashes while the libraries initialise (libprotobuf calling into
// sentencepiece's copy), or, with libprotobuf first, sentencepiece aborts on its version check.
// So we read tokenizer.model ourselves (a small protobuf message) and run the BPE model as
// SentencePiece does; the Llama reference ids (../shared/fixtures/tokenizers/llama2_spm, made
// by libsentencepiece) are matched exactly in tests/fusion/llm_tokenizer_test.cpp.

namespace spm_wire {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // "▁"
constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";
constexpr int kModelTypeBpe = 2;

// The protobuf wire format, as far as sentencepiece_model.proto needs it.
class WireReader {
 public:
  WireReader(std::string_view data, const std::string& path) : data_(data), path_(path) {}

  bool next(uint32_t& field, uint32_t& wire_type) {
    if (pos_ >= data_.size()) return false;
    uint64_t key = varint();
    field = uint32_t(key >> 3);
    wire_type = uint32_t(key & 7);
    return true;
  }
  uint64_t varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) fail("truncated varint");
      auto byte = uint8_t(data_[pos_++]);
      value |= uint64_t(byte & 0x7F) << shift;
      if (byte < 0x80) return value;
    }
    fail("varint longer than 10 bytes");
  }
  std::string_view bytes() {
    uint64_t n = varint();
    if (n > data_.size() - pos_) fail("length-delimited field runs past the end");
    std::string_view out = data_.substr(pos_, size_t(n));
    pos_ += size_t(n);
    return out;
  }
  float fixed32_float() {
    if (data_.size() - pos_ < 4) fail("truncated fixed32");
    uint32_t bits = 0;
    for (int i = 0; i < 4; ++i) bits |= uint32_t(uint8_t(data_[pos_ + size_t(i)])) << (8 * i);
    pos_ += 4;
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
  }
  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case 0:
        varint();
        return;
      case 1:
        advance(8);
        return;
      case 2:
        bytes();
        return;
      case 5:
        advance(4);
        return;
      default:
        fail("unsupported wire type " + std::to_string(wire_type));
    }
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError("LlamaTokenizer: " + path_ + " is not a SentencePiece model: " + what + " (byte " +
                      std::to_string(pos_) + ")");
  }

 private:
  void advance(size_t n) {
    if (data_.size() - pos_ < n) fail("truncated field");
    pos_ += n;
  }
  std::string_view data_;
  const std::string& path_;
  size_t pos_ = 0;
};

inline size_t utf8_length(std::string_view text) {  // of the first character; 0 when ill-formed
  auto lead = uint8_t(text[0]);
  size_t n = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xE ? 3 : (lead >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || n > text.size()) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((uint8_t(text[i]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

}  // namespace spm_wire

inline SentencePieceBpe SentencePieceBpe::parse(const std::string& data, const std::string& path) {
  SentencePieceBpe model;
  int model_type = 1;  // proto default: UNIGRAM
  spm_wire::WireReader proto(data, path);
  uint32_t field, wire;
  while (proto.next(field, wire)) {
    if (field == 1 && wire == 2) {  // repeated SentencePiece pieces
      spm_wire::WireReader message(proto.bytes(), path);
      Piece piece;
      while (message.next(field, wire)) {
        if (field == 1 && wire == 2) {
          piece.text = std::string(message.bytes());
        } else if (field == 2 && wire == 5) {
          piece.score = message.fixed32_float();
        } else if (field == 3 && wire == 0) {
          piece.type = PieceType(message.varint());
        } else {
          message.skip(wire);
        }
      }
      if (int(piece.type) < 1 || int(piece.type) > 6) {
        proto.fail("piece '" + piece.text + "' has an unknown type");
      }
      model.pieces_.push_back(std::move(piece));
    } else if (field == 2 && wire == 2) {  // TrainerSpec
      spm_wire::WireReader message(proto.bytes(), path);
      while (message.next(field, wire)) {
        if (field == 3 && wire == 0) {
          model_type = int(message.varint());
        } else if (field == 35 && wire == 0) {
          model.byte_fallback_ = message.varint() != 0;
        } else if (field == 24 && wire == 0) {
          if (message.varint() != 0) proto.fail("treat_whitespace_as_suffix is not supported");
        } else {
          message.skip(wire);
        }
      }
    } else if (field == 3 && wire == 2) {  // NormalizerSpec (several occurrences merge)
      spm_wire::WireReader message(proto.bytes(), path);
      while (message.next(field, wire)) {
        if (field == 2 && wire == 2) {
          if (!message.bytes().empty()) {
            proto.fail("normalisation rules (precompiled_charsmap) are not supported");
          }
        } else if (field == 3 && wire == 0) {
          model.add_dummy_prefix_ = message.varint() != 0;
        } else if (field == 4 && wire == 0) {
          model.remove_extra_whitespaces_ = message.varint() != 0;
        } else if (field == 5 && wire == 0) {
          model.escape_whitespaces_ = message.varint() != 0;
        } else {
          message.skip(wire);
        }
      }
    } else {
      proto.skip(wire);
    }
  }
  if (model.pieces_.empty()) proto.fail("no pieces");
  if (model_type != spm_wire::kModelTypeBpe) {
    proto.fail("model_type " + std::to_string(model_type) + " is not BPE (2); only BPE models are supported");
  }
  std::fill(std::begin(model.byte_ids_), std::end(model.byte_ids_), -1);
  for (int id = 0; id < model.size(); ++id) {
    const Piece& p = model.pieces_[size_t(id)];
    bool mergeable =
        p.type == PieceType::kNormal || p.type == PieceType::kUserDefined || p.type == PieceType::kUnused;
    if (!(mergeable ? model.mergeable_ : model.reserved_).emplace(p.text, id).second) {
      proto.fail("piece '" + p.text + "' appears twice");
    }
    if (p.type == PieceType::kUserDefined) model.user_symbols_.push_back(p.text);
    if (p.type == PieceType::kUnknown) model.unk_id_ = id;
    if (p.type == PieceType::kControl && p.text == "<s>") model.bos_id_ = id;
    if (p.type == PieceType::kControl && p.text == "</s>") model.eos_id_ = id;
    if (p.type == PieceType::kByte) {
      unsigned value = 0;
      if (p.text.size() != 6 || std::sscanf(p.text.c_str(), "<0x%2X>", &value) != 1) {
        proto.fail("byte piece '" + p.text + "' is not <0xNN>");
      }
      model.byte_ids_[value] = id;
    }
  }
  if (model.unk_id_ < 0) proto.fail("no unknown piece");
  if (model.byte_fallback_) {
    for (int id : model.byte_ids_) {
      if (id < 0) proto.fail("byte_fallback without all 256 byte pieces");
    }
  }
  return model;
}

inline int SentencePieceBpe::piece_to_id(std::string_view piece) const {
  if (auto it = reserved_.find(piece); it != reserved_.end()) return it->second;
  if (auto it = mergeable_.find(piece); it != mergeable_.end()) return it->second;
  return -1;
}

inline size_t SentencePieceBpe::user_symbol_length(std::string_view text) const {
  size_t longest = 0;
  for (std::string_view s : user_symbols_) {
    if (s.size() > longest && text.substr(0, s.size()) == s) longest = s.size();
  }
  return longest;
}

// SentencePiece's Normalizer with an empty rule table: user-defined symbols pass as they are,
// ill-formed UTF-8 bytes become U+FFFD one by one, spaces are trimmed/collapsed when
// remove_extra_whitespaces and written as "▁" when escape_whitespaces.
inline std::string SentencePieceBpe::normalize(std::string_view text, bool add_dummy_prefix) const {
  auto next_char = [&](std::string_view s, std::string_view& out) -> size_t {
    if (size_t n = user_symbol_length(s)) {
      out = s.substr(0, n);
      return n;
    }
    size_t n = spm_wire::utf8_length(s);
    if (n == 0) {
      out = spm_wire::kReplacementChar;
      return 1;
    }
    out = s.substr(0, n);
    return n;
  };
  std::string_view ch;
  if (remove_extra_whitespaces_) {
    while (!text.empty() && next_char(text, ch) > 0 && ch == " ") text.remove_prefix(1);
  }
  std::string out;
  if (text.empty()) return out;
  const std::string_view space = escape_whitespaces_ ? spm_wire::kSpaceSymbol : std::string_view(" ");
  if (add_dummy_prefix) out += space;
  bool prev_space = remove_extra_whitespaces_;
  while (!text.empty()) {
    size_t consumed = next_char(text, ch);
    text.remove_prefix(consumed);
    if (ch == " ") {
      if (!prev_space) out += space;
      prev_space = remove_extra_whitespaces_;
    } else {
      out += ch;
      prev_space = false;
    }
  }
  if (remove_extra_whitespaces_) {
    while (out.size() >= space.size() && out.compare(out.size() - space.size(), space.size(), space) == 0) {
      out.resize(out.size() - space.size());
    }
  }
  return out;
}

inline void SentencePieceBpe::encode(std::string_view text, bool add_dummy_prefix,
                                     std::vector<int>& ids) const {
  const std::string normalized = normalize(text, add_dummy_prefix);
  struct Symbol {
    int prev, next;
    std::string_view piece;  ///< empty once merged into its left neighbour
    bool frozen;             ///< a user-defined symbol: never merged
  };
  struct Pair {
    float score;
    int left, right;
    size_t size;
    bool operator<(const Pair& o) const {  // priority_queue top: best score, then leftmost
      return score != o.score ? score < o.score : left > o.left;
    }
  };
  std::vector<Symbol> symbols;
  for (std::string_view rest = normalized; !rest.empty();) {
    size_t n = user_symbol_length(rest);
    bool frozen = n > 0;
    if (!frozen) n = std::max<size_t>(1, spm_wire::utf8_length(rest));
    const int index = int(symbols.size());
    symbols.push_back({index - 1, rest.size() > n ? index + 1 : -1, rest.substr(0, n), frozen});
    rest.remove_prefix(n);
  }
  std::priority_queue<Pair> agenda;
  // Unused pieces that a merge produced, with the two pieces they came from.
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> unused_splits;
  auto add_pair = [&](int left, int right) {
    if (left < 0 || right < 0 || symbols[size_t(left)].frozen || symbols[size_t(right)].frozen) return;
    const Symbol& l = symbols[size_t(left)];
    const Symbol& r = symbols[size_t(right)];
    std::string_view merged(l.piece.data(), l.piece.size() + r.piece.size());
    auto it = mergeable_.find(merged);
    if (it == mergeable_.end()) return;
    agenda.push({pieces_[size_t(it->second)].score, left, right, merged.size()});
    if (pieces_[size_t(it->second)].type == PieceType::kUnused) unused_splits[merged] = {l.piece, r.piece};
  };
  for (size_t i = 1; i < symbols.size(); ++i) add_pair(int(i) - 1, int(i));
  while (!agenda.empty()) {
    Pair top = agenda.top();
    agenda.pop();
    Symbol& l = symbols[size_t(top.left)];
    Symbol& r = symbols[size_t(top.right)];
    // Stale when either side has changed since the push (emptied or grown).
    if (l.piece.empty() || r.piece.empty() || l.piece.size() + r.piece.size() != top.size) continue;
    l.piece = std::string_view(l.piece.data(), top.size);
    l.next = r.next;
    if (r.next >= 0) symbols[size_t(r.next)].prev = top.left;
    r.piece = std::string_view();
    add_pair(l.prev, top.left);
    add_pair(top.left, l.next);
  }
  for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[size_t(i)].next) {
    append_piece_ids(symbols[size_t(i)].piece, ids, unused_splits);
  }
}

inline void SentencePieceBpe::append_piece_ids(
    std::string_view piece, std::vector<int>& ids,
    const std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>>& unused_splits)
    const {
  int id = piece_to_id(piece);
  if (id >= 0 && pieces_[size_t(id)].type == PieceType::kUnused) {
    if (auto it = unused_splits.find(piece); it != unused_splits.end()) {
      append_piece_ids(it->second.first, ids, unused_splits);
      append_piece_ids(it->second.second, ids, unused_splits);
      return;
    }
  }
  if (id >= 0 && !(pieces_[size_t(id)].type == PieceType::kUnknown)) {
    ids.push_back(id);
  } else if (byte_fallback_) {
    for (char b : piece) ids.push_back(byte_ids_[uint8_t(b)]);
  } else {
    ids.push_back(unk_id_);
  }
}

}  // namespace sfvu::fusion::detail
