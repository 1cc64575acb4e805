// The CLI contract of issue #3 (tokenize, embed, extract), run on the built binary with the
// random-weight clip_tiny fixture; numbers are checked against OpenAI's reference outputs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sfvu/base/npy.h"
#include "sfvu/base/npz.h"
#include "support/tensor_support.h"
#include "support/test_support.h"

namespace sfvu {
namespace {

using nlohmann::json;
using test::shell_quote;

std::string model() { return shell_quote(test::fixture("clip_tiny")); }
test::CommandResult sfvu_cli(const std::string& args) {
  return test::run_command(shell_quote(test::cli_path()) + " " + args);
}

TEST(CliClip, TokenizePrintsOneJsonArrayPerText) {
  auto r = sfvu_cli("tokenize --model " + model() + " 'a photo of a cat' '' \"it's\"");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string a, b, c;
  std::getline(lines, a);
  std::getline(lines, b);
  std::getline(lines, c);
  EXPECT_EQ(json::parse(a), json::parse("[49406, 320, 1125, 539, 320, 2368, 49407]"));
  EXPECT_EQ(json::parse(b), json::parse("[49406, 49407]"));
  EXPECT_EQ(json::parse(c), json::parse("[49406, 585, 568, 49407]"));
}

TEST(CliClip, EmbedPixelsMatchesTheReference) {
  std::string dir = test::scratch_dir("cli_embed_pixels");
  auto r = sfvu_cli("embed --model " + model() + " --pixels " + shell_quote(test::fixture("clip_tiny/pixel_values.npy")) +
                    " --out " + dir + "/e.npy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  test::expect_close(test::npy_tensor(dir + "/e.npy"), test::npy_tensor(test::fixture("clip_tiny/image_embeds.npy")),
                     1e-4, 1e-4, "embed --pixels");
  r = sfvu_cli("embed --model " + model() + " --pixels " + shell_quote(test::fixture("clip_tiny/pixel_values.npy")) +
               " --layer 2 --out " + dir + "/h.npy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  test::expect_close(test::npy_tensor(dir + "/h.npy"),
                     test::npy_tensor(test::fixture("clip_tiny/vision_hidden_states.npy"))[2], 1e-4, 1e-4,
                     "embed --layer 2");
  r = sfvu_cli("embed --model " + model() + " --pixels " + shell_quote(test::fixture("clip_tiny/pixel_values.npy")) +
               " --normalize --dtype bf16 --out " + dir + "/n.npy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  torch::Tensor n = test::npy_tensor(dir + "/n.npy");
  EXPECT_NEAR(n.norm(2, -1).min().item<double>(), 1.0, 1e-5);
  EXPECT_GE(test::min_cosine(n, test::npy_tensor(test::fixture("clip_tiny/image_embeds.npy"))), 0.999);
}

TEST(CliClip, EmbedTextAndImages) {
  std::string dir = test::scratch_dir("cli_embed_text");
  auto r = sfvu_cli("embed --model " + model() + " --text 'a photo of a cat' --text 'a dog' --out " + dir + "/t.npy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::npy_tensor(dir + "/t.npy").sizes(), (std::vector<int64_t>{2, 32}));
  r = sfvu_cli("embed --model " + model() + " --image " + shell_quote(test::fixture("clip_tiny/images/img0.png")) + " " +
               shell_quote(test::fixture("clip_tiny/images/img2.png")) + " --out " + dir + "/i.npy");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  torch::Tensor ref = test::npy_tensor(test::fixture("clip_tiny/image_embeds.npy"));
  // PNG -> our PIL-equivalent preprocessing -> same embeddings within one-level resize error.
  EXPECT_GE(test::min_cosine(test::npy_tensor(dir + "/i.npy"), torch::stack({ref[0], ref[2]})), 0.999);
}

TEST(CliClip, EmbedErrors) {
  std::string dir = test::scratch_dir("cli_embed_errors");
  auto r = sfvu_cli("embed --model " + model() + " --out " + dir + "/x.npy");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  r = sfvu_cli("embed --model " + model() + " --image /no/such.png --out " + dir + "/x.npy");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/no/such.png"), std::string::npos) << r.err;
  r = sfvu_cli("embed --model /no/model --text hi --out " + dir + "/x.npy");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/no/model"), std::string::npos) << r.err;
  r = sfvu_cli("embed --model " + model() + " --text hi --layer 9 --out " + dir + "/x.npy");
  EXPECT_EQ(r.exit_code, 2) << r.err;
}

TEST(CliClip, ExtractWritesMomentDetrLayoutAndKeepsGoing) {
  std::string dir = test::scratch_dir("cli_extract");
  std::ofstream(dir + "/q.jsonl") << "{\"qid\": 7, \"query\": \"a man rides a bike\"}\n"
                                     "{\"qid\": 8 broken\n"
                                     "{\"qid\": 9, \"query\": \"a taxi\"}\n";
  auto r = sfvu_cli("extract -q --model " + model() + " " + shell_quote(test::video("bikes.mp4")) + " /no/such.mp4 " +
                    shell_quote(test::video("fire2.mp4")) + " --clip-seconds 2 --queries " + dir + "/q.jsonl --out " +
                    dir + "/f");
  EXPECT_EQ(r.exit_code, 3) << r.err;  // one missing video, one bad query line: a batch with failures
  EXPECT_NE(r.err.find("/no/such.mp4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("q.jsonl:2"), std::string::npos) << r.err;
  auto bikes = read_npz(dir + "/f/bikes.npz");
  ASSERT_TRUE(bikes.count("features"));
  EXPECT_EQ(bikes["features"].shape, (std::vector<int64_t>{5, 32}));  // 10 s / 2 s
  EXPECT_EQ(read_npz(dir + "/f/fire2.npz")["features"].shape, (std::vector<int64_t>{2, 32}));  // 2.38 s
  auto q7 = read_npz(dir + "/f/qid7.npz");
  EXPECT_EQ(q7["last_hidden_state"].shape, (std::vector<int64_t>{7, 48}));  // SOT a man rides a bike EOT
  EXPECT_EQ(q7["pooler_output"].shape, (std::vector<int64_t>{48}));
  EXPECT_TRUE(std::filesystem::exists(dir + "/f/qid9.npz"));
}

}  // namespace
}  // namespace sfvu
