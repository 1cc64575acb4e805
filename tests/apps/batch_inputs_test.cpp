// expand_inputs (folders, patterns, --list, duplicates, missing paths) and the shard rule
// (--shard I/N, Slurm array variables): the parts of the batch CLI that need no model.
#include "batch_inputs.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "sfvu/base/error.h"
#include "support/test_support.h"

namespace sfvu::cli {
namespace {

namespace fs = std::filesystem;

void touch(const std::string& path) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path) << "x";
}

class BatchInputs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::scratch_dir("batch_inputs");
    for (const char* f : {"a/1.mp4", "a/2.MKV", "a/notes.txt", "a/deep/3.webm", "b/4.mp4", "b/5.avi", "c.mp4"})
      touch(dir_ + "/" + f);
  }
  std::string p(const std::string& rel) const { return dir_ + "/" + rel; }
  std::string dir_;
};

TEST_F(BatchInputs, FolderIsRecursiveByVideoExtensionInNameOrder) {
  EXPECT_EQ(expand_inputs({p("a")}, ""),
            (std::vector<std::string>{p("a/1.mp4"), p("a/2.MKV"), p("a/deep/3.webm")}));
}

TEST_F(BatchInputs, PatternsFilesListsInOrderEachOnce) {
  const std::string list = p("list.txt");
  std::ofstream(list) << "# my videos\n\n  " << p("c.mp4") << "  \n" << p("b") << "\n" << p("a/1.mp4") << "\n";
  const auto got = expand_inputs({p("a/*.mp4"), p("b/5.*")}, list);
  EXPECT_EQ(got, (std::vector<std::string>{p("a/1.mp4"), p("b/5.avi"), p("c.mp4"), p("b/4.mp4")}));
}

TEST_F(BatchInputs, MissingPathsAndUrlsPassThroughToFailAsItems) {
  const auto got = expand_inputs({p("gone.mp4"), "rtsp://cam/1", p("zzz*.mp4")}, "");
  EXPECT_EQ(got, (std::vector<std::string>{p("gone.mp4"), "rtsp://cam/1"}));
}

TEST_F(BatchInputs, NothingLeftOrUnreadableListIsAUsageError) {
  test::expect_error<UsageError>([&] { expand_inputs({p("zzz*.mp4")}, ""); }, {"no input video"});
  test::expect_error<UsageError>([&] { expand_inputs({}, p("no_such_list.txt")); }, {"no_such_list.txt", "--list"});
}

TEST(Shard, SharesPartitionTheInputsWhateverTheirOrder) {
  std::vector<std::string> inputs;
  for (int i = 0; i < 200; ++i) inputs.push_back("videos/v" + std::to_string(i) + ".mp4");
  std::multiset<std::string> seen;
  std::vector<size_t> sizes;
  for (int k = 0; k < 4; ++k) {
    Shard s{k, 4, "--shard"};
    auto share = apply_shard(inputs, s, "test", false);
    sizes.push_back(share.size());
    seen.insert(share.begin(), share.end());
    // The same share from a shuffled, shorter list: membership depends on the path alone.
    std::vector<std::string> rev(inputs.rbegin(), inputs.rbegin() + 100);
    for (const auto& x : apply_shard(rev, s, "test", false))
      EXPECT_NE(std::find(share.begin(), share.end(), x), share.end()) << x;
  }
  EXPECT_EQ(seen.size(), inputs.size());
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), inputs.size());  // disjoint
  for (size_t n : sizes) EXPECT_GT(n, 25u) << "a share far from 1/4";
}

TEST(Shard, ParsesTheOptionAndSlurmArrays) {
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  EXPECT_FALSE(resolve_shard("").active());
  Shard s = resolve_shard("2/5");
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 5);
  for (const char* bad : {"5/5", "-1/3", "1", "a/b", "1/0", "1/3x"})
    test::expect_error<UsageError>([&] { resolve_shard(bad); }, {"--shard", bad});

  ::setenv("SLURM_ARRAY_TASK_ID", "7", 1);
  ::setenv("SLURM_ARRAY_TASK_COUNT", "10", 1);
  ::setenv("SLURM_ARRAY_TASK_MIN", "1", 1);  // --array=1-10
  s = resolve_shard("");
  EXPECT_EQ(s.index, 6);
  EXPECT_EQ(s.count, 10);
  EXPECT_EQ(s.origin, "SLURM_ARRAY_TASK_ID");
  ::setenv("SLURM_ARRAY_TASK_ID", "6", 1);
  ::setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
  ::setenv("SLURM_ARRAY_TASK_MIN", "0", 1);
  ::setenv("SLURM_ARRAY_TASK_STEP", "2", 1);  // --array=0-6:2
  s = resolve_shard("");
  EXPECT_EQ(s.index, 3);
  EXPECT_EQ(resolve_shard("0/2").count, 2);  // the option wins over the environment
  ::setenv("SLURM_ARRAY_TASK_ID", "x", 1);
  test::expect_error<UsageError>([&] { resolve_shard(""); }, {"SLURM_ARRAY_TASK_ID"});
  for (const char* v : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_STEP"})
    ::unsetenv(v);
}

}  // namespace
}  // namespace sfvu::cli
