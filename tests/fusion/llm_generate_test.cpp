// Generation against Hugging Face transformers v4.45.1 generate() (greedy, KV cache) on every
// llava_tiny case: the 8 ids exactly and the raw logits of every step at atol 1e-4, including
// SF-LLaVA's dynamic NTK RoPE crossing max_position_embeddings mid-generation. Then the
// sampling rules (transformers' order: repetition penalty, temperature, top-k, top-p) and the
// ways a generation ends.
#include <gtest/gtest.h>

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <iostream>
#include <set>

#include "sfvu/base/error.h"
#include "sfvu/base/safetensors.h"
#include "sfvu/fusion/llm_generate.h"
#include "sfvu/pathways/checkpoint_io.h"
#include "sfvu/pathways/json_fields.h"
#include "support/tensor_support.h"
#include "support/test_support.h"

namespace sfvu::fusion {
namespace {

std::string model_dir(const std::string& model) { return test::fixture("llava_tiny/" + model); }
torch::Tensor ref(const std::string& model, const std::string& rel) {
  return test::npy_tensor(model_dir(model) + "/reference/" + rel + ".npy");
}

LlmForCausalLM load_model(const std::string& model, const std::string& rope_scaling = "none") {
  const nlohmann::json j = pathways::read_json_file(model_dir(model) + "/config.json");
  LlmConfig config = LlmConfig::from_json(j["text_config"], model + "/config.json text_config");
  if (rope_scaling != "none") config.rope_scaling = RopeScaling::parse(rope_scaling);
  LlmForCausalLM lm(config);
  pathways::LoadOptions options;
  options.checkpoint_key = [](const std::string& name) { return "language_model." + name; };
  options.report_unexpected = false;
  pathways::load_checkpoint(*lm, SafetensorsCheckpoint::open(model_dir(model)), options);
  return lm;
}

std::vector<int64_t> to_ids(const torch::Tensor& t) {
  torch::Tensor flat = t.flatten().to(torch::kLong).contiguous();
  return {flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel()};
}

struct Case {
  std::string model, name, input_ids;  // input_ids: reference/input_<x>_input_ids.npy
};

const std::vector<Case>& all_cases() {
  static const std::vector<Case> cases = {
      {"llava15_llama", "text", "text"},         {"llava15_llama", "image", "image"},
      {"llava15_llama", "slowfast", "sf"},       {"llava15_llama", "slowfast_dynrope", "sf"},
      {"onevision_qwen2", "text", "text"},       {"onevision_qwen2", "image", "image"},
      {"onevision_qwen2", "video", "video"}};
  return cases;
}

struct Prompt {
  torch::Tensor embeds;
  std::vector<int64_t> ids;
};

Prompt prompt_of(LlmForCausalLMImpl& lm, const Case& c) {
  Prompt p;
  p.ids = to_ids(ref(c.model, "input_" + c.input_ids + "_input_ids"));
  p.embeds = c.name == "text" ? lm.embed(torch::tensor(p.ids, torch::kLong)) : ref(c.model, c.name + "/inputs_embeds");
  return p;
}

TEST(LlmGenerateTest, GreedyMatchesTransformersOnEveryCase) {
  for (const Case& c : all_cases()) {
    const std::string what = c.model + "/" + c.name;
    SCOPED_TRACE(what);
    LlmForCausalLM lm = load_model(c.model, c.name == "slowfast_dynrope" ? "dynamic:2" : "none");
    const Prompt p = prompt_of(*lm, c);
    GenerateOptions options;
    options.max_new_tokens = 8;
    options.keep_step_logits = true;
    KvCache cache(lm->config(), p.embeds.size(0) + 8);
    const GenerateResult r = generate(*lm, p.embeds, p.ids, options, cache);
    EXPECT_EQ(r.ids, to_ids(ref(c.model, c.name + "/generated_ids")));
    EXPECT_EQ(r.stop_reason, "max_new_tokens");
    EXPECT_EQ(r.prompt_tokens, p.embeds.size(0));
    EXPECT_EQ(cache.length(), p.embeds.size(0) + 7);  // the last id is never fed back
    EXPECT_GE(r.prefill_seconds, 0);
    EXPECT_GE(r.generate_seconds, 0);
    const torch::Tensor expected = ref(c.model, c.name + "/gen_step_logits");
    const double diff = (r.step_logits - expected).abs().max().item<double>();
    std::cout << "[   diff   ] " << what << " gen_step_logits: max |diff| " << diff << "\n";
    test::expect_close(r.step_logits, expected, 1e-4, 0, what + " gen_step_logits", 1e-4);
    test::expect_close(r.logits_last, expected[0], 1e-4, 0, what + " logits_last", 1e-4);
  }
}

// SF-LLaVA's dynamic NTK RoPE: the 124-token prompt + 8 new tokens crosses
// max_position_embeddings = 128 at step 6. transformers rotates only the new token with the
// recomputed frequencies; cached keys keep their rotation, so a no-cache recomputation
// (manual_step_logits) differs. Matching gen_step_logits (above) and not manual ones pins it.
TEST(LlmGenerateTest, DynamicRopeKeepsCachedKeysRotation) {
  const Case c{"llava15_llama", "slowfast_dynrope", "sf"};
  LlmForCausalLM lm = load_model(c.model, "dynamic:2");
  const Prompt p = prompt_of(*lm, c);
  GenerateOptions options;
  options.max_new_tokens = 8;
  options.keep_step_logits = true;
  KvCache cache(lm->config(), 132);
  const GenerateResult r = generate(*lm, p.embeds, p.ids, options, cache);
  const torch::Tensor manual = ref(c.model, "slowfast_dynrope/manual_step_logits");
  const torch::Tensor plain = ref(c.model, "slowfast/gen_step_logits");
  // Steps 1-5 stay inside max_position_embeddings: identical to the unscaled run.
  test::expect_close(r.step_logits.slice(0, 0, 5), plain.slice(0, 0, 5), 1e-4, 0, "steps 1-5 vs no scaling", 1e-4);
  EXPECT_GT((r.step_logits.slice(0, 5) - plain.slice(0, 5)).abs().max().item<double>(), 1e-3);
  EXPECT_GT((r.step_logits.slice(0, 6) - manual.slice(0, 6)).abs().max().item<double>(), 1e-3);
}

// bf16 weights, activations and cache: the video case's greedy margins (>= 1.37) survive
// bf16 rounding, so the ids match exactly; the step logits stay close.
TEST(LlmGenerateTest, Bf16GreedyKeepsTheIds) {
  const Case c{"onevision_qwen2", "video", "video"};
  LlmForCausalLM lm = load_model(c.model);
  lm->to(torch::kBFloat16);
  const Prompt p = prompt_of(*lm, c);
  GenerateOptions options;
  options.max_new_tokens = 8;
  options.keep_step_logits = true;
  KvCache cache(lm->config(), p.embeds.size(0) + 8, torch::kBFloat16);
  const GenerateResult r = generate(*lm, p.embeds, p.ids, options, cache);
  EXPECT_EQ(r.ids, to_ids(ref(c.model, "video/generated_ids")));
  const torch::Tensor expected = ref(c.model, "video/gen_step_logits");
  std::cout << "[   diff   ] " << c.model << "/video gen_step_logits bf16: max |diff| "
            << (r.step_logits - expected).abs().max().item<double>() << ", min cosine "
            << test::min_cosine(r.step_logits, expected) << "\n";
  EXPECT_GE(test::min_cosine(r.step_logits, expected), 0.999);
}

TEST(LlmGenerateTest, StopIdsCallbackAndZeroTokens) {
  const Case c{"llava15_llama", "text", "text"};
  LlmForCausalLM lm = load_model(c.model);
  const Prompt p = prompt_of(*lm, c);
  const std::vector<int64_t> expected = to_ids(ref(c.model, "text/generated_ids"));
  KvCache cache(lm->config(), 32);

  GenerateOptions options;
  options.max_new_tokens = 8;
  options.stop_ids = {expected[2], 9999};
  std::vector<int64_t> streamed;
  options.on_token = [&](int64_t id) {
    streamed.push_back(id);
    return true;
  };
  GenerateResult r = generate(*lm, p.embeds, p.ids, options, cache);
  EXPECT_EQ(r.ids, std::vector<int64_t>(expected.begin(), expected.begin() + 3));  // the stop id included
  EXPECT_EQ(streamed, r.ids);
  EXPECT_EQ(r.stop_reason, "stop_id");
  EXPECT_FALSE(r.step_logits.defined());

  options.stop_ids.clear();
  options.on_token = [](int64_t) { return false; };
  r = generate(*lm, p.embeds, p.ids, options, cache);
  EXPECT_EQ(r.ids, std::vector<int64_t>{expected[0]});
  EXPECT_EQ(r.stop_reason, "callback");

  int calls = 0;
  options.on_token = [&](int64_t) { return ++calls < 4; };
  r = generate(*lm, p.embeds, p.ids, options, cache);
  EXPECT_EQ(r.ids, std::vector<int64_t>(expected.begin(), expected.begin() + 4));
  EXPECT_EQ(r.stop_reason, "callback");

  options.on_token = nullptr;
  options.max_new_tokens = 0;
  r = generate(*lm, p.embeds, p.ids, options, cache);
  EXPECT_TRUE(r.ids.empty());
  EXPECT_EQ(r.stop_reason, "max_new_tokens");
  test::expect_close(r.logits_last, ref(c.model, "text/gen_step_logits")[0], 1e-4, 0, "logits_last", 1e-4);
}

TEST(LlmGenerateTest, CapacityAndOptionErrors) {
  const Case c{"onevision_qwen2", "text", "text"};
  LlmForCausalLM lm = load_model(c.model);
  const Prompt p = prompt_of(*lm, c);  // 11 tokens
  GenerateOptions options;
  options.max_new_tokens = 8;
  KvCache exact(lm->config(), 11 + 7);
  EXPECT_EQ(generate(*lm, p.embeds, p.ids, options, exact).ids.size(), 8u);
  KvCache small(lm->config(), 11 + 6);
  test::expect_error<UsageError>([&] { generate(*lm, p.embeds, p.ids, options, small); }, {"capacity", "17"});
  options.max_new_tokens = -1;
  test::expect_error<UsageError>([&] { generate(*lm, p.embeds, p.ids, options, exact); }, {"max_new_tokens"});
  options.max_new_tokens = 2;
  options.sampling.greedy = false;
  options.sampling.temperature = 0;
  test::expect_error<UsageError>([&] { generate(*lm, p.embeds, p.ids, options, exact); }, {"temperature"});
}

TEST(LlmGenerateTest, RepetitionPenaltyAppliesInGreedyGeneration) {
  const Case c{"onevision_qwen2", "video", "video"};  // greedy repeats 61 55 488 without a penalty
  LlmForCausalLM lm = load_model(c.model);
  const Prompt p = prompt_of(*lm, c);
  GenerateOptions options;
  options.max_new_tokens = 8;
  options.sampling.repetition_penalty = 1.5;
  KvCache cache(lm->config(), p.embeds.size(0) + 8);
  const GenerateResult r = generate(*lm, p.embeds, p.ids, options, cache);
  EXPECT_NE(r.ids, to_ids(ref(c.model, "video/generated_ids")));
  // Replaying the steps by hand: each choice is the argmax of the penalised raw logits.
  options.keep_step_logits = true;
  const GenerateResult replay = generate(*lm, p.embeds, p.ids, options, cache);
  std::vector<int64_t> history = p.ids;
  for (size_t i = 0; i < replay.ids.size(); ++i) {
    torch::Tensor penalised = replay.step_logits[static_cast<int64_t>(i)].clone();
    for (int64_t id : std::set<int64_t>(history.begin(), history.end())) {
      const float v = penalised[id].item<float>();
      penalised[id] = v < 0 ? v * 1.5f : v / 1.5f;
    }
    EXPECT_EQ(replay.ids[i], penalised.argmax().item<int64_t>()) << "step " << i;
    history.push_back(replay.ids[i]);
  }
}

// ---- select_next_token ----------------------------------------------------------------------

int64_t pick(const std::vector<float>& logits, const SamplingOptions& o, const std::vector<int64_t>& history = {},
             uint64_t seed = 0) {
  torch::Generator g = at::detail::createCPUGenerator(seed);
  return select_next_token(torch::tensor(logits), o, history, g);
}

TEST(SelectNextTokenTest, GreedyIsArgmaxAndLeavesLogitsAlone) {
  torch::Tensor logits = torch::tensor({0.5f, 3.0f, -1.0f, 2.9f});
  torch::Generator g = at::detail::createCPUGenerator(0);
  SamplingOptions greedy;
  EXPECT_EQ(select_next_token(logits, greedy, {1}, g), 1);
  greedy.repetition_penalty = 2.0;  // 3.0 -> 1.5 < 2.9
  EXPECT_EQ(select_next_token(logits, greedy, {1}, g), 3);
  EXPECT_EQ(logits[1].item<float>(), 3.0f);
}

TEST(SelectNextTokenTest, RepetitionPenaltyDividesPositiveMultipliesNegative) {
  SamplingOptions o;
  o.repetition_penalty = 2.0;
  EXPECT_EQ(pick({3.0f, -1.0f, 2.0f}, o, {0}), 2);         // 3 / 2 = 1.5 < 2
  EXPECT_EQ(pick({-1.0f, -1.5f}, o, {0}), 1);               // -1 * 2 = -2 < -1.5
  EXPECT_EQ(pick({-1.0f, -1.5f}, o, {0, 0, 0}), 1);         // once per id, however often seen
  EXPECT_EQ(pick({3.0f, -1.0f, 2.0f}, o, {-200, 7, 1}), 0);  // ids outside the vocabulary are skipped
}

TEST(SelectNextTokenTest, SeededSamplingIsReproducible) {
  SamplingOptions o;
  o.greedy = false;
  const torch::Tensor flat = torch::zeros({512});
  auto draws = [&](uint64_t seed) {
    torch::Generator g = at::detail::createCPUGenerator(seed);
    std::vector<int64_t> ids;
    for (int i = 0; i < 20; ++i) ids.push_back(select_next_token(flat, o, {}, g));
    return ids;
  };
  EXPECT_EQ(draws(7), draws(7));
  EXPECT_NE(draws(7), draws(8));
}

TEST(SelectNextTokenTest, TopKOneAndTinyTopPAreGreedy) {
  torch::Generator g = at::detail::createCPUGenerator(3);
  SamplingOptions top_k;
  top_k.greedy = false;
  top_k.top_k = 1;
  SamplingOptions top_p;
  top_p.greedy = false;
  top_p.top_p = 1e-6;
  SamplingOptions cold;
  cold.greedy = false;
  cold.temperature = 1e-3;
  torch::Generator values = at::detail::createCPUGenerator(4);
  for (int i = 0; i < 20; ++i) {
    torch::Tensor logits = torch::randn({512}, values, torch::kFloat);
    const int64_t best = logits.argmax().item<int64_t>();
    logits[best] += 0.05;  // a margin the cold temperature (1e-3) turns into certainty
    EXPECT_EQ(select_next_token(logits, top_k, {}, g), best);
    EXPECT_EQ(select_next_token(logits, top_p, {}, g), best);
    EXPECT_EQ(select_next_token(logits, cold, {}, g), best);
  }
}

TEST(SelectNextTokenTest, SamplesTheSoftmaxDistribution) {
  SamplingOptions o;
  o.greedy = false;
  torch::Generator g = at::detail::createCPUGenerator(11);
  const torch::Tensor logits = torch::tensor({0.0f, float(std::log(3.0))});  // p = 0.25, 0.75
  int ones = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) ones += select_next_token(logits, o, {}, g) == 1;
  EXPECT_NEAR(double(ones) / n, 0.75, 0.03);
}

// transformers applies the temperature before top-p: a hot temperature flattens [2, 1, 0] to
// about a third each, so top_p = 0.5 keeps two tokens; applied the other way round it would
// keep only the first (p = 0.67 alone).
TEST(SelectNextTokenTest, TemperatureBeforeTopKAndTopP) {
  SamplingOptions o;
  o.greedy = false;
  o.temperature = 100;
  o.top_p = 0.5;
  torch::Generator g = at::detail::createCPUGenerator(5);
  const torch::Tensor logits = torch::tensor({2.0f, 1.0f, 0.0f});
  std::set<int64_t> seen;
  for (int i = 0; i < 200; ++i) seen.insert(select_next_token(logits, o, {}, g));
  EXPECT_EQ(seen, (std::set<int64_t>{0, 1}));
  o.top_p = 1.0;
  o.top_k = 2;
  seen.clear();
  for (int i = 0; i < 200; ++i) seen.insert(select_next_token(logits, o, {}, g));
  EXPECT_EQ(seen, (std::set<int64_t>{0, 1}));
}

TEST(SelectNextTokenTest, RejectsBadOptions) {
  SamplingOptions o;
  o.greedy = false;
  o.temperature = -1;
  test::expect_error<UsageError>([&] { pick({1.0f, 2.0f}, o); }, {"temperature"});
  o.temperature = 1;
  o.top_p = 0;
  test::expect_error<UsageError>([&] { pick({1.0f, 2.0f}, o); }, {"top_p"});
  o.top_p = 1;
  o.top_k = -2;
  test::expect_error<UsageError>([&] { pick({1.0f, 2.0f}, o); }, {"top_k"});
  SamplingOptions greedy;
  greedy.repetition_penalty = 0;
  test::expect_error<UsageError>([&] { pick({1.0f, 2.0f}, greedy); }, {"repetition_penalty"});
  test::expect_error<UsageError>([&] { pick({}, SamplingOptions()); }, {"logits"});
}

}  // namespace
}  // namespace sfvu::fusion
