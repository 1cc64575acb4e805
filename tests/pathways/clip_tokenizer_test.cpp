// ClipTokenizer against OpenAI's clip.tokenize(context_length=77, truncate=True): the reference
// ids in tests/fixtures/clip_tiny/tokenizer_cases.json were made by OpenAI's code with ftfy
// replaced by a pass-through (see the fixture README "Tokenizer").
#include "sfvu/pathways/clip_tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "sfvu/base/error.h"
#include "support/test_support.h"

namespace sfvu::pathways {
namespace {

using nlohmann::json;

constexpr int64_t kSot = 49406;
constexpr int64_t kEot = 49407;

const ClipTokenizer& clip_tokenizer() {
  static const ClipTokenizer tokenizer = ClipTokenizer::from_pretrained(test::fixture("clip_tiny"));
  return tokenizer;
}

const json& reference_cases() {
  static const json cases =
      json::parse(test::read_text_file(test::fixture("clip_tiny/tokenizer_cases.json")))["cases"];
  return cases;
}

std::vector<int64_t> ids_of(const json& c, const char* key = "ids") {
  return c[key].get<std::vector<int64_t>>();
}

std::vector<int64_t> padded(std::vector<int64_t> ids) {
  ids.resize(ClipTokenizer::kContextLength, 0);
  return ids;
}

TEST(ClipTokenizer, LoadsClipVocabulary) {
  const ClipTokenizer& tok = clip_tokenizer();
  EXPECT_EQ(tok.vocab_size(), 49408u);
  EXPECT_EQ(tok.sot_id(), kSot);
  EXPECT_EQ(tok.eot_id(), kEot);
  EXPECT_EQ(tok.tokens({0, 255, 256, 320, 512, kSot, kEot}),
            (std::vector<std::string>{"!", "\xC5\x83", "!</w>", "a</w>", "in", "<|startoftext|>",
                                      "<|endoftext|>"}));
}

TEST(ClipTokenizer, CleanedTextMatchesOpenAIReferenceForAllCases) {
  ASSERT_EQ(reference_cases().size(), 41u);
  for (const json& c : reference_cases()) {
    SCOPED_TRACE(c["name"].get<std::string>());
    EXPECT_EQ(clip_tokenizer().clean(c["text"]), c["cleaned_text"].get<std::string>());
  }
}

TEST(ClipTokenizer, IdsMatchOpenAIReferenceExactly) {
  int matched = 0;
  for (const json& c : reference_cases()) {
    if (c["ftfy_sensitive"].get<bool>()) continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    const std::vector<int64_t> want = ids_of(c);
    const auto n_tokens = c["n_tokens"].get<size_t>();
    const std::vector<int64_t> got = clip_tokenizer().encode_padded(c["text"]);
    const std::vector<int64_t> ids = clip_tokenizer().encode(c["text"]);
    const std::vector<std::string> tokens = clip_tokenizer().tokens(ids);
    EXPECT_EQ(got, want);
    EXPECT_EQ(ids.size(), n_tokens);
    EXPECT_EQ(padded(ids), want);
    EXPECT_EQ(tokens, c["tokens"].get<std::vector<std::string>>());
    // Pooling takes argmax(ids), the first EOT.
    EXPECT_EQ(std::max_element(got.begin(), got.end()) - got.begin(), c["eot_index"].get<long>());
    matched += got == want && ids.size() == n_tokens && tokens == c["tokens"];
  }
  EXPECT_EQ(matched, 36);
}

// Note [ftfy] in clip_tokenizer.cpp: we do not run ftfy, and neither did the reference, so
// these cases match `ids`. Real ftfy would give something else (`ids_with_ftfy_emulated`).
TEST(ClipTokenizer, FtfySensitiveCasesMatchOpenAIReferenceWithoutFtfy) {
  int checked = 0;
  for (const json& c : reference_cases()) {
    if (!c["ftfy_sensitive"].get<bool>()) continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    std::vector<int64_t> ids = clip_tokenizer().encode_padded(c["text"]);
    EXPECT_EQ(ids, ids_of(c));
    EXPECT_NE(ids, ids_of(c, "ids_with_ftfy_emulated"));
    EXPECT_EQ(clip_tokenizer().encode(c["text"]).size(), c["n_tokens"].get<size_t>());
    ++checked;
  }
  EXPECT_EQ(checked, 5);
}

TEST(ClipTokenizer, TruncationKeepsEotLastLikeOpenAIReference) {
  int truncated = 0;
  for (const json& c : reference_cases()) {
    if (!c["truncated"].get<bool>()) continue;
    SCOPED_TRACE(c["name"].get<std::string>());
    EXPECT_GT(c["n_tokens_before_truncation"].get<int>(), ClipTokenizer::kContextLength);
    std::vector<int64_t> ids = clip_tokenizer().encode(c["text"]);
    ASSERT_EQ(ids.size(), 77u);
    EXPECT_EQ(ids[76], kEot);
    EXPECT_EQ(ids, ids_of(c));
    ++truncated;
  }
  EXPECT_EQ(truncated, 2);  // one_over_76, long_truncated
  // exact_fit_75: 75 tokens + SOT + EOT fill the context without truncation.
  std::string exact;
  for (int i = 0; i < 75; ++i) exact += "a ";
  std::vector<int64_t> ids = clip_tokenizer().encode(exact);
  ASSERT_EQ(ids.size(), 77u);
  EXPECT_EQ(ids[75], 320);
  EXPECT_EQ(ids[76], kEot);
}

TEST(ClipTokenizer, EmptyAndWhitespaceOnlyMatchOpenAIReference) {
  std::vector<int64_t> want = padded({kSot, kEot});
  EXPECT_EQ(clip_tokenizer().encode_padded(""), want);
  EXPECT_EQ(clip_tokenizer().encode_padded(" \t\n "), want);
  EXPECT_EQ(clip_tokenizer().encode(""), (std::vector<int64_t>{kSot, kEot}));
  EXPECT_EQ(clip_tokenizer().clean(" \t\n "), "");
}

TEST(ClipTokenizer, HandChecksAgainstOpenAIReference) {
  const ClipTokenizer& tok = clip_tokenizer();
  EXPECT_EQ(tok.encode_padded("a photo of a cat"), padded({kSot, 320, 1125, 539, 320, 2368, kEot}));
  EXPECT_EQ(tok.encode("don't"), (std::vector<int64_t>{kSot, 847, 713, kEot}));
  EXPECT_EQ(tok.encode("it's"), (std::vector<int64_t>{kSot, 585, 568, kEot}));
  EXPECT_EQ(tok.encode("caf\xC3\xA9"), (std::vector<int64_t>{kSot, 15304, kEot}));
  EXPECT_EQ(tok.encode("A Photo OF a CAT"), tok.encode("a photo of a cat"));
}

// Python's html.unescape(), applied twice, seen through clean().
TEST(ClipTokenizer, HtmlUnescapeFollowsPython) {
  const ClipTokenizer& tok = clip_tokenizer();
  EXPECT_EQ(tok.clean("salt &amp;amp; pepper"), "salt & pepper");  // twice
  EXPECT_EQ(tok.clean("&amp;amp;amp;"), "&amp;");                  // but only twice
  EXPECT_EQ(tok.clean("caf&eacute;"), "caf\xC3\xA9");
  EXPECT_EQ(tok.clean("caf&eacute"), "caf\xC3\xA9");  // legacy name, no ';'
  EXPECT_EQ(tok.clean("caf&#233;"), "caf\xC3\xA9");
  EXPECT_EQ(tok.clean("caf&#xE9;"), "caf\xC3\xA9");
  EXPECT_EQ(tok.clean("caf&#XE9"), "caf\xC3\xA9");
  EXPECT_EQ(tok.clean("&notit;"), "\xC2\xAC" "it;");  // longest legacy prefix "not"
  EXPECT_EQ(tok.clean("fish &ampchips"), "fish &chips");
  EXPECT_EQ(tok.clean("&notin; &NotNestedLessLess;"), "\xE2\x88\x89 \xE2\xAA\xA1\xCC\xB8");
  EXPECT_EQ(tok.clean("&bogus; &; & &# &#x; &#xg"), "&bogus; &; & &# &#x; &#xg");
  // Windows-1252 remapping (0x9F -> U+0178, which then lower-cases to U+00FF).
  EXPECT_EQ(tok.clean("&#128;&#x9f;"), "\xE2\x82\xAC\xC3\xBF");
  EXPECT_EQ(tok.clean("a&#0;b&#xD800;c&#x110000;d&#99999999999999999999;"),
            "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD" "d\xEF\xBF\xBD");
  EXPECT_EQ(tok.clean("a&#1;b&#xFFFF;c&#x7f;d"), "abcd");  // dropped code points
  EXPECT_EQ(tok.clean("&lt;b&gt;&#x1F600;&#38;amp;"), "<b>\xF0\x9F\x98\x80&");
}

// str.strip() strips str.isspace() (which has U+001C..U+001F), but the regex module's \s is
// Unicode White_Space (which has not): computed with Python 3.11 + regex 2026.5.9 running the
// code of OpenAI's simple_tokenizer.py.
TEST(ClipTokenizer, WhitespaceAndCaseFollowPythonReference) {
  const ClipTokenizer& tok = clip_tokenizer();
  EXPECT_EQ(tok.clean("\x1C a \x1F"), "a");
  EXPECT_EQ(tok.clean("a\x1C" "b"), "a\x1C" "b");
  EXPECT_EQ(tok.encode("a\x1C" "b"), (std::vector<int64_t>{kSot, 320, 472, 321, kEot}));
  EXPECT_EQ(tok.clean("a\tb\xE2\x80\xA8" "c\xC2\xA0" "d\xE3\x80\x80  e"), "a b c d e");
  // Final sigma: "ΣΑΣ Σ" -> "σας σ".
  EXPECT_EQ(tok.clean("\xCE\xA3\xCE\x91\xCE\xA3 \xCE\xA3"), "\xCF\x83\xCE\xB1\xCF\x82 \xCF\x83");
  EXPECT_EQ(tok.clean("\xC4\xB0"), "i\xCC\x87");  // U+0130 -> i + U+0307, full mapping
  EXPECT_EQ(tok.encode("\xC4\xB0"), (std::vector<int64_t>{kSot, 328, 16384, kEot}));
}

// The split pattern's corners, same Python reference as above.
TEST(ClipTokenizer, SplitFollowsOpenAIPatternCorners) {
  const ClipTokenizer& tok = clip_tokenizer();
  // IGNORECASE: long s (U+017F) case-folds to 's', so "'ſ" is a contraction piece...
  EXPECT_EQ(tok.encode("x'\xC5\xBF"), (std::vector<int64_t>{kSot, 343, 6, 129, 379, kEot}));
  // ...and "<|ſtartoftext|>" is one piece, but not the special token: it goes through BPE.
  EXPECT_EQ(tok.encode("<|\xC5\xBFtartoftext|>"),
            (std::vector<int64_t>{kSot, 27, 91, 129, 123, 2002, 6659, 18169, 91, 285, kEot}));
  // U+0345 matches no alternative (its upper case is a letter), so it is dropped.
  EXPECT_EQ(tok.encode("a\xCD\x85" "b"), (std::vector<int64_t>{kSot, 320, 321, kEot}));
  EXPECT_EQ(tok.encode("<|startoftext|>hello<|endoftext|>"),
            (std::vector<int64_t>{kSot, kSot, 3306, kEot, kEot}));
}

TEST(ClipTokenizer, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(clip_tokenizer().clean("caf\xC3"), "caf\xEF\xBF\xBD");
  EXPECT_EQ(clip_tokenizer().clean("\xED\xA0\x80x"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDx");
}

TEST(ClipTokenizer, ContextLengthAndPadding) {
  const ClipTokenizer& tok = clip_tokenizer();
  EXPECT_EQ(tok.encode("a photo of a cat", 4), (std::vector<int64_t>{kSot, 320, 1125, kEot}));
  EXPECT_EQ(tok.encode("a photo of a cat", 1), (std::vector<int64_t>{kEot}));
  EXPECT_EQ(tok.encode_padded("a cat", 6, kEot),
            (std::vector<int64_t>{kSot, 320, 2368, kEot, kEot, kEot}));
  EXPECT_THROW(tok.encode("a", 0), UsageError);
  EXPECT_THROW(tok.tokens({49408}), UsageError);
  EXPECT_THROW(tok.tokens({-1}), UsageError);
}

TEST(ClipTokenizer, ConcurrentEncodeMatchesSerial) {
  // A fresh tokenizer, so that the threads fill its BPE cache together.
  ClipTokenizer tok = ClipTokenizer::from_pretrained(test::fixture("clip_tiny"));
  ClipTokenizer moved = std::move(tok);
  std::vector<std::string> texts;
  for (const json& c : reference_cases()) texts.push_back(c["text"]);
  std::vector<std::vector<int64_t>> want;
  for (const std::string& t : texts) want.push_back(clip_tokenizer().encode_padded(t));
  std::vector<int> mismatches(8, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          size_t k = (i + t * 5) % texts.size();
          mismatches[t] += moved.encode_padded(texts[k]) != want[k];
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

// ---- Loading errors ----

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

const std::string& fixture_vocab() {
  static const std::string path = test::fixture("clip_tiny/vocab.json");
  return path;
}

template <typename E>
std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no exception of the expected type";
  return "";
}

TEST(ClipTokenizerFiles, MissingVocabIsIoErrorNamingIt) {
  std::string dir = test::scratch_dir("clip_tokenizer_missing");
  const std::string merges = test::fixture("clip_tiny/merges.txt");
  std::string msg = error_message<IoError>(
      [&] { ClipTokenizer::from_files(dir + "/no_vocab.json", merges); });
  EXPECT_NE(msg.find(dir + "/no_vocab.json"), std::string::npos) << msg;
  msg = error_message<IoError>([&] { ClipTokenizer::from_pretrained(dir); });
  EXPECT_NE(msg.find("vocab.json"), std::string::npos) << msg;
  msg = error_message<IoError>([&] { ClipTokenizer::from_files(fixture_vocab(), dir + "/m.txt"); });
  EXPECT_NE(msg.find(dir + "/m.txt"), std::string::npos) << msg;
}

TEST(ClipTokenizerFiles, MalformedMergesLineIsFormatErrorWithLineNumber) {
  std::string dir = test::scratch_dir("clip_tokenizer_merges");
  std::string merges = write_file(dir, "merges.txt", "#version: 0.2\ni n\nthis line is bad\n");
  std::string msg =
      error_message<FormatError>([&] { ClipTokenizer::from_files(fixture_vocab(), merges); });
  EXPECT_NE(msg.find(merges + ":3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("this line is bad"), std::string::npos) << msg;

  merges = write_file(dir, "unknown.txt", "#version: 0.2\ni n\nnotasymbol n\n");
  msg = error_message<FormatError>([&] { ClipTokenizer::from_files(fixture_vocab(), merges); });
  EXPECT_NE(msg.find(merges + ":3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("notasymbol"), std::string::npos) << msg;

  // "in g" merges "in" before line 3 makes it: not in training order (Note [BPE order]).
  merges = write_file(dir, "order.txt", "#version: 0.2\nin g\ni n\n");
  msg = error_message<FormatError>([&] { ClipTokenizer::from_files(fixture_vocab(), merges); });
  EXPECT_NE(msg.find(merges + ":3:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("line 2"), std::string::npos) << msg;

  merges = write_file(dir, "dup.txt", "#version: 0.2\ni n\nt h\ni n\n");
  msg = error_message<FormatError>([&] { ClipTokenizer::from_files(fixture_vocab(), merges); });
  EXPECT_NE(msg.find(merges + ":4:"), std::string::npos) << msg;

  // A valid prefix of the real file (CRLF line ends) loads.
  merges = write_file(dir, "ok.txt", "#version: 0.2\r\ni n\r\nt h\r\n");
  EXPECT_EQ(ClipTokenizer::from_files(fixture_vocab(), merges).encode("thin"),
            (std::vector<int64_t>{kSot, 513, 72, 333, kEot}));
}

TEST(ClipTokenizerFiles, VocabThatIsNotAJsonObjectIsFormatError) {
  std::string dir = test::scratch_dir("clip_tokenizer_vocab");
  std::string merges = test::fixture("clip_tiny/merges.txt");
  std::string vocab = write_file(dir, "array.json", "[1, 2, 3]");
  std::string msg = error_message<FormatError>([&] { ClipTokenizer::from_files(vocab, merges); });
  EXPECT_NE(msg.find(vocab), std::string::npos) << msg;
  EXPECT_NE(msg.find("object"), std::string::npos) << msg;

  vocab = write_file(dir, "broken.json", "{\"a\": 1,");
  msg = error_message<FormatError>([&] { ClipTokenizer::from_files(vocab, merges); });
  EXPECT_NE(msg.find(vocab), std::string::npos) << msg;

  vocab = write_file(dir, "string_id.json", "{\"a\": \"1\"}");
  msg = error_message<FormatError>([&] { ClipTokenizer::from_files(vocab, merges); });
  EXPECT_NE(msg.find("'a'"), std::string::npos) << msg;

  vocab = write_file(dir, "small.json", "{\"a\": 0}");  // lacks the byte symbols
  msg = error_message<FormatError>([&] { ClipTokenizer::from_files(vocab, merges); });
  EXPECT_NE(msg.find(vocab), std::string::npos) << msg;
}

}  // namespace
}  // namespace sfvu::pathways
