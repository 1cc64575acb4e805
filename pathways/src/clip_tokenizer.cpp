#include "sfvu/pathways/clip_tokenizer.h"

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "sfvu/base/error.h"
#include "sfvu/pathways/byte_bpe.h"
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

constexpr std::string_view kSotToken = "<|startoftext|>";
constexpr std::string_view kEotToken = "<|endoftext|>";

}  // namespace

struct ClipTokenizer::Impl {
  ByteBpe bpe;  ///< words end in "</w>"; merges must be in training order (Note [BPE order])
  int64_t sot_id = -1;
  int64_t eot_id = -1;
};

ClipTokenizer::ClipTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClipTokenizer::ClipTokenizer(ClipTokenizer&&) noexcept = default;
ClipTokenizer& ClipTokenizer::operator=(ClipTokenizer&&) noexcept = default;
ClipTokenizer::~ClipTokenizer() = default;

ClipTokenizer ClipTokenizer::from_files(const std::string& vocab_json, const std::string& merges_txt) {
  ByteBpeOptions options;
  options.end_of_word = "</w>";
  options.reject_out_of_order_merges = true;  // OpenAI's files are in training order
  options.owner = "ClipTokenizer";
  auto impl = std::unique_ptr<Impl>(new Impl{ByteBpe::from_files(vocab_json, merges_txt, options)});
  impl->sot_id = impl->bpe.id_of(kSotToken);
  impl->eot_id = impl->bpe.id_of(kEotToken);
  if (impl->sot_id < 0 || impl->eot_id < 0) {
    throw FormatError("ClipTokenizer: " + vocab_json + " lacks " + std::string(kSotToken) + " or " +
                      std::string(kEotToken));
  }
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
      impl_->bpe.encode_piece(utf8, ids);
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
    std::optional<std::string_view> token = impl_->bpe.token_of(id);
    if (!token) throw UsageError("ClipTokenizer::tokens: id " + std::to_string(id) + " is not in the vocab");
    out.emplace_back(*token);
  }
  return out;
}

int64_t ClipTokenizer::sot_id() const { return impl_->sot_id; }
int64_t ClipTokenizer::eot_id() const { return impl_->eot_id; }
size_t ClipTokenizer::vocab_size() const { return impl_->bpe.vocab_size(); }

}  // namespace sfvu::pathways
