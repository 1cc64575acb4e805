// SafetensorsCheckpoint: single files, sharded checkpoints (index.json), and their failures.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "sfvu/base/error.h"
#include "sfvu/base/safetensors.h"
#include "support/test_support.h"

namespace sfvu {
namespace {

using test::expect_error;

namespace fs = std::filesystem;


float first_float(const TensorView& t) {
  float v;
  std::memcpy(&v, t.data, 4);
  return v;
}

/// Two shards written with write_safetensors: shard 1 holds a, b; shard 2 holds c.
/// Returns the folder; `index_json` becomes model.safetensors.index.json.
std::string make_sharded(const std::string& name, const std::string& index_json) {
  const std::string dir = test::scratch_dir(name);
  std::vector<float> a{1, 2}, b{3}, c{4, 5, 6};
  write_safetensors(dir + "/model-00001-of-00002.safetensors",
                    {{"a", TensorDtype::kF32, {2}, a.data()}, {"b", TensorDtype::kF32, {}, b.data()}},
                    {{"format", "pt"}});
  write_safetensors(dir + "/model-00002-of-00002.safetensors", {{"c", TensorDtype::kF32, {3, 1}, c.data()}},
                    {{"format", "pt"}});
  std::ofstream(dir + "/model.safetensors.index.json") << index_json;
  return dir;
}

const char* kGoodIndex = R"({"metadata": {"total_size": 24},
  "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors",
                 "c": "model-00002-of-00002.safetensors"}})";

TEST(SafetensorsCheckpoint, ShardedByDirectoryAndByIndex) {
  const std::string dir = make_sharded("ckpt_sharded", kGoodIndex);
  for (const std::string& path : {dir, dir + "/model.safetensors.index.json"}) {
    SCOPED_TRACE(path);
    auto ckpt = SafetensorsCheckpoint::open(path);
    EXPECT_EQ(ckpt.path(), path);
    EXPECT_EQ(ckpt.names(), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(ckpt.files().size(), 2u);
    EXPECT_TRUE(ckpt.contains("c"));
    EXPECT_FALSE(ckpt.contains("d"));
    EXPECT_EQ(ckpt.tensor("c").shape, (std::vector<int64_t>{3, 1}));
    EXPECT_EQ(first_float(ckpt.tensor("c")), 4.f);
    EXPECT_EQ(first_float(ckpt.tensor("b")), 3.f);
    EXPECT_EQ(ckpt.file_of("a")->path(), dir + "/model-00001-of-00002.safetensors");
    EXPECT_EQ(ckpt.file_of("c")->path(), dir + "/model-00002-of-00002.safetensors");
    // A view stays valid as long as its file is held, even after the checkpoint is gone.
    auto file = ckpt.file_of("a");
    const TensorView* view = &ckpt.tensor("a");
    ckpt = SafetensorsCheckpoint::open(dir + "/model-00002-of-00002.safetensors");
    EXPECT_EQ(first_float(*view), 1.f);
    EXPECT_EQ(file->metadata().at("format"), "pt");
  }
}

TEST(SafetensorsCheckpoint, DirectoryPrefersSingleFile) {
  const std::string dir = make_sharded("ckpt_prefer", kGoodIndex);
  float x = 9;
  write_safetensors(dir + "/model.safetensors", {{"single", TensorDtype::kF32, {1}, &x}});
  EXPECT_EQ(SafetensorsCheckpoint::open(dir).names(), std::vector<std::string>{"single"});
  const std::string empty = test::scratch_dir("ckpt_empty_dir");
  expect_error<IoError>([&] { SafetensorsCheckpoint::open(empty); }, {empty, "model.safetensors"});
}

TEST(SafetensorsCheckpointErrors, MissingShard) {
  const std::string dir = make_sharded("ckpt_missing_shard", R"({"weight_map": {
      "a": "model-00001-of-00002.safetensors", "z": "model-00009-of-00009.safetensors"}})");
  expect_error<IoError>([&] { SafetensorsCheckpoint::open(dir); },
                        {"model.safetensors.index.json", "model-00009-of-00009.safetensors", "'z'"});
}

TEST(SafetensorsCheckpointErrors, TensorInTwoShards) {
  const std::string dir = make_sharded("ckpt_two_shards", kGoodIndex);
  float x = 1;
  write_safetensors(dir + "/model-00002-of-00002.safetensors",
                    {{"a", TensorDtype::kF32, {1}, &x}, {"c", TensorDtype::kF32, {1}, &x}});
  expect_error<FormatError>([&] { SafetensorsCheckpoint::open(dir); },
                            {"tensor 'a'", "two shards", "model-00001-of-00002.safetensors",
                             "model-00002-of-00002.safetensors"});
}

TEST(SafetensorsCheckpointErrors, IndexListsTensorAbsentFromShard) {
  const std::string dir = make_sharded("ckpt_absent", R"({"weight_map": {
      "a": "model-00001-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}})");
  expect_error<FormatError>([&] { SafetensorsCheckpoint::open(dir); },
                            {"tensor 'c'", "absent", "model-00001-of-00002.safetensors"});
}

TEST(SafetensorsCheckpointErrors, BadIndex) {
  struct Case {
    const char* name;
    const char* json;
    const char* part;
  };
  for (const Case& c : {Case{"syntax", "{\"weight_map\": ", "not valid JSON"},
                        Case{"no_map", R"({"metadata": {}})", "weight_map"},
                        Case{"not_string", R"({"weight_map": {"a": 1}})", "'a'"},
                        Case{"escape", R"({"weight_map": {"a": "../x.safetensors"}})", "../x.safetensors"},
                        Case{"absolute", R"({"weight_map": {"a": "/etc/x.safetensors"}})",
                             "/etc/x.safetensors"}}) {
    SCOPED_TRACE(c.name);
    const std::string dir = make_sharded(std::string("ckpt_bad_") + c.name, c.json);
    expect_error<FormatError>([&] { SafetensorsCheckpoint::open(dir); },
                              {"model.safetensors.index.json", c.part});
  }
}

TEST(SafetensorsCheckpointErrors, CorruptShardNamesTheShard) {
  const std::string dir = make_sharded("ckpt_corrupt", kGoodIndex);
  const std::string shard = dir + "/model-00002-of-00002.safetensors";
  fs::resize_file(shard, fs::file_size(shard) - 4);
  expect_error<FormatError>([&] { SafetensorsCheckpoint::open(dir); }, {shard, "tensor 'c'"});
}

// The real sharded LLaVA-1.5 tiny checkpoint (made by transformers) from the shared fixtures.
TEST(SafetensorsCheckpoint, RealShardedLlavaTiny) {
  const std::string dir = std::string(SFVU_SHARED_DIR) + "/fixtures/llava_tiny/llava15_llama";
  if (!fs::exists(dir + "/model.safetensors.index.json"))
    GTEST_SKIP() << "shared fixture " << dir << " not present";
  auto ckpt = SafetensorsCheckpoint::open(dir);
  EXPECT_EQ(ckpt.names().size(), 80u);
  EXPECT_EQ(ckpt.files().size(), 2u);
  const TensorView& head = ckpt.tensor("language_model.lm_head.weight");
  EXPECT_EQ(head.dtype, TensorDtype::kF16);
  EXPECT_EQ(head.shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(ckpt.file_of("language_model.lm_head.weight")->path(), dir + "/model-00002-of-00002.safetensors");
  EXPECT_EQ(ckpt.file_of("language_model.model.embed_tokens.weight")->path(),
            dir + "/model-00001-of-00002.safetensors");
  for (const auto& file : ckpt.files()) EXPECT_EQ(file->metadata().at("format"), "pt");
}

}  // namespace
}  // namespace sfvu
