// LlmConfig and LlmForCausalLM against Hugging Face transformers v4.45.1 on the llava_tiny
// fixture (tests/fixtures/llava_tiny/README.md): resolved configs, hidden states and logits of
// every case of both models (Llama with GQA and untied head; Qwen2 with qkv bias and tied
// head), fp32 at atol 1e-4; bf16 by cosine; the KV cache, query-chunked and sliding-window
// attention by consistency.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include "sfvu/base/error.h"
#include "sfvu/base/safetensors.h"
#include "sfvu/fusion/llm_decoder.h"
#include "sfvu/pathways/checkpoint_io.h"
#include "sfvu/pathways/json_fields.h"
#include "support/tensor_support.h"
#include "support/test_support.h"

namespace sfvu::fusion {
namespace {

using nlohmann::json;

std::string model_dir(const std::string& model) { return test::fixture("llava_tiny/" + model); }
torch::Tensor ref(const std::string& model, const std::string& rel) {
  return test::npy_tensor(model_dir(model) + "/reference/" + rel + ".npy");
}

LlmConfig fixture_config(const std::string& model) {
  json j = pathways::read_json_file(model_dir(model) + "/config.json");
  return LlmConfig::from_json(j["text_config"], model + "/config.json text_config");
}

pathways::LoadReport load_into(LlmForCausalLMImpl& lm, const std::string& model) {
  pathways::LoadOptions options;
  options.checkpoint_key = [](const std::string& name) { return "language_model." + name; };
  options.report_unexpected = false;
  return pathways::load_checkpoint(lm, SafetensorsCheckpoint::open(model_dir(model)), options);
}

LlmForCausalLM load_model(const std::string& model, torch::Dtype dtype = torch::kFloat32,
                          const LlmConfig* config = nullptr) {
  LlmForCausalLM lm(config ? *config : fixture_config(model), dtype);
  load_into(*lm, model);
  return lm;
}

// expect_close, plus the max |diff| on stdout for the record.
void expect_matches(const torch::Tensor& actual, const torch::Tensor& expected, const std::string& what,
                    double atol = 1e-4) {
  if (actual.sizes() == expected.sizes())
    std::cout << "[   diff   ] " << what << ": max |diff| "
              << (actual.to(torch::kFloat64) - expected.to(torch::kFloat64)).abs().max().item<double>() << "\n";
  test::expect_close(actual, expected, atol, 0.0, what, atol);
}

torch::Tensor text_ids(const std::string& model) { return ref(model, "input_text_input_ids").flatten(); }

// ---- LlmConfig ---------------------------------------------------------------------------

TEST(LlmConfigTest, FixtureTextConfigsResolveAsTransformers) {
  for (const std::string model : {"llava15_llama", "onevision_qwen2"}) {
    SCOPED_TRACE(model);
    const json resolved = pathways::read_json_file(model_dir(model) + "/reference/config_resolved.json")["text_config"];
    const json ours = fixture_config(model).to_json();
    int compared = 0;
    for (const auto& [key, value] : ours.items()) {
      if (!resolved.contains(key)) continue;
      EXPECT_EQ(value, resolved[key]) << key;
      ++compared;
    }
    EXPECT_GE(compared, 15);  // every shape key, eps, theta, rope_scaling, ids, tie, act
  }
  const LlmConfig qwen = fixture_config("onevision_qwen2");
  EXPECT_EQ(qwen.num_key_value_heads, 2);
  EXPECT_EQ(qwen.rms_norm_eps, 1e-6);  // a Qwen2Config default: the fixture's config.json omits it
  EXPECT_TRUE(qwen.attention_bias);
  EXPECT_TRUE(qwen.tie_word_embeddings);
  EXPECT_EQ(qwen.eos_token_ids, std::vector<int64_t>{506});
}

TEST(LlmConfigTest, ClassDefaults) {
  const LlmConfig llama = LlmConfig::defaults("llama");
  EXPECT_EQ(llama.vocab_size, 32000);
  EXPECT_EQ(llama.hidden_size, 4096);
  EXPECT_EQ(llama.intermediate_size, 11008);
  EXPECT_EQ(llama.num_hidden_layers, 32);
  EXPECT_EQ(llama.max_position_embeddings, 2048);
  EXPECT_EQ(llama.rms_norm_eps, 1e-6);
  EXPECT_EQ(llama.rope_theta, 10000.0);
  EXPECT_EQ(llama.bos_token_id, 1);
  EXPECT_EQ(llama.eos_token_ids, std::vector<int64_t>{2});
  EXPECT_FALSE(llama.tie_word_embeddings);
  EXPECT_FALSE(llama.attention_bias);
  EXPECT_EQ(llama.head_dim(), 128);
  const LlmConfig mistral = LlmConfig::defaults("mistral");
  EXPECT_EQ(mistral.intermediate_size, 14336);
  EXPECT_EQ(mistral.num_key_value_heads, 8);
  EXPECT_EQ(mistral.max_position_embeddings, 4096 * 32);
  EXPECT_EQ(mistral.sliding_window, 4096);
  const LlmConfig qwen2 = LlmConfig::defaults("qwen2");
  EXPECT_EQ(qwen2.vocab_size, 151936);
  EXPECT_EQ(qwen2.intermediate_size, 22016);
  EXPECT_EQ(qwen2.num_key_value_heads, 32);
  EXPECT_EQ(qwen2.max_position_embeddings, 32768);
  EXPECT_TRUE(qwen2.attention_bias);
  EXPECT_EQ(qwen2.sliding_window, 0);
  EXPECT_EQ(qwen2.bos_token_id, -1);
  EXPECT_EQ(qwen2.eos_token_ids, std::vector<int64_t>{151643});
  EXPECT_EQ(qwen2.to_json()["bos_token_id"], json(nullptr));
}

TEST(LlmConfigTest, KeyValueHeadsAndHeadDimFollowTransformers) {
  // LlamaConfig: absent -> num_attention_heads; Mistral/Qwen2 keep their class defaults.
  EXPECT_EQ(LlmConfig::from_json({{"num_attention_heads", 16}}, "c").num_key_value_heads, 16);
  EXPECT_EQ(LlmConfig::from_json({{"model_type", "mistral"}, {"num_attention_heads", 16}}, "c").num_key_value_heads, 8);
  EXPECT_EQ(LlmConfig::from_json({{"model_type", "qwen2"}, {"num_attention_heads", 8}, {"num_key_value_heads", nullptr}},
                                 "c")
                .num_key_value_heads,
            8);
  const LlmConfig explicit_dim = LlmConfig::from_json({{"hidden_size", 64}, {"num_attention_heads", 4}, {"head_dim", 32}}, "c");
  EXPECT_EQ(explicit_dim.head_dim(), 32);
  const LlmConfig mistral = LlmConfig::from_json({{"model_type", "mistral"}, {"sliding_window", nullptr}}, "c");
  EXPECT_EQ(mistral.sliding_window, 0);
  const LlmConfig qwen_window =
      LlmConfig::from_json({{"model_type", "qwen2"}, {"use_sliding_window", true}, {"sliding_window", 1024}}, "c");
  EXPECT_EQ(qwen_window.sliding_window, 1024);
  EXPECT_EQ(LlmConfig::from_json({{"model_type", "qwen2"}, {"sliding_window", 1024}}, "c").sliding_window, 0);
}

TEST(LlmConfigTest, RopeScalingTypeOrRopeType) {
  const LlmConfig a = LlmConfig::from_json({{"rope_scaling", {{"type", "dynamic"}, {"factor", 2.0}}}}, "c");
  EXPECT_EQ(a.rope_scaling.kind, RopeScaling::Kind::kDynamic);
  EXPECT_EQ(a.rope_scaling.factor, 2.0);
  EXPECT_EQ(a.rope_scaling.to_string(), "dynamic:2");
  const LlmConfig b = LlmConfig::from_json({{"rope_scaling", {{"rope_type", "linear"}, {"factor", 4}}}}, "c");
  EXPECT_EQ(b.rope_scaling.to_string(), "linear:4");
  EXPECT_EQ(LlmConfig::from_json({{"rope_scaling", {{"rope_type", "default"}}}}, "c").rope_scaling.kind,
            RopeScaling::Kind::kNone);
  EXPECT_EQ(RopeScaling::parse("dynamic:1.5").to_string(), "dynamic:1.5");
  EXPECT_EQ(RopeScaling::parse("linear:2").kind, RopeScaling::Kind::kLinear);
  EXPECT_EQ(RopeScaling::parse("none").kind, RopeScaling::Kind::kNone);
  for (const char* bad : {"dynamic", "dynamic:", "dynamic:x", "dynamic:0.5", "yarn:2", "linear:2x", ""})
    test::expect_error<UsageError>([&] { RopeScaling::parse(bad); }, {"rope scaling"});
}

TEST(LlmConfigTest, EosIntOrListAndJsonRoundTrip) {
  const LlmConfig multi = LlmConfig::from_json({{"eos_token_id", {2, 32000}}}, "c");
  EXPECT_EQ(multi.eos_token_ids, (std::vector<int64_t>{2, 32000}));
  EXPECT_EQ(multi.to_json()["eos_token_id"], json({2, 32000}));
  for (const LlmConfig& c : {fixture_config("llava15_llama"), fixture_config("onevision_qwen2"), LlmConfig::qwen2_0_5b(),
                             LlmConfig::vicuna_7b(), multi, LlmConfig::defaults("mistral")})
    EXPECT_EQ(LlmConfig::from_json(c.to_json(), "roundtrip").to_json(), c.to_json());
}

TEST(LlmConfigTest, ErrorsNameFileAndKey) {
  const std::string where = "models/x/config.json text_config";
  auto expect_format_error = [&](const json& j, const std::string& key) {
    test::expect_error<FormatError>([&] { LlmConfig::from_json(j, where); }, {where, key});
  };
  expect_format_error({{"hidden_size", "big"}}, "hidden_size");
  expect_format_error({{"model_type", "gpt2"}}, "gpt2");
  expect_format_error({{"rope_scaling", {{"type", "yarn"}, {"factor", 2}}}}, "rope_scaling");
  expect_format_error({{"rope_scaling", {{"type", "dynamic"}}}}, "factor");
  expect_format_error({{"eos_token_id", "x"}}, "eos_token_id");
  expect_format_error({{"hidden_size", 66}, {"num_attention_heads", 4}}, "hidden_size");
  expect_format_error({{"num_attention_heads", 4}, {"num_key_value_heads", 3}, {"hidden_size", 64}}, "num_key_value_heads");
  expect_format_error({{"hidden_act", "gelu"}}, "hidden_act");
  expect_format_error({{"num_hidden_layers", 0}}, "num_hidden_layers");
  test::expect_error<FormatError>([&] { LlmConfig::from_json(json::array(), where); }, {where});
  test::expect_error<FormatError>([&] { LlmConfig::defaults("bert", where); }, {where, "bert"});
}

TEST(LlmConfigTest, ParameterCounts) {
  EXPECT_EQ(LlmConfig::qwen2_0_5b().parameter_count(), 494090112);  // spec: 494 M
  EXPECT_EQ(LlmConfig::vicuna_7b().parameter_count(), 6738939904);  // spec: 6.739 B
  for (const std::string model : {"llava15_llama", "onevision_qwen2"}) {
    const LlmConfig c = fixture_config(model);
    LlmForCausalLM lm(c);
    int64_t n = 0;
    for (const auto& p : lm->parameters()) n += p.numel();
    EXPECT_EQ(n, c.parameter_count()) << model;
  }
}

// ---- LlmForCausalLM against transformers ----------------------------------------------------

TEST(LlmDecoderTest, ParameterNamesAreCheckpointKeys) {
  for (const std::string model : {"llava15_llama", "onevision_qwen2"}) {
    SCOPED_TRACE(model);
    LlmForCausalLM lm(fixture_config(model));
    const pathways::LoadReport report = load_into(*lm, model);
    EXPECT_TRUE(report.ok());
    std::vector<std::string> expected;
    for (const auto& name : SafetensorsCheckpoint::open(model_dir(model)).names())
      if (name.rfind("language_model.", 0) == 0) expected.push_back(name);
    std::vector<std::string> used = report.used;
    std::sort(used.begin(), used.end());
    EXPECT_EQ(used, expected);
    EXPECT_EQ(lm->named_parameters().contains("lm_head.weight"), model == "llava15_llama");
  }
}

TEST(LlmDecoderTest, TextHiddenStatesAndLogitsMatchTransformers) {
  for (const std::string model : {"llava15_llama", "onevision_qwen2"}) {
    SCOPED_TRACE(model);
    LlmForCausalLM lm = load_model(model);
    const torch::Tensor ids = text_ids(model);
    KvCache cache(lm->config(), ids.size(0));
    std::vector<torch::Tensor> hidden;
    torch::Tensor h = lm->forward(lm->embed(ids), cache, &hidden);
    EXPECT_EQ(cache.length(), ids.size(0));
    ASSERT_EQ(hidden.size(), 3u);
    expect_matches(torch::stack(hidden), ref(model, "text/llm_hidden_states"), model + "/text llm_hidden_states");
    expect_matches(lm->logits(h), ref(model, "text/logits_full"), model + "/text logits_full");
  }
}

struct EmbedsCase {
  std::string model, name;
};

TEST(LlmDecoderTest, EveryCaseLogitsMatchTransformers) {
  for (const EmbedsCase& c : std::vector<EmbedsCase>{{"llava15_llama", "image"},
                                                     {"llava15_llama", "slowfast"},
                                                     {"llava15_llama", "slowfast_dynrope"},
                                                     {"onevision_qwen2", "image"},
                                                     {"onevision_qwen2", "video"}}) {
    SCOPED_TRACE(c.model + "/" + c.name);
    LlmConfig config = fixture_config(c.model);
    if (c.name == "slowfast_dynrope") config.rope_scaling = RopeScaling::parse("dynamic:2");
    LlmForCausalLM lm = load_model(c.model, torch::kFloat32, &config);
    const torch::Tensor embeds = ref(c.model, c.name + "/inputs_embeds");
    KvCache cache(config, embeds.size(0));
    torch::Tensor logits = lm->logits(lm->forward(embeds, cache));
    expect_matches(logits[-1], ref(c.model, c.name + "/logits_last"), c.model + "/" + c.name + " logits_last");
    if (c.model == "llava15_llama" && c.name == "image")
      expect_matches(logits, ref(c.model, "image/logits_full"), c.model + "/image logits_full");
  }
}

TEST(LlmDecoderTest, PrefillInPiecesEqualsOneShot) {
  LlmForCausalLM lm = load_model("llava15_llama");
  const torch::Tensor ids = text_ids("llava15_llama");
  KvCache cache(lm->config(), 16);
  torch::Tensor first = lm->forward(lm->embed(ids.slice(0, 0, 5)), cache);
  torch::Tensor rest = lm->forward(lm->embed(ids.slice(0, 5)), cache);
  EXPECT_EQ(cache.length(), 12);
  expect_matches(lm->logits(torch::cat({first, rest})), ref("llava15_llama", "text/logits_full"),
                 "llava15_llama/text logits_full prefilled 5 + 7");
}

TEST(LlmDecoderTest, QueryChunkedAttentionMatchesWhole) {
  LlmForCausalLM lm = load_model("onevision_qwen2");
  const torch::Tensor embeds = ref("onevision_qwen2", "image/inputs_embeds");  // 213 tokens
  KvCache cache(lm->config(), embeds.size(0));
  torch::Tensor whole = lm->forward(embeds, cache);
  for (int64_t rows : {1, 3, 64}) {
    lm->set_attention_chunk_rows(rows);
    cache.clear();
    torch::Tensor head = lm->forward(embeds.slice(0, 0, 100), cache);  // chunks after a filled cache too
    torch::Tensor tail = lm->forward(embeds.slice(0, 100), cache);
    test::expect_close(torch::cat({head, tail}), whole, 1e-5, 0, "chunk rows " + std::to_string(rows), 1e-6);
  }
  lm->set_attention_chunk_rows(0);
  expect_matches(lm->logits(whole.slice(0, -1)).squeeze(0), ref("onevision_qwen2", "image/logits_last"),
                 "onevision_qwen2/image logits_last (unchunked)");
  test::expect_error<UsageError>([&] { lm->set_attention_chunk_rows(-1); }, {"chunk"});
}

// With RoPE the scores depend only on relative positions, so one layer with a window of W
// sees, at its last position, exactly what the last W tokens alone would give.
TEST(LlmDecoderTest, SlidingWindowAttendsToTheLastPositionsOnly) {
  LlmConfig config = fixture_config("llava15_llama");
  config.num_hidden_layers = 1;
  config.sliding_window = 4;
  LlmForCausalLM windowed = load_model("llava15_llama", torch::kFloat32, &config);
  const torch::Tensor embeds = windowed->embed(text_ids("llava15_llama"));
  KvCache cache(config, 12);
  torch::Tensor all = windowed->forward(embeds, cache);
  config.sliding_window = 0;
  LlmForCausalLM full = load_model("llava15_llama", torch::kFloat32, &config);
  KvCache short_cache(config, 4);
  torch::Tensor last4 = full->forward(embeds.slice(0, 8), short_cache);
  test::expect_close(all[-1], last4[-1], 1e-5, 0, "window 4 vs the last 4 tokens alone", 1e-6);
  // Decoding one token at a time through the window gives the prefill's rows.
  cache.clear();
  std::vector<torch::Tensor> rows;
  for (int64_t t = 0; t < 12; ++t) rows.push_back(windowed->forward(embeds.slice(0, t, t + 1), cache));
  test::expect_close(torch::cat(rows), all, 1e-5, 0, "windowed decode vs prefill", 1e-6);
}

TEST(LlmDecoderTest, Bf16StaysCloseToTheReference) {
  for (const std::string model : {"llava15_llama", "onevision_qwen2"}) {
    SCOPED_TRACE(model);
    // Built in bf16 (llava: F16 weights convert on load), or built in fp32 and converted.
    LlmForCausalLM lm = load_model(model, model == "llava15_llama" ? torch::kBFloat16 : torch::kFloat32);
    if (model != "llava15_llama") lm->to(torch::kBFloat16);
    EXPECT_EQ(lm->dtype(), torch::kBFloat16);
    const torch::Tensor ids = text_ids(model);
    KvCache cache(lm->config(), ids.size(0), torch::kBFloat16);
    torch::Tensor logits = lm->logits(lm->forward(lm->embed(ids), cache));
    EXPECT_EQ(logits.scalar_type(), torch::kFloat32);
    const torch::Tensor expected = ref(model, "text/logits_full");
    const double max_diff = (logits - expected).abs().max().item<double>();
    const double range = expected.abs().max().item<double>();
    std::cout << "[   diff   ] " << model << "/text logits_full bf16: max |diff| " << max_diff << " (max |logit| "
              << range << "), min cosine " << test::min_cosine(logits, expected) << "\n";
    EXPECT_GE(test::min_cosine(logits, expected), 0.999);
    EXPECT_LE(max_diff, 0.02 * range);  // bf16 keeps 8 mantissa bits
  }
}

// ---- KvCache -----------------------------------------------------------------------------

TEST(KvCacheTest, CapacityTruncateAndErrors) {
  LlmForCausalLM lm = load_model("llava15_llama");
  const torch::Tensor ids = text_ids("llava15_llama"), expected = ref("llava15_llama", "text/logits_full");
  KvCache cache(lm->config(), 12);
  EXPECT_EQ(cache.capacity(), 12);
  EXPECT_EQ(cache.num_layers(), 2);
  EXPECT_EQ(cache.bytes(), size_t(2 * 2 * (2 * 12 * 16) * 4));  // layers x (k, v) x [Hkv, cap, hd] x fp32
  lm->forward(lm->embed(ids), cache);
  EXPECT_EQ(cache.length(), 12);
  test::expect_error<UsageError>([&] { lm->forward(lm->embed(ids.slice(0, 0, 1)), cache); }, {"capacity", "12"});
  EXPECT_EQ(cache.length(), 12);  // unchanged by the failed call
  test::expect_error<UsageError>([&] { cache.truncate(13); }, {"truncate", "12"});
  test::expect_error<UsageError>([&] { cache.truncate(-1); }, {"truncate"});
  test::expect_error<UsageError>([&] { cache.advance(1); }, {"capacity"});
  cache.truncate(5);
  EXPECT_EQ(cache.length(), 5);
  torch::Tensor redo = lm->logits(lm->forward(lm->embed(ids.slice(0, 5)), cache));
  expect_matches(redo, expected.slice(0, 5), "llava15_llama/text logits_full rows 5.. after truncate(5)");
  cache.clear();
  EXPECT_EQ(cache.length(), 0);

  test::expect_error<UsageError>([&] { KvCache(lm->config(), 0); }, {"capacity"});
  KvCache bf16_cache(lm->config(), 12, torch::kBFloat16);
  test::expect_error<UsageError>([&] { lm->forward(lm->embed(ids), bf16_cache); }, {"KV cache", "BFloat16"});
  LlmConfig other = lm->config();
  other.num_hidden_layers = 3;
  KvCache wrong_layers(other, 12);
  test::expect_error<UsageError>([&] { lm->forward(lm->embed(ids), wrong_layers); }, {"KV cache", "3 layers"});
  test::expect_error<UsageError>([&] { lm->forward(torch::zeros({3, 63}), cache); }, {"[3, 63]"});
  EXPECT_EQ(cache.length(), 0);
}

TEST(LlmDecoderTest, EmbedRejectsIdsOutsideTheVocabulary) {
  LlmForCausalLM lm(fixture_config("llava15_llama"));
  test::expect_error<UsageError>([&] { lm->embed(torch::tensor({1, 512}, torch::kLong)); }, {"512", "vocabulary"});
  test::expect_error<UsageError>([&] { lm->embed(torch::tensor({-1}, torch::kLong)); }, {"-1"});
  EXPECT_EQ(lm->embed(torch::tensor({3, 4}, torch::kInt)).sizes(), (std::vector<int64_t>{2, 64}));
}

TEST(LlmDecoderTest, RunsWithGradModeOn) {
  ASSERT_TRUE(torch::GradMode::is_enabled());
  LlmForCausalLM lm = load_model("onevision_qwen2");
  const torch::Tensor ids = text_ids("onevision_qwen2");
  KvCache cache(lm->config(), 16);
  torch::Tensor logits = lm->logits(lm->forward(lm->embed(ids), cache));
  EXPECT_FALSE(logits.requires_grad());
  expect_matches(logits, ref("onevision_qwen2", "text/logits_full"), "onevision_qwen2/text logits_full (grad mode on)");
  torch::Tensor step = lm->logits(lm->forward(lm->embed(torch::tensor({346}, torch::kLong)), cache));
  EXPECT_EQ(cache.length(), ids.size(0) + 1);
  expect_matches(step[0], ref("onevision_qwen2", "text/gen_step_logits")[1], "onevision_qwen2/text step 2 logits");
}

}  // namespace
}  // namespace sfvu::fusion
