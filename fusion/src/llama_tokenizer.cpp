// The Llama tokenizer (transformers' LlamaTokenizer): SentencePiece on the text between added
// tokens, in HF's legacy or non-legacy mode (Note [Llama legacy]).
#include <algorithm>

#include "sentencepiece_bpe.h"
#include "sfvu/base/error.h"
#include "tokenizer_folder.h"

namespace sfvu::fusion::detail {
namespace {

using nlohmann::json;

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // "▁", SentencePiece's space

// Note [Llama legacy]
// HF's LlamaTokenizer cuts the text around added tokens (<image>, <s>, ...) and encodes each
// chunk with SentencePiece (our SentencePieceBpe: Note [No libsentencepiece]). legacy=true:
// every chunk gets SentencePiece's dummy "▁" prefix, so "USER: <image>\nWhat" -> "▁USER: ▁",
// <image>, "▁\nWhat" (… 29871, 32000, 29871, 13 …; also what the original LLaVA code feeds).
// legacy=false: the model is loaded with add_dummy_prefix off, "▁" is prepended once to the
// whole text (and any "▁" in the text becomes a space), chunks that start with a space are
// encoded behind "<unk>" whose pieces are then dropped (so no prefix and no merge with the
// previous chunk), and a lone leading "▁" before a special token is dropped (… 29871, 32000,
// 13 …; HF's slow tokenizer checks its all_special_tokens, we the "special" flag of the added
// token, as llava-hf sets it for <image>; the fast tokenizer drops it before any added token).
// The fast tokenizer gives the same ids through its tokenizer.json: normalizer Prepend("▁") =
// legacy, pre_tokenizer Metaspace(prepend_scheme "first") = non-legacy.

// Searches a normalizer / pre_tokenizer (possibly a "Sequence") for an entry of `type`.
const json* find_component(const json& component, const std::string& type) {
  if (!component.is_object()) return nullptr;
  if (component.value("type", "") == type) return &component;
  for (const char* list : {"normalizers", "pretokenizers"}) {
    if (component.contains(list) && component[list].is_array()) {
      for (const json& c : component[list]) {
        if (const json* found = find_component(c, type)) return found;
      }
    }
  }
  return nullptr;
}

struct LegacyMode {
  bool legacy = true;
  bool add_prefix_space = true;  ///< non-legacy: prepend "▁" to the text
};

LegacyMode legacy_mode(const TokenizerFolder& folder) {
  LegacyMode mode;
  const json& config = folder.config;
  if (config.is_object() && config.contains("add_prefix_space") && config["add_prefix_space"].is_boolean()) {
    mode.add_prefix_space = config["add_prefix_space"].get<bool>();
  }
  const json& tj = folder.tokenizer_json;
  if (tj.is_object()) {
    const json pre_tokenizer = tj.value("pre_tokenizer", json());  // find_component points into it
    const json normalizer = tj.value("normalizer", json());
    if (const json* metaspace = find_component(pre_tokenizer, "Metaspace")) {
      std::string scheme = metaspace->value("prepend_scheme", "");
      if (scheme.empty()) scheme = metaspace->value("add_prefix_space", true) ? "always" : "never";
      if (scheme == "first" || scheme == "never") {
        mode.legacy = false;
        mode.add_prefix_space = scheme == "first";
        return mode;
      }
      mode.legacy = true;
      return mode;
    }
    const json* prepend = find_component(normalizer, "Prepend");
    if (prepend != nullptr && prepend->value("prepend", "") == kSpaceSymbol) {
      mode.legacy = true;
      return mode;
    }
  }
  if (config.is_object() && config.contains("legacy") && config["legacy"].is_boolean()) {
    mode.legacy = config["legacy"].get<bool>();
  }
  return mode;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  for (size_t pos = 0;;) {
    size_t hit = text.find(from, pos);
    out.append(text.substr(pos, hit - pos));
    if (hit == std::string_view::npos) return out;
    out.append(to);
    pos = hit + from.size();
  }
}

class LlamaTokenizer final : public LlmTokenizer {
 public:
  LlamaTokenizer(const TokenizerFolder& folder, const std::string& model_path)
      : sp_(SentencePieceBpe::parse(read_file(model_path, "LlamaTokenizer"), model_path)),
        mode_(legacy_mode(folder)) {
    if (!mode_.legacy) {
      unk_piece_ = sp_.piece(sp_.unk_id());
      std::vector<int> unk_ids;
      sp_.encode(unk_piece_, /*add_dummy_prefix=*/false, unk_ids);
      unk_prefix_length_ = unk_ids.size();
    }
    space_id_ = sp_.piece_to_id(kSpaceSymbol);
    piece_bytes_.resize(size_t(sp_.size()));
    for (int id = 0; id < sp_.size(); ++id) {
      const std::string& piece = sp_.piece(id);
      switch (sp_.type(id)) {
        case SentencePieceBpe::PieceType::kByte:  // "<0x0A>"
          piece_bytes_[size_t(id)] = std::string(1, char(std::stoi(piece.substr(3, 2), nullptr, 16)));
          break;
        case SentencePieceBpe::PieceType::kControl:
        case SentencePieceBpe::PieceType::kUnknown:
          piece_bytes_[size_t(id)] = piece;  // "<s>": text only when special tokens are kept
          break;
        default:
          piece_bytes_[size_t(id)] = replace_all(piece, kSpaceSymbol, " ");
      }
    }

    // HF adds unk, bos and eos as special added tokens: "<s>" written in the text is BOS.
    TokenizerFolder with_defaults = folder;
    for (int id : {sp_.unk_id(), sp_.bos_id(), sp_.eos_id()}) {
      if (id >= 0) with_defaults.add_if_absent({sp_.piece(id), id, true, false, false});
    }
    added_ = AddedTokens(with_defaults.added_tokens);
    bos_id_ = special_id(folder, "bos_token", sp_.bos_id());
    eos_id_ = special_id(folder, "eos_token", sp_.eos_id());
    const json& config = folder.config;
    if (config.is_object() && config.contains("add_bos_token") && config["add_bos_token"].is_boolean()) {
      add_bos_token_ = config["add_bos_token"].get<bool>();
    }
  }

  std::vector<int64_t> encode(const std::string& text, bool add_bos) const override {
    std::vector<int64_t> ids;
    if (add_bos && add_bos_token_ && bos_id_ >= 0) ids.push_back(bos_id_);
    const size_t start = ids.size();
    std::vector<int> piece_ids;
    if (mode_.legacy || text.empty()) {
      for (const AddedTokens::Segment& segment : added_.split(text)) {
        if (segment.token != nullptr) {
          ids.push_back(segment.token->id);
        } else {
          piece_ids.clear();
          sp_.encode(segment.text, sp_.adds_dummy_prefix(), piece_ids);
          ids.insert(ids.end(), piece_ids.begin(), piece_ids.end());
        }
      }
      return ids;
    }
    std::string prepared = replace_all(text, kSpaceSymbol, " ");
    if (mode_.add_prefix_space) prepared.insert(0, kSpaceSymbol);
    for (const AddedTokens::Segment& segment : added_.split(prepared)) {
      if (segment.token != nullptr) {
        ids.push_back(segment.token->id);
        continue;
      }
      size_t skip = 0;
      piece_ids.clear();
      if (starts_with(segment.text, kSpaceSymbol) || starts_with(segment.text, " ")) {
        sp_.encode(unk_piece_ + std::string(segment.text), /*add_dummy_prefix=*/false, piece_ids);
        skip = piece_ids.size() >= unk_prefix_length_ ? unk_prefix_length_ : 0;
      } else {
        sp_.encode(segment.text, /*add_dummy_prefix=*/false, piece_ids);
      }
      ids.insert(ids.end(), piece_ids.begin() + std::ptrdiff_t(skip), piece_ids.end());
    }
    if (ids.size() - start > 1 && ids[start] == space_id_ && is_special(ids[start + 1])) {
      ids.erase(ids.begin() + std::ptrdiff_t(start));
    }
    return ids;
  }

  // Note [Llama decode]: as HF's fast decoder (Replace "▁"->" ", ByteFallback, Fuse, Strip one
  // leading space), which LLaVA's processors use; the slow one inserts spaces around special
  // tokens in legacy mode.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special) const override {
    std::string out;
    for (int64_t id : ids) {
      if (!(skip_special && is_special(id))) out += token_bytes(id);
    }
    if (!out.empty() && out[0] == ' ') out.erase(0, 1);
    return out;
  }

  std::string token_bytes(int64_t id) const override {
    if (const AddedToken* t = added_.find(id)) return t->content;
    return id >= 0 && id < sp_.size() ? piece_bytes_[size_t(id)] : "";  // "": no token
  }

  std::string token_string(int64_t id) const override {
    if (const AddedToken* t = added_.find(id)) return t->content;
    check_id(id);
    return sp_.piece(int(id));
  }

  int64_t token_id(const std::string& token) const override {
    int64_t id = added_.id_of(token);
    if (id >= 0) return id;
    return sp_.piece_to_id(token);
  }

  bool is_special(int64_t id) const override {
    if (const AddedToken* t = added_.find(id)) return t->special;
    if (id < 0 || id >= sp_.size()) return false;
    auto type = sp_.type(int(id));
    return type == SentencePieceBpe::PieceType::kControl || type == SentencePieceBpe::PieceType::kUnknown;
  }
  int64_t vocab_size() const override { return std::max<int64_t>(sp_.size(), added_.max_id() + 1); }
  int64_t bos_id() const override { return bos_id_; }
  int64_t eos_id() const override { return eos_id_; }
  std::string kind() const override { return "llama_spm"; }
  bool decode_drops_first_space() const override { return true; }

 private:
  void check_id(int64_t id) const {
    if (id < 0 || id >= sp_.size()) {
      throw UsageError("LlamaTokenizer: id " + std::to_string(id) + " is not in the vocab (size " +
                       std::to_string(vocab_size()) + ")");
    }
  }

  // The id of tokenizer_config.json's `key` ("bos_token"), else SentencePiece's.
  int64_t special_id(const TokenizerFolder& folder, const std::string& key, int fallback) const {
    const std::string name = folder.config_token(key, "");
    if (name.empty()) return fallback;
    int64_t id = token_id(name);
    if (id < 0) {
      throw FormatError("LlamaTokenizer: " + folder.path("tokenizer_config.json") + ": " + key + " '" + name +
                        "' is neither an added token nor a SentencePiece piece");
    }
    return id;
  }

  SentencePieceBpe sp_;
  LegacyMode mode_;
  std::string unk_piece_;
  size_t unk_prefix_length_ = 0;  ///< pieces of "<unk>" as text, dropped again (non-legacy)
  int64_t space_id_ = -1;         ///< the piece "▁"
  std::vector<std::string> piece_bytes_;
  AddedTokens added_;
  int64_t bos_id_ = -1;
  int64_t eos_id_ = -1;
  bool add_bos_token_ = true;  ///< tokenizer_config.json "add_bos_token": false turns add_bos off
};

}  // namespace

std::unique_ptr<LlmTokenizer> load_llama_tokenizer(TokenizerFolder folder) {
  return std::make_unique<LlamaTokenizer>(folder, folder.path("tokenizer.model"));
}

}  // namespace sfvu::fusion::detail
