// The batch contract of `sfvu ground`, `qa` and `extract` on the built binary: inputs as
// folders, patterns and --list; one line per (video, query) and one error line per failed
// video with exit 3; --resume after a crash (torn last line, failures retried, nothing
// duplicated); --shard and the Slurm variables; prefetch (--jobs) giving the same lines as
// decoding inline. Model: the bundled synth-tiny (small and fast); videos made by ffmpeg.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "support/cli_json.h"
#include "support/test_support.h"

namespace sfvu {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using test::shell_quote;

std::string model() { return shell_quote(test::fixture("../../data/models/synth-tiny")); }

std::vector<json> file_lines(const std::string& path) { return test::json_lines<json>(test::read_text_file(path)); }

class CliBatch : public ::testing::Test {
 protected:
  // lib/ holds 4 short videos (one in a subfolder) and a text file; broken.mp4 is garbage.
  static void SetUpTestSuite() {
    if (!test::ffmpeg_cli_available()) return;
    lib_ = test::scratch_dir("cli_batch_lib");
    fs::create_directories(lib_ + "/sub");
    const char* sources[] = {"testsrc2", "mandelbrot", "smptebars", "testsrc"};
    const char* names[] = {"a.mp4", "b.mkv", "sub/c.mp4", "d.mp4"};
    for (int i = 0; i < 4; ++i)
      test::run_ffmpeg(std::string("-f lavfi -i ") + sources[i] + "=size=64x64:rate=8 -t " + std::to_string(2 + i) +
                       " -pix_fmt yuv420p " + shell_quote(lib_ + "/" + names[i]));
    std::ofstream(lib_ + "/readme.txt") << "not a video\n";
    std::ofstream(lib_ + "/broken.mp4") << std::string(4096, 'x');
  }
  void SetUp() override {
    if (!test::ffmpeg_cli_available()) GTEST_SKIP() << "needs the ffmpeg CLI to make the videos";
    dir_ = test::scratch_dir(std::string("cli_batch_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  static std::string ground(const std::string& inputs, const std::string& extra = "") {
    return "ground --model " + model() + " --query 'a red circle' --query 'a blue square' --no-cache -q " + inputs +
           " " + extra;
  }
  static std::string lib_;
  std::string dir_;
};

std::string CliBatch::lib_;

TEST_F(CliBatch, FolderPatternAndListExpandWithOneLinePerVideoAndQuery) {
  const std::string list = dir_ + "/list.txt";
  std::ofstream(list) << "# videos\n" << lib_ << "/d.mp4\n" << lib_ << "/a.mp4\n";
  const auto r = test::run_sfvu(ground(shell_quote(lib_ + "/sub") + " " + shell_quote(lib_ + "/b.*") + " --list " +
                                       shell_quote(list)));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = test::json_lines<json>(r.out);
  std::vector<std::string> order;
  for (const auto& l : lines) order.push_back(fs::path(l["video"].get<std::string>()).filename().string() + "|" +
                                              l["query"].get<std::string>());
  EXPECT_EQ(order, (std::vector<std::string>{"c.mp4|a red circle", "c.mp4|a blue square", "b.mkv|a red circle",
                                             "b.mkv|a blue square", "d.mp4|a red circle", "d.mp4|a blue square",
                                             "a.mp4|a red circle", "a.mp4|a blue square"}));
  for (const auto& l : lines) EXPECT_EQ(test::json_keys(l), (std::vector<std::string>{"video", "query", "duration",
                                                                                     "clip_seconds", "moments", "saliency"}));
}

TEST_F(CliBatch, FailedVideosGetAnErrorLineTheBatchGoesOnExit3) {
  const std::string out = dir_ + "/g.jsonl";
  const auto r = test::run_sfvu(ground(shell_quote(lib_) + " " + shell_quote(dir_ + "/missing.mp4") + " --out " +
                                       shell_quote(out)));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  const auto lines = file_lines(out);
  int ok = 0;
  std::set<std::string> failed;
  for (const auto& l : lines) {
    if (l.contains("error")) {
      EXPECT_EQ(test::json_keys(l), (std::vector<std::string>{"video", "error"}));
      failed.insert(fs::path(l["video"].get<std::string>()).filename().string());
      EXPECT_NE(l["error"].get<std::string>().find(fs::path(l["video"].get<std::string>()).filename().string()),
                std::string::npos) << l["error"];
    } else {
      ++ok;
    }
  }
  EXPECT_EQ(ok, 8);  // 4 videos x 2 queries
  EXPECT_EQ(failed, (std::set<std::string>{"broken.mp4", "missing.mp4"}));
  EXPECT_NE(r.err.find("4 done, 2 failed"), std::string::npos) << r.err;
}

TEST_F(CliBatch, ResumeAfterACrashLosesAndDuplicatesNothingAndRetriesFailures) {
  const std::string out = dir_ + "/g.jsonl", late = dir_ + "/late.mp4";
  // First run: late.mp4 does not exist yet, so it fails.
  auto r = test::run_sfvu(ground(shell_quote(lib_) + " " + shell_quote(late) + " --out " + shell_quote(out)));
  ASSERT_EQ(r.exit_code, 3) << r.err;
  const auto complete = file_lines(out);
  // A crash mid-write: drop the last two result lines and leave half a line.
  std::string text = test::read_text_file(out);
  std::vector<std::string> raw = test::nonempty_lines(text);
  std::string cut;
  size_t results_seen = 0;
  for (const auto& l : raw) {
    if (l.find("\"error\"") != std::string::npos) {
      cut += l + "\n";
      continue;
    }
    if (++results_seen > 6) continue;
    cut += l + "\n";
  }
  cut += raw[0].substr(0, raw[0].size() / 2);
  std::ofstream(out, std::ios::binary | std::ios::trunc) << cut;
  // The late video now exists: --resume retries it, redoes the lost results, keeps the rest.
  fs::copy_file(lib_ + "/a.mp4", late);
  r = test::run_sfvu(ground(shell_quote(lib_) + " " + shell_quote(late) + " --out " + shell_quote(out) + " --resume"));
  EXPECT_EQ(r.exit_code, 3) << r.err;  // broken.mp4 still fails
  EXPECT_NE(r.err.find("partial last line"), std::string::npos) << r.err;
  std::map<std::string, int> count;
  int errors = 0;
  for (const auto& l : file_lines(out)) {
    if (l.contains("error")) {
      ++errors;
      EXPECT_EQ(fs::path(l["video"].get<std::string>()).filename(), "broken.mp4");
      continue;
    }
    ++count[l["video"].get<std::string>() + "|" + l["query"].get<std::string>()];
  }
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(count.size(), 10u);  // 5 videos x 2 queries
  for (const auto& [k, n] : count) EXPECT_EQ(n, 1) << k;
  // The results kept from the first run are byte-identical lines (not recomputed).
  const auto again = file_lines(out);
  EXPECT_EQ(again[0], complete[0]);
  // Nothing left: a third run does nothing but retry the broken file.
  r = test::run_sfvu(ground(shell_quote(lib_) + " " + shell_quote(late) + " --out " + shell_quote(out) + " --resume"));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("0 done, 1 failed, 5 skipped"), std::string::npos) << r.err;
}

TEST_F(CliBatch, KillNineMidRunThenResumeCompletesWithoutDuplicates) {
  // 16 videos; the run is killed with SIGKILL as soon as its first lines are on disk.
  const std::string many = dir_ + "/many", out = dir_ + "/g.jsonl";
  fs::create_directories(many);
  for (int i = 0; i < 16; ++i) fs::copy_file(lib_ + "/d.mp4", many + "/v" + std::to_string(i) + ".mp4");
  const std::string cmd = shell_quote(test::cli_path()) + " " + ground(shell_quote(many)) + " --out " + shell_quote(out);
  // (At most 60 s of waiting for the first line, so a run that dies early cannot hang the test.)
  const auto killed = test::run_command(cmd + " & pid=$!; i=0; until [ -s " + shell_quote(out) +
                                        " ] || [ $i -ge 6000 ]; do sleep 0.01; i=$((i+1)); done; kill -9 $pid; "
                                        "wait $pid; echo killed=$?");
  EXPECT_NE(killed.out.find("killed=137"), std::string::npos) << killed.out << killed.err;
  const size_t before = test::nonempty_lines(test::read_text_file(out)).size();
  EXPECT_LT(before, 32u) << "the run finished before the kill: nothing was tested";
  const auto r = test::run_sfvu(ground(shell_quote(many), "--out " + shell_quote(out) + " --resume"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, int> count;
  for (const auto& l : file_lines(out)) ++count[l["video"].get<std::string>() + "|" + l["query"].get<std::string>()];
  EXPECT_EQ(count.size(), 32u);
  for (const auto& [k, n] : count) EXPECT_EQ(n, 1) << k;
}

TEST_F(CliBatch, ShardsCoverTheInputsOnceAndSlurmVariablesSelectTheShard) {
  std::multiset<std::string> all;
  for (int k = 0; k < 3; ++k) {
    const auto r = test::run_sfvu(ground(shell_quote(lib_) + " --shard " + std::to_string(k) + "/3 --query x"));
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 3) << r.err;
    for (const auto& l : test::json_lines<json>(r.out))
      if (!l.contains("query") || l["query"] == "a red circle") all.insert(l["video"].get<std::string>());
    if (k != 1) continue;
    // The same share from a Slurm array task (--array=1-3: ids start at 1).
    const auto s = test::run_command("SLURM_ARRAY_TASK_ID=" + std::to_string(k + 1) +
                                     " SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=1 " +
                                     shell_quote(test::cli_path()) + " " + ground(shell_quote(lib_) + " --query x"));
    EXPECT_EQ(s.out, r.out) << "shard " << k;
  }
  EXPECT_EQ(all.size(), 5u);  // 4 videos + broken.mp4, each in exactly one shard
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()).size(), 5u);
}

TEST_F(CliBatch, PrefetchWithSeveralDecodersGivesTheSameLinesAsInline) {
  const auto inline_run = test::run_sfvu(ground(shell_quote(lib_), "--no-overlap"));
  const auto jobs = test::run_sfvu(ground(shell_quote(lib_), "--jobs 3"));
  EXPECT_EQ(inline_run.exit_code, 3);
  EXPECT_EQ(jobs.exit_code, 3);
  EXPECT_EQ(jobs.out, inline_run.out);
  EXPECT_EQ(test::nonempty_lines(jobs.out).size(), 9u);
}

TEST_F(CliBatch, QaAndExtractResumeToo) {
  const std::string qa = dir_ + "/qa.jsonl";
  const std::string qa_cmd = "qa --model " + model() + " --question 'what moves?' --options 'a circle|a square' " +
                             "--no-cache -q " + shell_quote(lib_ + "/*.mp4") + " --out " + shell_quote(qa);
  auto r = test::run_sfvu(qa_cmd);
  EXPECT_EQ(r.exit_code, 3) << r.err;  // broken.mp4
  EXPECT_EQ(file_lines(qa).size(), 3u);  // a, d, broken (the pattern is not recursive)
  r = test::run_sfvu(qa_cmd + " --resume");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(file_lines(qa).size(), 3u);

  const std::string feats = dir_ + "/feats", jl = dir_ + "/extract.jsonl";
  const std::string ex = "extract --model " + shell_quote(test::fixture("clip_tiny")) + " -q --out " +
                         shell_quote(feats) + " --jsonl " + shell_quote(jl) + " " + shell_quote(lib_ + "/a.mp4") + " " +
                         shell_quote(lib_ + "/d.mp4") + " " + shell_quote(lib_ + "/broken.mp4");
  r = test::run_sfvu(ex);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  ASSERT_TRUE(fs::exists(feats + "/a.npz"));
  fs::remove(feats + "/a.npz");  // deleted features are redone on resume
  r = test::run_sfvu(ex + " --resume");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_TRUE(fs::exists(feats + "/a.npz"));
  std::map<std::string, int> per_video;
  for (const auto& l : file_lines(jl)) ++per_video[fs::path(l["video"].get<std::string>()).filename().string()];
  EXPECT_EQ(per_video, (std::map<std::string, int>{{"a.mp4", 1}, {"d.mp4", 1}, {"broken.mp4", 1}}));
}

TEST_F(CliBatch, ResumeNeedsAFileAndRefusesAForeignOne) {
  auto r = test::run_sfvu(ground(shell_quote(lib_ + "/a.mp4"), "--resume"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--resume needs --out"), std::string::npos) << r.err;
  const std::string out = dir_ + "/not_jsonl.txt";
  std::ofstream(out) << "hello\n";
  r = test::run_sfvu(ground(shell_quote(lib_ + "/a.mp4"), "--out " + shell_quote(out) + " --resume"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(out + ":1: not a JSON object"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sfvu
