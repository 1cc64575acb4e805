// The LLM commands' contracts, run on the built binary (issue 9):
//   - `sfvu generate` against transformers' own outputs for every case of both tiny fixture
//     checkpoints (tests/fixtures/llava_tiny): 8 greedy ids exact, logits_last atol 1e-4;
//   - `sfvu ask` on real videos with the tiny OneVision / LLaVA models and the self-made tiny
//     tokenizers (tests/fixtures/llm_tokenizers_tiny): keys, token counts, streaming, failures;
//   - `sfvu predict --task qa` with an LLM folder, scored by `sfvu eval mcqa`;
//   - `sfvu bench llm` in a shrunken shape (it must keep running; no timing is asserted).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sfvu/fusion/llm_tokenizer.h"
#include "support/cli_json.h"
#include "support/tensor_support.h"
#include "support/test_support.h"

namespace sfvu {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using test::shell_quote;

std::string model(const std::string& name) { return test::fixture("llava_tiny/" + name); }
std::string ref(const std::string& name, const std::string& file) { return model(name) + "/reference/" + file; }

struct GenerateCase {
  std::string model, reference, inputs, extra;
};

std::string case_name(const ::testing::TestParamInfo<GenerateCase>& info) {
  return info.param.model.substr(0, info.param.model.find('_')) + "_" + info.param.reference;
}

class CliGenerate : public ::testing::TestWithParam<GenerateCase> {};

TEST_P(CliGenerate, MatchesTransformersIdsAndLastLogits) {
  const GenerateCase& c = GetParam();
  const std::string out = test::scratch_dir("cli_generate_" + c.model + "_" + c.reference);
  std::string args = "generate --model " + shell_quote(model(c.model)) + " --input-ids " +
                     shell_quote(ref(c.model, "input_" + c.inputs + "_input_ids.npy"));
  if (c.inputs != "text") args += " --pixel-values " + shell_quote(ref(c.model, "input_" + c.inputs + "_pixel_values.npy"));
  args += " " + c.extra + " --max-new-tokens 8 --greedy --ignore-eos --out " + shell_quote(out);
  const auto r = test::run_sfvu(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json summary = json::parse(r.out);
  EXPECT_EQ(test::json_keys(summary)[0], "out");
  torch::Tensor ids = test::npy_tensor(out + "/generated_ids.npy");
  EXPECT_EQ(ids.scalar_type(), torch::kInt64);
  torch::Tensor expected_ids = test::npy_tensor(ref(c.model, c.reference + "/generated_ids.npy")).to(torch::kInt64);
  EXPECT_TRUE(torch::equal(ids, expected_ids.reshape({-1}))) << ids << "\nvs\n" << expected_ids;
  torch::Tensor logits = test::npy_tensor(out + "/logits_last.npy");
  EXPECT_EQ(logits.scalar_type(), torch::kFloat32);
  // The text cases store the full logits: their last row is logits_last.
  const std::string last = ref(c.model, c.reference + "/logits_last.npy");
  torch::Tensor expected = fs::exists(last) ? test::npy_tensor(last).reshape({-1})
                                            : test::npy_tensor(ref(c.model, c.reference + "/logits_full.npy")).select(-2, -1).reshape({-1});
  test::expect_close(logits, expected, 1e-4, 0, c.model + "/" + c.reference + " logits_last");
}

INSTANTIATE_TEST_SUITE_P(
    EveryFixtureCase, CliGenerate,
    ::testing::Values(GenerateCase{"llava15_llama", "text", "text", ""},
                      GenerateCase{"llava15_llama", "image", "image", ""},
                      GenerateCase{"llava15_llama", "slowfast", "sf", "--modality video --layout slowfast --slow-frames 2"},
                      GenerateCase{"llava15_llama", "slowfast_dynrope", "sf",
                                   "--modality video --layout slowfast --slow-frames 2 --rope-scaling dynamic:2"},
                      GenerateCase{"onevision_qwen2", "text", "text", ""},
                      GenerateCase{"onevision_qwen2", "image", "image",
                                   "--image-sizes " + shell_quote(ref("onevision_qwen2", "input_image_sizes.npy"))},
                      GenerateCase{"onevision_qwen2", "video", "video", ""}),
    case_name);

TEST(CliGenerateErrors, BadInputsNameTheFileAndExitNonZero) {
  const std::string out = test::scratch_dir("cli_generate_errors");
  const std::string m = shell_quote(model("onevision_qwen2"));
  auto r = test::run_sfvu("generate --model " + m + " --input-ids " + shell_quote(out + "/absent.npy") +
                          " --max-new-tokens 2 --greedy --out " + shell_quote(out));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("absent.npy"), std::string::npos) << r.err;
  // Pixels of the wrong size for the tower.
  r = test::run_sfvu("generate --model " + m + " --input-ids " + shell_quote(ref("onevision_qwen2", "input_video_input_ids.npy")) +
                     " --pixel-values " + shell_quote(ref("llava15_llama", "input_sf_pixel_values.npy")) +
                     " --max-new-tokens 2 --greedy --out " + shell_quote(out));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("input_sf_pixel_values.npy"), std::string::npos) << r.err;
  // An id outside the vocabulary (the tiny model has 512).
  pathways::write_npy_tensor(out + "/big.npy", torch::tensor(std::vector<int64_t>{1, 2, 600}, torch::kInt64));
  r = test::run_sfvu("generate --model " + m + " --input-ids " + shell_quote(out + "/big.npy") +
                     " --max-new-tokens 2 --greedy --out " + shell_quote(out));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("600"), std::string::npos) << r.err;
  // Sampling options are checked.
  r = test::run_sfvu("generate --model " + m + " --input-ids " + shell_quote(ref("onevision_qwen2", "input_text_input_ids.npy")) +
                     " --max-new-tokens 2 --greedy --temperature 0.7 --out " + shell_quote(out));
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST(CliGenerateSampling, SeededSamplingRepeats) {
  const std::string m = shell_quote(model("onevision_qwen2"));
  const std::string ids = shell_quote(ref("onevision_qwen2", "input_text_input_ids.npy"));
  auto run = [&](const std::string& name, uint64_t seed) {
    const std::string out = test::scratch_dir("cli_generate_sampling_" + name);
    auto r = test::run_sfvu("generate --model " + m + " --input-ids " + ids + " --max-new-tokens 8 --temperature 1.5 --top-p 0.95 --seed " +
                            std::to_string(seed) + " --ignore-eos --out " + shell_quote(out));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return test::npy_tensor(out + "/generated_ids.npy");
  };
  torch::Tensor a = run("a", 7), b = run("b", 7);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_EQ(a.numel(), 8);
}

// A copy of a fixture model with the tiny self-made tokenizer next to it.
std::string model_with_tokenizer(const std::string& name, const std::string& tokenizer) {
  const std::string dir = test::scratch_dir("cli_llm_model_" + name);
  for (const auto& e : fs::directory_iterator(model(name)))
    if (e.is_regular_file()) fs::copy_file(e.path(), fs::path(dir) / e.path().filename());
  for (const auto& e : fs::directory_iterator(test::fixture("llm_tokenizers_tiny/" + tokenizer)))
    if (e.is_regular_file()) fs::copy_file(e.path(), fs::path(dir) / e.path().filename(), fs::copy_options::overwrite_existing);
  return dir;
}

TEST(CliAsk, AnswersEachVideoAsOneJsonLineAndReportsFailures) {
  const std::string dir = model_with_tokenizer("onevision_qwen2", "qwen2");
  const std::string bikes = test::video("bikes.mp4"), missing = test::scratch_dir("cli_ask_missing") + "/none.mp4";
  const auto r = test::run_sfvu("ask --model " + shell_quote(dir) + " --question " + shell_quote("What is moving?") +
                                " --frames 6 --slow-frames 2 --max-new-tokens 5 -q " + shell_quote(bikes) + " " +
                                shell_quote(missing) + " " + shell_quote(test::video("corrupted.mp4")));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  const auto lines = test::json_lines<json>(r.out);
  ASSERT_GE(lines.size(), 2u) << r.out;
  const json& ok = lines[0];
  const std::vector<std::string> expected{"video", "question", "answer", "n_visual_tokens", "timing"};
  const auto keys = test::json_keys(ok);
  ASSERT_GE(keys.size(), expected.size());
  EXPECT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + 5), expected);
  EXPECT_EQ(ok["video"], bikes);
  EXPECT_TRUE(ok["answer"].is_string());
  EXPECT_EQ(test::json_keys(ok["timing"]), (std::vector<std::string>{"decode_s", "vision_s", "prefill_s", "generate_s"}));
  EXPECT_LE(ok["generated_tokens"].get<int>(), 5);
  EXPECT_GT(ok["n_visual_tokens"].get<int>(), 6 * 4);  // at least the fast tokens of 6 frames
  const json& bad = lines[1];
  EXPECT_EQ(bad["video"], missing);
  EXPECT_TRUE(bad.contains("error"));
  EXPECT_NE(r.err.find("none.mp4"), std::string::npos) << r.err;
}

TEST(CliAsk, NativeLayoutCountsOneVisionsPooledTokens) {
  const std::string dir = model_with_tokenizer("onevision_qwen2", "qwen2");
  const auto r = test::run_sfvu("ask --model " + shell_quote(dir) + " --question Why? --layout native --frames 3 "
                                "--max-new-tokens 3 -q " + shell_quote(test::video("bikes.mp4")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json line = json::parse(r.out);
  // 7x7 grid -> bilinear 4x4 per frame, 3 frames, one newline for the video (the fixture's video case).
  EXPECT_EQ(line["n_visual_tokens"].get<int>(), 3 * 16 + 1);
}

TEST(CliAsk, StreamPrintsTheAnswerBeforeItsJsonLine) {
  const std::string dir = model_with_tokenizer("llava15_llama", "llama");
  const auto r = test::run_sfvu("ask --model " + shell_quote(dir) + " --question Where? --frames 4 --slow-frames 2 "
                                "--max-new-tokens 6 --stream -q " + shell_quote(test::video("bikes.mp4")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto all = test::nonempty_lines(r.out);
  ASSERT_GE(all.size(), 1u) << r.out;
  const json line = json::parse(all.back());
  const std::string answer = line["answer"];
  // The streamed text (every line before the JSON) is the answer.
  std::string streamed;
  for (size_t i = 0; i + 1 < all.size(); ++i) streamed += (i ? "\n" : "") + all[i];
  const auto trim = [](std::string s) {
    const size_t a = s.find_first_not_of(" \n"), b = s.find_last_not_of(" \n");
    return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
  };
  EXPECT_EQ(trim(fusion::valid_utf8(streamed)), answer);
  // llava has no native video path.
  const auto native = test::run_sfvu("ask --model " + shell_quote(dir) + " --question Where? --layout native -q " +
                                     shell_quote(test::video("bikes.mp4")));
  EXPECT_EQ(native.exit_code, 2) << native.err;
}

TEST(CliPredictLlm, MultipleChoiceThroughTheLlmIsScoredByTheEvaluator) {
  const std::string dir = model_with_tokenizer("onevision_qwen2", "qwen2");
  const std::string work = test::scratch_dir("cli_predict_llm");
  fs::create_directories(work + "/videos");
  fs::copy_file(test::video("bikes.mp4"), work + "/videos/bikes.mp4");
  fs::copy_file(test::video("fire2.mp4"), work + "/videos/fire.mp4");
  std::ofstream(work + "/qa.jsonl")
      << R"({"qid": "q1", "vid": "bikes", "question": "What moves?", "options": ["bikes", "cars", "birds"], "answer": 0})" "\n"
      << R"({"qid": "q2", "vid": "fire", "question": "What burns?", "options": ["wood", "paper"], "answer": 1})" "\n"
      << R"({"qid": "q3", "vid": "bikes", "question": "How many?", "options": ["one", "two", "many"], "answer": 2})" "\n"
      << R"({"qid": "q4", "vid": "absent", "question": "Where?", "options": ["here", "there"], "answer": 0})" "\n";
  {
    std::ifstream in(work + "/qa.jsonl");
    std::ofstream present(work + "/qa_present.jsonl");
    for (std::string line; std::getline(in, line);)
      if (line.find("absent") == std::string::npos) present << line << "\n";
  }
  for (const std::string scoring : {"letter", "likelihood"}) {
    const std::string pred = work + "/pred_" + scoring + ".jsonl";
    auto r = test::run_sfvu("predict --task qa --model " + shell_quote(dir) + " --annotations " + shell_quote(work + "/qa.jsonl") +
                            " --videos " + shell_quote(work + "/videos") + " --out " + shell_quote(pred) +
                            " --frames 4 --slow-frames 2 --qa-scoring " + scoring + " -q");
    EXPECT_EQ(r.exit_code, 3) << r.err;  // q4's video is absent
    std::ifstream in(pred);
    std::stringstream text;
    text << in.rdbuf();
    const auto lines = test::json_lines<json>(text.str());
    ASSERT_EQ(lines.size(), 3u) << text.str();
    for (const json& l : lines) {
      EXPECT_EQ(test::json_keys(l), (std::vector<std::string>{"qid", "vid", "answer_index", "probabilities"}));
      double sum = 0;
      for (double p : l["probabilities"]) sum += p;
      EXPECT_NEAR(sum, 1.0, 1e-6);
      EXPECT_LT(l["answer_index"].get<size_t>(), l["probabilities"].size());
    }
    EXPECT_TRUE(fs::exists(pred + ".errors.jsonl"));
    // Scored on the questions whose videos exist (the evaluator wants a prediction for each).
    r = test::run_sfvu("eval mcqa --gt " + shell_quote(work + "/qa_present.jsonl") + " --pred " + shell_quote(pred));
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
}

TEST(CliBenchLlm, ShrunkenRunPrintsItsRatios) {
  const std::string work = test::scratch_dir("cli_bench_llm");
  const auto r = test::run_sfvu("bench llm --layers 1 --prompt-tokens 16 --new-tokens 2 --vision-layers 1 --e2e-frames 4 "
                                "--e2e-slow-frames 2 --e2e-new-tokens 2 --e2e-dtype fp32 --video " +
                                shell_quote(test::video("bikes.mp4")) + " --work " + shell_quote(work));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("x GEMM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("x memory bound"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("s to answer"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace sfvu
