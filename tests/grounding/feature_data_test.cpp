// Pre-extracted features as a feature model reads them: the folder layouts (Moment-DETR,
// lighthouse), Moment-DETR's loader rules (feature_layout.md §3: first rows, x / (|x| + 1e-5),
// cut to the shortest source, concatenation order, temporal columns; query rows) and errors
// naming the file.
#include <gtest/gtest.h>

#include <filesystem>

#include "sfvu/base/error.h"
#include "sfvu/base/npz.h"
#include "sfvu/grounding/feature_data.h"
#include "support/test_support.h"

using namespace sfvu;
using namespace sfvu::grounding;
namespace fs = std::filesystem;

namespace {

// [n, d] float32 rows with value(i, j) written under `key`.
template <typename F>
void write_rows(const std::string& path, int64_t n, int64_t d, F value, const std::string& key = "features") {
  std::vector<float> v;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) v.push_back(value(i, j));
  fs::create_directories(fs::path(path).parent_path());
  write_npz(path, {{key, NpyDtype::kFloat32, {n, d}, v.data()}});
}

// A Moment-DETR folder: slowfast 80 rows x 6, clip 78 rows x 4, one query of 40 tokens x 4.
std::string moment_detr_folder(const std::string& name) {
  const std::string root = test::scratch_dir(name) + "/features";
  write_rows(root + "/slowfast_features/v.npz", 80, 6, [](int64_t i, int64_t j) { return float(i + j); });
  write_rows(root + "/clip_features/v.npz", 78, 4, [](int64_t i, int64_t) { return i % 2 ? 3.f : -4.f; });
  write_rows(root + "/clip_text_features/qid7.npz", 40, 4, [](int64_t i, int64_t j) { return float(i * 4 + j + 1); },
             "last_hidden_state");
  return fs::path(root).parent_path().string();
}

FeatureInputConfig config_of(const FeatureLayout& layout) { return FeatureReader::probe(layout, "v", 7); }

}  // namespace

TEST(FeatureLayout, FindsMomentDetrAndLighthouseFolders) {
  const std::string dir = moment_detr_folder("feature_layout_md");
  FeatureLayout l = find_feature_layout(dir);  // DIR/features/...
  EXPECT_EQ(l.sources, (std::vector<std::string>{"slowfast", "clip"}));  // Moment-DETR's order
  EXPECT_EQ(l.source_dirs[1], dir + "/features/clip_features");
  EXPECT_EQ(l.query_dir, dir + "/features/clip_text_features");
  EXPECT_EQ(find_feature_layout(dir + "/features", {"clip", "slowfast"}).sources,
            (std::vector<std::string>{"clip", "slowfast"}));
  EXPECT_TRUE(has_feature_layout(dir));

  const std::string lh = test::scratch_dir("feature_layout_lh");
  write_rows(lh + "/features/QVHighlight/clip/v.npz", 3, 4, [](int64_t, int64_t) { return 1.f; });
  write_rows(lh + "/features/QVHighlight/clip_text/qid7.npz", 2, 4, [](int64_t, int64_t) { return 1.f; },
             "last_hidden_state");
  l = find_feature_layout(lh);
  EXPECT_EQ(l.sources, (std::vector<std::string>{"clip"}));
  EXPECT_EQ(l.source_dirs[0], lh + "/features/QVHighlight/clip");
  EXPECT_EQ(l.query_dir, lh + "/features/QVHighlight/clip_text");

  test::expect_error<IoError>([&] { find_feature_layout(lh, {"clip", "slowfast"}); },
                              {"QVHighlight", "feature source 'slowfast'"});
  test::expect_error<IoError>([&] { find_feature_layout(test::scratch_dir("feature_layout_none")); },
                              {"feature_layout_none", "clip_text_features/"});
  EXPECT_FALSE(has_feature_layout(test::scratch_dir("feature_layout_none")));
}

TEST(FeatureReader, ReadsAsMomentDetrsLoader) {
  const FeatureLayout layout = find_feature_layout(moment_detr_folder("feature_reader_rules"));
  const FeatureInputConfig c = config_of(layout);
  EXPECT_EQ(c.source_dims, (std::vector<int>{6, 4}));
  EXPECT_EQ(c.query_dim, 4);
  EXPECT_EQ(c.detail_source, "clip");
  EXPECT_EQ(c.timeline_dim(), 12);
  FeatureReader reader(layout, c);
  VideoFeatures v = reader.video("v", 150);
  // 80 and 78 rows: the first 75 of each (max_rows), then cut to the shortest (75).
  ASSERT_EQ(v.fast.sizes(), (std::vector<int64_t>{75, 1, 1, 12}));
  ASSERT_EQ(v.slow.sizes(), (std::vector<int64_t>{75, 1, 1, 4}));
  torch::Tensor rows = v.fast.reshape({75, 12});
  // Row 10 of slowfast is 10..15, divided by its norm + 1e-5 (the epsilon added to the norm).
  torch::Tensor sf = torch::arange(10, 16, torch::kFloat32);
  EXPECT_TRUE(torch::allclose(rows[10].slice(0, 0, 6), sf / (sf.norm().item<float>() + 1e-5f), 1e-6, 1e-7));
  // Clip after slowfast; the detail is the clip source's rows.
  EXPECT_NEAR(rows[0][6].item<float>(), -4.f / (8.f + 1e-5f), 1e-7);
  EXPECT_TRUE(torch::equal(v.slow.reshape({75, 4}), rows.slice(1, 6, 10)));
  // Temporal columns [i/L, i/L + 1/L].
  EXPECT_FLOAT_EQ(rows[0][10].item<float>(), 0.f);
  EXPECT_FLOAT_EQ(rows[0][11].item<float>(), 1.f / 75);
  EXPECT_FLOAT_EQ(rows[74][10].item<float>(), 74.f / 75);
  EXPECT_FLOAT_EQ(rows[74][11].item<float>(), 1.f);
  // One step per 2-s clip at its midpoint; the annotation's duration.
  EXPECT_DOUBLE_EQ(v.fast_seconds[0], 1.0);
  EXPECT_DOUBLE_EQ(v.fast_seconds[74], 149.0);
  EXPECT_EQ(v.slow_seconds, v.fast_seconds);
  EXPECT_DOUBLE_EQ(v.duration_seconds, 150);
  EXPECT_DOUBLE_EQ(reader.video("v", -1).duration_seconds, 150);  // none: rows x 2 s

  // Queries: the first 32 token rows, each normalised.
  torch::Tensor q = reader.query(7);
  ASSERT_EQ(q.sizes(), (std::vector<int64_t>{32, 4}));
  torch::Tensor r31 = torch::arange(125, 129, torch::kFloat32);
  EXPECT_TRUE(torch::allclose(q[31], r31 / (r31.norm().item<float>() + 1e-5f), 1e-6, 1e-7));
}

TEST(FeatureReader, ShortSourcesCutTheOthersAndNoTefNoNormalisationAreHonoured) {
  const std::string dir = test::scratch_dir("feature_reader_short");
  write_rows(dir + "/slowfast/v.npz", 10, 2, [](int64_t i, int64_t) { return float(i); });
  write_rows(dir + "/clip/v.npz", 9, 3, [](int64_t, int64_t) { return 2.f; });
  write_rows(dir + "/clip_text/qid7.npz", 3, 3, [](int64_t, int64_t) { return 2.f; }, "last_hidden_state");
  FeatureLayout layout = find_feature_layout(dir, {"clip", "slowfast"});  // lighthouse's order
  FeatureInputConfig base;
  base.tef = false;
  base.normalize = false;
  base.clip_seconds = 1;
  FeatureInputConfig c = FeatureReader::probe(layout, "v", 7, base);
  FeatureReader reader(layout, c);
  VideoFeatures v = reader.video("v", -1);
  ASSERT_EQ(v.fast.sizes(), (std::vector<int64_t>{9, 1, 1, 5}));
  EXPECT_FLOAT_EQ(v.fast[8][0][0][0].item<float>(), 2.f);  // clip first, raw
  EXPECT_FLOAT_EQ(v.fast[8][0][0][3].item<float>(), 8.f);  // then slowfast row 8
  EXPECT_DOUBLE_EQ(v.fast_seconds[0], 0.5);
  EXPECT_DOUBLE_EQ(v.duration_seconds, 9);
}

TEST(FeatureReader, PoolerOutputIsOneRow) {
  const std::string dir = test::scratch_dir("feature_reader_pooler");
  write_rows(dir + "/clip_features/v.npz", 4, 3, [](int64_t, int64_t) { return 1.f; });
  std::vector<float> pooled{3.f, 4.f, 0.f};
  fs::create_directories(dir + "/clip_text_features");
  write_npz(dir + "/clip_text_features/qid7.npz", {{"pooler_output", NpyDtype::kFloat32, {3}, pooled.data()}});
  FeatureInputConfig base;
  base.query_key = "pooler_output";
  FeatureReader reader(find_feature_layout(dir), FeatureReader::probe(find_feature_layout(dir), "v", 7, base));
  torch::Tensor q = reader.query(7);
  ASSERT_EQ(q.sizes(), (std::vector<int64_t>{1, 3}));
  EXPECT_NEAR(q[0][0].item<float>(), 0.6f, 1e-5);
}

TEST(FeatureReader, BadFilesAreNamed) {
  const std::string dir = moment_detr_folder("feature_reader_errors");
  const FeatureLayout layout = find_feature_layout(dir);
  FeatureReader reader(layout, config_of(layout));
  test::expect_error<IoError>([&] { reader.video("absent", 10); }, {"slowfast_features/absent.npz", "missing"});
  test::expect_error<IoError>([&] { reader.query(8); }, {"clip_text_features/qid8.npz", "missing"});
  write_rows(dir + "/features/slowfast_features/nokey.npz", 4, 6, [](int64_t, int64_t) { return 1.f; }, "feats");
  write_rows(dir + "/features/clip_features/nokey.npz", 4, 4, [](int64_t, int64_t) { return 1.f; });
  test::expect_error<FormatError>([&] { reader.video("nokey", 10); },
                                  {"slowfast_features/nokey.npz", "no array 'features'", "feats"});
  write_rows(dir + "/features/slowfast_features/wide.npz", 4, 7, [](int64_t, int64_t) { return 1.f; });
  write_rows(dir + "/features/clip_features/wide.npz", 4, 4, [](int64_t, int64_t) { return 1.f; });
  test::expect_error<FormatError>([&] { reader.video("wide", 10); },
                                  {"slowfast_features/wide.npz", "rows are 7 wide; the model reads 6"});
  std::vector<int32_t> ints(8, 1);
  write_npz(dir + "/features/slowfast_features/ints.npz", {{"features", NpyDtype::kInt32, {2, 4}, ints.data()}});
  test::expect_error<FormatError>([&] { reader.video("ints", 10); }, {"ints.npz", "<i4", "floating point"});
  write_rows(dir + "/features/slowfast_features/empty.npz", 0, 6, [](int64_t, int64_t) { return 1.f; });
  test::expect_error<FormatError>([&] { reader.video("empty", 10); }, {"empty.npz", "no row"});
}

TEST(FeatureReader, HalfPrecisionFilesRead) {
  const std::string dir = test::scratch_dir("feature_reader_half");
  fs::create_directories(dir + "/clip_features");
  fs::create_directories(dir + "/clip_text_features");
  std::vector<uint16_t> half(6, 0x3C00);  // 1.0 in IEEE half
  write_npz(dir + "/clip_features/v.npz", {{"features", NpyDtype::kFloat16, {2, 3}, half.data()}});
  write_npz(dir + "/clip_text_features/qid7.npz", {{"last_hidden_state", NpyDtype::kFloat16, {2, 3}, half.data()}});
  const FeatureLayout layout = find_feature_layout(dir);
  FeatureReader reader(layout, config_of(layout));
  VideoFeatures v = reader.video("v", 4);
  EXPECT_NEAR(v.fast[1][0][0][0].item<float>(), 1 / (std::sqrt(3.f) + 1e-5f), 1e-6);
}

TEST(QueryBatch, PadsAndMasks) {
  TextBatch t = query_batch({torch::ones({2, 3}), torch::ones({4, 3})});
  ASSERT_EQ(t.features.sizes(), (std::vector<int64_t>{2, 4, 3}));
  EXPECT_EQ(t.mask.sum().item<int64_t>(), 6);
  EXPECT_FALSE(t.mask[0][2].item<bool>());
  EXPECT_FLOAT_EQ(t.features[0][3].sum().item<float>(), 0.f);
}
