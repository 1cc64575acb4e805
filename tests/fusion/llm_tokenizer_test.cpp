// LlmTokenizer against Hugging Face transformers 4.45.1: the reference ids of
// ../shared/fixtures/tokenizers/{qwen2_bpe,llama2_spm}/cases.json (63 strings each; see its
// PROVENANCE.md). The real tokenizer files stay in ../shared (licences): each test builds a
// scratch model folder that links them next to a small tokenizer_config.json / tokenizer.json,
// and skips when ../shared is absent. The self-made tiny tokenizers of
// tests/fixtures/llm_tokenizers_tiny always run (the Llama one against libsentencepiece's ids).
#include "sfvu/fusion/llm_tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "sfvu/base/error.h"
#include "sfvu/pathways/byte_bpe.h"
#include "support/test_support.h"

namespace sfvu::fusion {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string shared_tokenizers() { return std::string(SFVU_SHARED_DIR) + "/fixtures/tokenizers"; }

#define SKIP_WITHOUT_SHARED(sub)                                                                \
  if (!fs::exists(shared_tokenizers() + "/" + (sub))) {                                         \
    GTEST_SKIP() << "needs " << shared_tokenizers() << "/" << (sub) << " (../shared fixtures)"; \
  }

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// A scratch model folder: links to `files` of the shared `sub` folder plus extra files.
std::string model_folder(const std::string& name, const std::string& sub,
                         const std::vector<std::string>& files,
                         const std::vector<std::pair<std::string, json>>& extra = {}) {
  std::string dir = test::scratch_dir("llm_tokenizer_" + name);
  for (const auto& f : files) fs::create_symlink(shared_tokenizers() + "/" + sub + "/" + f, dir + "/" + f);
  for (const auto& [file, content] : extra) write_file(dir + "/" + file, content.dump(2));
  return dir;
}

json added(const std::string& content) {
  return {{"content", content}, {"lstrip", false},      {"normalized", false},
          {"rstrip", false},    {"single_word", false}, {"special", true}};
}

const json& cases(const std::string& sub) {
  static std::map<std::string, json> loaded;
  auto it = loaded.find(sub);
  if (it == loaded.end()) {
    it = loaded
             .emplace(sub, json::parse(test::read_text_file(shared_tokenizers() + "/" + sub + "/cases.json")))
             .first;
  }
  return it->second;
}

std::string show(const std::vector<int64_t>& ids) {
  std::string s;
  for (int64_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
  return "[" + s + "]";
}

// Counts the cases whose encode() differs from `key`, reporting each.
int mismatches(const LlmTokenizer& tok, const std::string& sub, const std::string& key) {
  int bad = 0;
  for (const json& c : cases(sub)) {
    const auto text = c["text"].get<std::string>();
    const auto expected = c[key].get<std::vector<int64_t>>();
    const std::vector<int64_t> got = tok.encode(text);
    if (got != expected) {
      ++bad;
      ADD_FAILURE() << key << " for " << json(text).dump() << "\n  expected " << show(expected)
                    << "\n  got      " << show(got);
    }
  }
  return bad;
}

// The pushed pieces of a StreamingDecoder, which must be whole UTF-8 characters.
std::string stream(const LlmTokenizer& tok, const std::vector<int64_t>& ids) {
  StreamingDecoder decoder(tok);
  std::string out;
  for (int64_t id : ids) out += decoder.push(id);
  return out + decoder.flush();
}

// ---- Qwen2 ----

std::string qwen2_folder(const std::string& name, bool llava_ov_tokens) {
  json decoder = {
      {"151643", added("<|endoftext|>")}, {"151644", added("<|im_start|>")}, {"151645", added("<|im_end|>")}};
  if (llava_ov_tokens) {
    decoder["151646"] = added("<image>");
    decoder["151647"] = added("<video>");
  }
  json config = {{"added_tokens_decoder", decoder}, {"eos_token", "<|im_end|>"}, {"bos_token", nullptr}};
  return model_folder(name, "qwen2_bpe", {"vocab.json", "merges.txt"}, {{"tokenizer_config.json", config}});
}

TEST(Qwen2Tokenizer, MatchesHfSlowTokenizerOnSharedCases) {
  SKIP_WITHOUT_SHARED("qwen2_bpe/vocab.json");
  const auto start = std::chrono::steady_clock::now();
  auto tok = LlmTokenizer::from_pretrained(qwen2_folder("qwen2", false));
  const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RecordProperty("load_seconds", std::to_string(load_seconds));
  EXPECT_LT(load_seconds, 3.0) << "loading 151k tokens + 151k merges";
  EXPECT_EQ(tok->kind(), "qwen2_bpe");
  EXPECT_EQ(tok->vocab_size(), 151646);
  EXPECT_EQ(tok->bos_id(), -1);
  EXPECT_EQ(tok->eos_id(), 151645);
  EXPECT_EQ(cases("qwen2_bpe").size(), 63u);
  EXPECT_EQ(mismatches(*tok, "qwen2_bpe", "hf_slow_qwen2_ids"), 0);
  for (const json& c : cases("qwen2_bpe")) {  // the vocab strings, as HF's tokenize() gives them
    const std::vector<int64_t> ids = c["hf_slow_qwen2_ids"].get<std::vector<int64_t>>();
    std::vector<std::string> tokens;
    for (int64_t id : ids) tokens.push_back(tok->token_string(id));
    EXPECT_EQ(tokens, c["tokens"].get<std::vector<std::string>>()) << c["text"];
  }
}

TEST(Qwen2Tokenizer, MatchesHfSlowTokenizerWithLlavaOneVisionAddedTokens) {
  SKIP_WITHOUT_SHARED("qwen2_bpe/vocab.json");
  auto tok = LlmTokenizer::from_pretrained(qwen2_folder("qwen2_ov", true));
  EXPECT_EQ(tok->vocab_size(), 151648);
  EXPECT_EQ(tok->token_id("<video>"), 151647);
  EXPECT_EQ(mismatches(*tok, "qwen2_bpe", "hf_slow_with_llava_ov_added_tokens_ids"), 0);
}

TEST(Qwen2Tokenizer, DecodeAndStreamingRestoreTheText) {
  SKIP_WITHOUT_SHARED("qwen2_bpe/vocab.json");
  auto tok = LlmTokenizer::from_pretrained(qwen2_folder("qwen2_decode", true));
  for (const json& c : cases("qwen2_bpe")) {
    const auto text = c["text"].get<std::string>();
    const auto ids = c["hf_slow_with_llava_ov_added_tokens_ids"].get<std::vector<int64_t>>();
    const std::string decoded = tok->decode(ids, /*skip_special=*/false);
    if (!c["nfc_changes_text"].get<bool>()) {
      EXPECT_EQ(decoded, text);
    }
    EXPECT_EQ(tok->encode(decoded), ids) << "decode -> encode is stable";
    EXPECT_EQ(stream(*tok, ids), tok->decode(ids)) << text;
  }
  // " 🦙" is three byte-level tokens (" \xF0\x9F", "\xA6", "\x99"): the llama comes out whole
  // with the last one.
  std::vector<int64_t> ids = tok->encode(" 🦙");
  ASSERT_EQ(ids.size(), 3u);
  StreamingDecoder decoder(*tok);
  EXPECT_EQ(decoder.push(ids[0]), " ");
  EXPECT_EQ(decoder.push(ids[1]), "");
  EXPECT_EQ(decoder.push(ids[2]), "🦙");
  EXPECT_EQ(decoder.flush(), "");
  // A sequence cut inside a character keeps its bytes: decode() as they are, flush() at the end.
  EXPECT_EQ(tok->decode({ids[0], ids[1]}), " \xF0\x9F\xA6");
  StreamingDecoder cut(*tok);
  EXPECT_EQ(cut.push(ids[0]), " ");
  EXPECT_EQ(cut.push(ids[1]), "");
  EXPECT_EQ(cut.flush(), "\xF0\x9F\xA6");
  // Specials are skipped by default.
  EXPECT_TRUE(tok->is_special(151645));
  EXPECT_EQ(tok->decode(tok->encode("<|im_start|>user\nHi<|im_end|>")), "user\nHi");
}

TEST(Qwen2Tokenizer, NfcBeforeSplitting) {
  SKIP_WITHOUT_SHARED("qwen2_bpe/vocab.json");
  auto tok = LlmTokenizer::from_pretrained(qwen2_folder("qwen2_nfc", false));
  EXPECT_EQ(tok->encode("cafe\xCC\x81"), tok->encode("caf\xC3\xA9"));  // e + U+0301 -> é
}

TEST(ByteBpe, HeapEqualsTheRankLoopOnQwen2Merges) {
  SKIP_WITHOUT_SHARED("qwen2_bpe/vocab.json");
  const std::string dir = shared_tokenizers() + "/qwen2_bpe/";
  auto bpe = pathways::ByteBpe::from_files(dir + "vocab.json", dir + "merges.txt");
  EXPECT_TRUE(bpe.merges_in_training_order());
  EXPECT_EQ(bpe.merge_count(), 151387u);
  for (const json& c : cases("qwen2_bpe")) {  // whole texts as one piece: long, mixed pieces
    const auto text = c["text"].get<std::string>();
    std::vector<int64_t> fast;
    bpe.encode_piece(text, fast);
    EXPECT_EQ(fast, bpe.encode_piece_exact(text)) << text;
  }
}

TEST(Qwen2Tokenizer, ConcurrentEncodeGivesTheSameIds) {
  SKIP_WITHOUT_SHARED("qwen2_bpe/vocab.json");
  auto tok = LlmTokenizer::from_pretrained(qwen2_folder("qwen2_threads", true));
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (const json& c : cases("qwen2_bpe")) {
        if (tok->encode(c["text"].get<std::string>()) !=
            c["hf_slow_with_llava_ov_added_tokens_ids"].get<std::vector<int64_t>>()) {
          ++bad;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
}

// ---- Llama ----

json llama_config(std::optional<bool> legacy) {
  json config = {{"added_tokens_decoder",
                  {{"0", added("<unk>")},
                   {"1", added("<s>")},
                   {"2", added("</s>")},
                   {"32000", added("<image>")},
                   {"32001", added("<pad>")}}},
                 {"bos_token", "<s>"},
                 {"eos_token", "</s>"},
                 {"pad_token", "<pad>"}};
  if (legacy) config["legacy"] = *legacy;
  return config;
}

TEST(LlamaTokenizer, PlainModelMatchesSentencePieceOnSharedCases) {
  SKIP_WITHOUT_SHARED("llama2_spm/tokenizer.model");
  auto tok = LlmTokenizer::from_pretrained(model_folder("llama_plain", "llama2_spm", {"tokenizer.model"}));
  EXPECT_EQ(tok->kind(), "llama_spm");
  EXPECT_EQ(tok->vocab_size(), 32000);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(cases("llama2_spm").size(), 63u);
  EXPECT_EQ(mismatches(*tok, "llama2_spm", "sentencepiece_ids"), 0);
}

TEST(LlamaTokenizer, LegacyMatchesHfSlowTokenizerOnSharedCases) {
  SKIP_WITHOUT_SHARED("llama2_spm/tokenizer.model");
  auto tok = LlmTokenizer::from_pretrained(model_folder("llama_legacy", "llama2_spm", {"tokenizer.model"},
                                                        {{"tokenizer_config.json", llama_config(true)}}));
  EXPECT_EQ(tok->vocab_size(), 32002);
  EXPECT_EQ(mismatches(*tok, "llama2_spm", "hf_slow_legacy_true_ids"), 0);
  // No "legacy" key: HF's default is legacy.
  auto by_default =
      LlmTokenizer::from_pretrained(model_folder("llama_default", "llama2_spm", {"tokenizer.model"},
                                                 {{"tokenizer_config.json", llama_config(std::nullopt)}}));
  EXPECT_EQ(mismatches(*by_default, "llama2_spm", "hf_slow_legacy_true_ids"), 0);
}

TEST(LlamaTokenizer, NonLegacyMatchesHfSlowTokenizerOnSharedCases) {
  SKIP_WITHOUT_SHARED("llama2_spm/tokenizer.model");
  auto tok = LlmTokenizer::from_pretrained(model_folder("llama_nonlegacy", "llama2_spm", {"tokenizer.model"},
                                                        {{"tokenizer_config.json", llama_config(false)}}));
  EXPECT_EQ(mismatches(*tok, "llama2_spm", "hf_slow_legacy_false_ids"), 0);
  // A special token first: HF drops the lone "▁" before it.
  EXPECT_EQ(tok->encode("<image>\nWhat"), (std::vector<int64_t>{32000, 13, 5618}));
  EXPECT_EQ(tok->encode("<image>\nWhat", /*add_bos=*/true), (std::vector<int64_t>{1, 32000, 13, 5618}));
}

TEST(LlamaTokenizer, TokenizerJsonDecidesTheLegacyMode) {
  SKIP_WITHOUT_SHARED("llama2_spm/tokenizer.model");
  const json added_list = json::array({{{"id", 32000}, {"content", "<image>"}, {"special", true}},
                                       {{"id", 32001}, {"content", "<pad>"}, {"special", true}}});
  // llava-hf's conversion: Prepend("▁") + Replace normalizer = legacy, whatever the config says.
  json legacy_json = {
      {"added_tokens", added_list},
      {"normalizer",
       {{"type", "Sequence"},
        {"normalizers",
         json::array({{{"type", "Prepend"}, {"prepend", "▁"}},
                      {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "▁"}}})}}},
      {"pre_tokenizer", nullptr},
      {"model", {{"type", "BPE"}, {"vocab", {{"a", 0}}}}}};
  json config = {{"legacy", false}};
  auto legacy = LlmTokenizer::from_pretrained(
      model_folder("llama_json_legacy", "llama2_spm", {"tokenizer.model"},
                   {{"tokenizer.json", legacy_json}, {"tokenizer_config.json", config}}));
  EXPECT_EQ(mismatches(*legacy, "llama2_spm", "hf_slow_legacy_true_ids"), 0);
  // Newer conversions: Metaspace(prepend_scheme "first") = non-legacy.
  json first_json = {
      {"added_tokens", added_list},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Metaspace"}, {"replacement", "▁"}, {"prepend_scheme", "first"}, {"split", false}}}};
  auto non_legacy = LlmTokenizer::from_pretrained(
      model_folder("llama_json_first", "llama2_spm", {"tokenizer.model"}, {{"tokenizer.json", first_json}}));
  EXPECT_EQ(mismatches(*non_legacy, "llama2_spm", "hf_slow_legacy_false_ids"), 0);
  EXPECT_TRUE(non_legacy->is_special(32000));
}

TEST(LlamaTokenizer, DecodeMatchesSentencePieceAndStreaming) {
  SKIP_WITHOUT_SHARED("llama2_spm/tokenizer.model");
  auto tok = LlmTokenizer::from_pretrained(model_folder("llama_decode", "llama2_spm", {"tokenizer.model"},
                                                        {{"tokenizer_config.json", llama_config(true)}}));
  for (const json& c : cases("llama2_spm")) {
    const auto ids = c["sentencepiece_ids"].get<std::vector<int64_t>>();
    EXPECT_EQ(tok->decode(ids), c["decode_of_sentencepiece_ids"].get<std::string>());
    std::vector<int64_t> with_bos = tok->encode(c["text"].get<std::string>(), /*add_bos=*/true);
    EXPECT_EQ(stream(*tok, with_bos), tok->decode(with_bos)) << c["text"];
  }
  EXPECT_EQ(tok->token_bytes(13), "\n");  // <0x0A>
  EXPECT_EQ(tok->token_string(29871), "▁");
  EXPECT_EQ(tok->token_bytes(15043), " Hello");
  EXPECT_EQ(tok->token_id("<image>"), 32000);
  EXPECT_EQ(tok->token_id("▁Hello"), 15043);
  EXPECT_EQ(tok->token_id("no such piece"), -1);
  EXPECT_TRUE(tok->is_special(1));
  EXPECT_FALSE(tok->is_special(13));
  EXPECT_EQ(tok->decode({1, 15043, 3186, 2}, /*skip_special=*/false), "<s> Hello world</s>");
  EXPECT_EQ(tok->decode({1, 15043, 3186, 2}), "Hello world");
  std::vector<int64_t> bos_hi = tok->encode("Hi", /*add_bos=*/true);
  EXPECT_EQ(tok->encode("<s>Hi"), bos_hi) << "\"<s>\" in the text is BOS";
  EXPECT_THROW(tok->token_string(40000), UsageError);
  EXPECT_EQ(tok->decode({15043, 32005, 3186}), "Hello world") << "ids without a token decode to nothing";
}

// ---- the tiny tokenizers of the tiny LLaVA fixtures ----

TEST(TinyTokenizers, Qwen2RoundTripsWithTheOneVisionSpecialIds) {
  auto tok = LlmTokenizer::from_pretrained(test::fixture("llm_tokenizers_tiny/qwen2"));
  EXPECT_EQ(tok->kind(), "qwen2_bpe");
  EXPECT_EQ(tok->vocab_size(), 510);
  EXPECT_EQ(tok->token_id("<|im_start|>"), 505);
  EXPECT_EQ(tok->token_id("<|im_end|>"), 506);
  EXPECT_EQ(tok->eos_id(), 506);
  EXPECT_EQ(tok->token_id("<|endoftext|>"), 507);
  EXPECT_EQ(tok->token_id("<image>"), 508);
  EXPECT_EQ(tok->token_id("<video>"), 509);
  const std::string prompt =
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n<video>\n"
      "What is happening in the video?<|im_end|>\n<|im_start|>assistant\n";
  std::vector<int64_t> ids = tok->encode(prompt);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 509), 1);
  EXPECT_EQ(tok->decode(ids, /*skip_special=*/false), prompt);
  for (const std::string text :
       {"The dog runs across the green field.", "Ünïcödé 🦙 and 1234", "  two  spaces\n\n"}) {
    ids = tok->encode(text);
    for (int64_t id : ids) EXPECT_LT(id, 505) << text;
    EXPECT_EQ(tok->decode(ids), text);
    EXPECT_EQ(stream(*tok, ids), text);
  }
  EXPECT_LT(tok->encode("The video").size(), 4u) << "merges learned from the corpus";
  // The model's vocab is 512: a random model may pick 510 or 511, which have no token.
  EXPECT_EQ(tok->decode({510, 511}), "");
  EXPECT_EQ(stream(*tok, {511}), "");
  EXPECT_THROW(tok->token_string(511), UsageError);
}

TEST(TinyTokenizers, LlamaRoundTripsWithTheLlavaSpecialIds) {
  auto tok = LlmTokenizer::from_pretrained(test::fixture("llm_tokenizers_tiny/llama"));
  EXPECT_EQ(tok->kind(), "llama_spm");
  EXPECT_EQ(tok->vocab_size(), 502);
  EXPECT_EQ(tok->token_id("<image>"), 500);
  EXPECT_EQ(tok->token_id("<pad>"), 501);
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->token_bytes(3 + 0x0A), "\n");  // byte fallback pieces start at 3
  const std::string prompt = "USER: <image>\nWhat is happening in the video? ASSISTANT:";
  std::vector<int64_t> ids = tok->encode(prompt, /*add_bos=*/true);
  EXPECT_EQ(ids.front(), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), 500), 1);
  // Legacy (the fixture's tokenizer_config.json): "▁" before and after <image>.
  auto image = std::find(ids.begin(), ids.end(), 500);
  EXPECT_EQ(tok->token_string(*(image - 1)), "▁");
  EXPECT_EQ(tok->token_string(*(image + 1)), "▁");
  EXPECT_EQ(tok->decode(ids, /*skip_special=*/false),
            "<s> USER: <image> \nWhat is happening in the video? ASSISTANT:");
  for (const std::string text :
       {"The dog runs across the green field.", "Ünïcödé 🦙 and 1234", "  two  spaces\n\n"}) {
    ids = tok->encode(text, /*add_bos=*/true);
    for (int64_t id : ids) EXPECT_LT(id, 500) << text;
    EXPECT_EQ(tok->decode(ids), text);
    EXPECT_EQ(stream(*tok, ids), text);
  }
}

TEST(TinyTokenizers, LlamaMatchesLibSentencePiece) {
  // The ids libsentencepiece gives the tiny model (make_tokenizers.sh): a second model for the
  // engine's own SentencePiece BPE, whose merges and scores the trainer of this machine made.
  auto tok = LlmTokenizer::from_pretrained(test::fixture("llm_tokenizers_tiny/llama"));
  const json reference =
      json::parse(test::read_text_file(test::fixture("llm_tokenizers_tiny/llama/sentencepiece_cases.json")));
  ASSERT_EQ(reference["cases"].size(), 16u);
  for (const json& c : reference["cases"]) {
    EXPECT_EQ(tok->encode(c["text"].get<std::string>()), c["ids"].get<std::vector<int64_t>>()) << c["text"];
  }
}

// ---- errors ----

TEST(LlmTokenizerFiles, MissingOrIncompleteFolderIsIoErrorNamingIt) {
  const std::string dir = test::scratch_dir("llm_tokenizer_missing");
  test::expect_error<IoError>([&] { LlmTokenizer::from_pretrained(dir + "/nope"); }, {dir + "/nope"});
  test::expect_error<IoError>([&] { LlmTokenizer::from_pretrained(dir); },
                              {dir, "tokenizer.model", "merges.txt"});
  fs::copy_file(test::fixture("llm_tokenizers_tiny/qwen2/vocab.json"), dir + "/vocab.json");
  test::expect_error<IoError>([&] { LlmTokenizer::from_pretrained(dir); }, {dir, "only vocab.json"});
}

TEST(LlmTokenizerFiles, MalformedFilesAreFormatErrorsNamingFileAndKey) {
  const std::string dir = test::scratch_dir("llm_tokenizer_malformed");
  for (const char* f : {"vocab.json", "merges.txt"}) {
    fs::copy_file(test::fixture(std::string("llm_tokenizers_tiny/qwen2/") + f), dir + "/" + f);
  }
  const std::string config = dir + "/tokenizer_config.json";
  write_file(config, "{\"added_tokens_decoder\": {");
  test::expect_error<FormatError>([&] { LlmTokenizer::from_pretrained(dir); }, {config, "not valid JSON"});
  write_file(config, R"({"added_tokens_decoder": {"x7": {"content": "<a>"}}})");
  test::expect_error<FormatError>([&] { LlmTokenizer::from_pretrained(dir); }, {config, "\"x7\""});
  write_file(config, R"({"added_tokens_decoder": {"600": {"contents": "<a>"}}})");
  test::expect_error<FormatError>([&] { LlmTokenizer::from_pretrained(dir); },
                                  {config, "\"600\"", "content"});
  write_file(config, R"({"added_tokens_decoder": {"3": {"content": "<a>"}}})");  // id of a vocab token
  test::expect_error<FormatError>([&] { LlmTokenizer::from_pretrained(dir); }, {dir, "<a>", "3"});
  write_file(config, R"({"eos_token": "<|nope|>"})");
  test::expect_error<FormatError>([&] { LlmTokenizer::from_pretrained(dir); }, {config, "<|nope|>"});
  write_file(config, "{}");
  write_file(dir + "/merges.txt", "#version: 0.2\nh e\nnot a merge\n");
  test::expect_error<FormatError>([&] { LlmTokenizer::from_pretrained(dir); }, {dir + "/merges.txt:3:"});

  const std::string llama = test::scratch_dir("llm_tokenizer_bad_model");
  write_file(llama + "/tokenizer.model", "this is not a protobuf");
  test::expect_error<FormatError>([&] { LlmTokenizer::from_pretrained(llama); },
                                  {llama + "/tokenizer.model"});
}

// ---- the byte-level BPE core ----

// A vocab of the 256 byte symbols plus `extra` tokens, and merges in the given order.
pathways::ByteBpe tiny_bpe(const std::string& name, const std::vector<std::string>& extra,
                           const std::string& merges, pathways::ByteBpeOptions options = {}) {
  const std::string dir = test::scratch_dir("byte_bpe_" + name);
  json vocab = json::object();
  for (const std::string& s : pathways::byte_level_alphabet()) vocab[s] = vocab.size();
  for (const std::string& s : extra) vocab[s] = vocab.size();
  write_file(dir + "/vocab.json", vocab.dump());
  write_file(dir + "/merges.txt", "#version: 0.2\n" + merges);
  return pathways::ByteBpe::from_files(dir + "/vocab.json", dir + "/merges.txt", options);
}

TEST(ByteBpe, OutOfOrderMergesUseTheExactRankLoop) {
  // "ab a" is ranked before "a b" makes "ab": the heap would give "aba","b"; HF merges every
  // "a b" first and gets "ab","ab".
  auto bpe = tiny_bpe("order", {"ab", "aba"}, "ab a\na b\n");
  EXPECT_FALSE(bpe.merges_in_training_order());
  std::vector<int64_t> ids;
  bpe.encode_piece("abab", ids);
  const int64_t ab = bpe.id_of("ab");
  EXPECT_EQ(ids, (std::vector<int64_t>{ab, ab}));
  EXPECT_EQ(bpe.encode_piece_exact("abab"), ids);
  pathways::ByteBpeOptions reject;
  reject.reject_out_of_order_merges = true;
  EXPECT_THROW(tiny_bpe("order_reject", {"ab", "aba"}, "ab a\na b\n", reject), FormatError);
}

TEST(ByteBpe, ByteLevelAlphabetRoundTrips) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += char(b);
  const std::string symbols = pathways::to_byte_level(all);
  EXPECT_EQ(pathways::to_byte_level(" \n"), "ĠĊ");
  std::string bytes;
  ASSERT_TRUE(pathways::from_byte_level(symbols, bytes));
  EXPECT_EQ(bytes, all);
  EXPECT_FALSE(pathways::from_byte_level("€", bytes));
}

}  // namespace
}  // namespace sfvu::fusion
