// The CLI contract of `sfvu ground` and `sfvu qa` (issue #4, exact keys), run on the built
// binary with the random-weight clip_tiny fixture and real videos.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/cli_json.h"
#include "support/test_support.h"

namespace sfvu {
namespace {

using json = nlohmann::ordered_json;  // keeps key order: the contract fixes it
using test::shell_quote;

std::string model() { return shell_quote(test::fixture("clip_tiny")); }
test::CommandResult sfvu_cli(const std::string& args) { return test::run_sfvu(args); }
std::vector<json> lines(const std::string& text) { return test::json_lines<json>(text); }
std::vector<std::string> keys(const json& j) { return test::json_keys(j); }

TEST(CliGround, OneLinePerVideoAndQueryWithTheContractKeys) {
  const std::string dir = test::scratch_dir("cli_ground");
  auto r = sfvu_cli("ground --model " + model() + " --query 'a bike' --query 'a car' " +
                    shell_quote(test::video("bikes.mp4")) + " " + shell_quote(test::video("nasa_13013.mp4")) +
                    " --no-cache -q --plot " + shell_quote(dir + "/g.png"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto out = lines(r.out);
  ASSERT_EQ(out.size(), 4u);
  // The contract's keys in order; --plot adds the PNG's path (absolute: the lines go to stdout).
  EXPECT_EQ(keys(out[0]),
            (std::vector<std::string>{"video", "query", "duration", "clip_seconds", "moments", "saliency", "plot"}));
  EXPECT_EQ(out[0]["plot"], dir + "/g-bikes-q0.png");
  EXPECT_EQ(out[1]["query"], "a car");
  EXPECT_EQ(out[0]["duration"].get<double>(), 10.0);
  EXPECT_EQ(out[0]["saliency"].size(), 5u);
  EXPECT_EQ(out[2]["saliency"].size(), 7u);
  for (const auto& m : out[0]["moments"]) {
    ASSERT_EQ(m.size(), 3u);
    EXPECT_LT(m[0].get<double>(), m[1].get<double>());
    EXPECT_LE(m[1].get<double>(), 10.0);
  }
  for (const char* name : {"g-bikes-q0.png", "g-bikes-q1.png", "g-nasa_13013-q0.png", "g-nasa_13013-q1.png"}) {
    auto png = test::read_binary_file(dir + "/" + name);
    ASSERT_GT(png.size(), 1000u) << name;
    EXPECT_EQ(png[1], 'P');
    EXPECT_EQ(png[2], 'N');
  }
}

TEST(CliGround, DeterministicAndTheCacheGivesTheSameAnswer) {
  const std::string dir = test::scratch_dir("cli_ground_cache");
  const std::string args = "ground --model " + model() + " --query 'a bike' " + shell_quote(test::video("fire2.mp4")) +
                           " --cache-dir " + shell_quote(dir) + " -q";
  auto a = sfvu_cli(args), b = sfvu_cli(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_EQ(a.out, b.out);
  EXPECT_FALSE(std::filesystem::is_empty(dir));
}

TEST(CliGround, SfLlavaPresetAndOverrides) {
  auto r = sfvu_cli("ground --model " + model() + " --query x --preset sf-llava --no-cache -q " +
                    shell_quote(test::video("nasa_13013.mp4")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(r.out).at(0)["saliency"].size(), 7u);
  auto bad = sfvu_cli("ground --model " + model() + " --query x --preset nope " + shell_quote(test::video("bikes.mp4")));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("nope"), std::string::npos);
  auto pool = sfvu_cli("ground --model " + model() + " --query x --fast-pool 3y3 " + shell_quote(test::video("bikes.mp4")));
  EXPECT_EQ(pool.exit_code, 2);
  EXPECT_NE(pool.err.find("--fast-pool"), std::string::npos);
}

TEST(CliGround, AFailedVideoIsOneErrorLineAndTheBatchGoesOn) {
  auto r = sfvu_cli("ground --model " + model() + " --query x /no/such.mp4 " + shell_quote(test::video("bikes.mp4")) +
                    " --no-cache -q");
  EXPECT_EQ(r.exit_code, 3);
  auto out = lines(r.out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(keys(out[0]), (std::vector<std::string>{"video", "error"}));
  EXPECT_NE(out[0]["error"].get<std::string>().find("/no/such.mp4"), std::string::npos);
  EXPECT_EQ(out[1]["query"], "x");
  EXPECT_NE(r.err.find("1 failed"), std::string::npos);
}

TEST(CliQa, ContractKeysAndProbabilities) {
  const std::string dir = test::scratch_dir("cli_qa");
  auto r = sfvu_cli("qa --model " + model() + " --question 'what is shown?' --options 'a bike | a dog|a cat' " +
                    shell_quote(test::video("bikes.mp4")) + " --no-cache -q --out " + shell_quote(dir + "/qa.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  auto out = lines(test::read_text_file(dir + "/qa.jsonl"));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(keys(out[0]), (std::vector<std::string>{"video", "question", "options", "answer_index", "probabilities"}));
  EXPECT_EQ(out[0]["options"], json({"a bike", "a dog", "a cat"}));
  double sum = 0, best = -1;
  int64_t arg = -1;
  for (size_t i = 0; i < 3; ++i) {
    double p = out[0]["probabilities"][i].get<double>();
    sum += p;
    if (p > best) best = p, arg = int64_t(i);
  }
  EXPECT_NEAR(sum, 1.0, 1e-5);
  EXPECT_EQ(out[0]["answer_index"].get<int64_t>(), arg);
}

TEST(CliQa, BadOptionsAreUsageErrors) {
  auto one = sfvu_cli("qa --model " + model() + " --question q --options 'only' " + shell_quote(test::video("bikes.mp4")));
  EXPECT_EQ(one.exit_code, 2);
  auto empty = sfvu_cli("qa --model " + model() + " --question q --options 'a||b' " + shell_quote(test::video("bikes.mp4")));
  EXPECT_EQ(empty.exit_code, 2);
  EXPECT_NE(empty.err.find("empty option"), std::string::npos);
}

TEST(CliBench, PathwaysRunsOnTheTinyModel) {
  auto r = sfvu_cli("bench pathways --model " + model() + " --repeat 1 " + shell_quote(test::video("fire2.mp4")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(b)/(a)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cosine (a) vs (b)"), std::string::npos);
  EXPECT_NE(r.out.find("sf-llava"), std::string::npos);
}

}  // namespace
}  // namespace sfvu
