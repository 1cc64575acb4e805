// QVHighlights metrics: parity with the official evaluator (golden outputs of
// moment_detr standalone_eval/eval.py) and hand-computed edge cases.
#include "sfvu/grounding/qvhighlights_eval.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sfvu/base/error.h"
#include "sfvu/grounding/eval_common.h"
#include "support/test_support.h"

namespace sfvu::grounding {
namespace {

using nlohmann::json;

std::string qv_fixture(const std::string& name) { return test::fixture("eval/qvhighlights/" + name); }

json read_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return json::parse(in);
}

nlohmann::ordered_json evaluate_files(const std::string& gt, const std::string& pred, int decimals = 2) {
  return qvhighlights_metrics_json(
      evaluate_qvhighlights(load_qvhighlights_gt(gt), load_qvhighlights_predictions(pred)), decimals);
}

// Every leaf of `expected` must be in `actual`, equal to `tolerance`; the key order of each
// object must match too (the official output is an OrderedDict).
void expect_same_json(const json& expected, const json& actual, double tolerance, const std::string& where = "") {
  if (expected.is_object()) {
    ASSERT_TRUE(actual.is_object()) << where;
    ASSERT_EQ(expected.size(), actual.size()) << where;
    for (auto e = expected.begin(), a = actual.begin(); e != expected.end(); ++e, ++a) {
      EXPECT_EQ(e.key(), a.key()) << where;
      expect_same_json(e.value(), a.value(), tolerance, where + "/" + e.key());
    }
    return;
  }
  ASSERT_TRUE(actual.is_number()) << where;
  if (tolerance == 0)
    EXPECT_EQ(expected.get<double>(), actual.get<double>()) << where;
  else
    EXPECT_NEAR(expected.get<double>(), actual.get<double>(), tolerance) << where;
}

// The ordered_json result re-parsed as json keeps the order of a parse of the file text.
json as_json(const nlohmann::ordered_json& j) { return json::parse(j.dump()); }

// nlohmann::json (not ordered) sorts keys, so order is compared on the ordered objects.
void expect_official_key_order(const nlohmann::ordered_json& j) {
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"brief", "HL-min-Fair", "HL-min-Good", "HL-min-VeryGood", "full", "long",
                                            "middle", "short"}));
  std::vector<std::string> brief;
  for (auto it = j["brief"].begin(); it != j["brief"].end(); ++it) brief.push_back(it.key());
  EXPECT_EQ(brief, (std::vector<std::string>{"MR-full-R1@0.5", "MR-full-R1@0.7", "MR-full-mAP", "MR-full-mAP@0.5",
                                             "MR-full-mAP@0.75", "MR-long-mAP", "MR-middle-mAP", "MR-short-mAP",
                                             "HL-min-Fair-mAP", "HL-min-Fair-Hit1", "HL-min-Good-mAP",
                                             "HL-min-Good-Hit1", "HL-min-VeryGood-mAP", "HL-min-VeryGood-Hit1"}));
}

class QvGolden : public ::testing::TestWithParam<std::string> {};

// Rounded output must equal the official one exactly (every printed digit); the
// *_unrounded.json files (10 decimals) to 2e-10 percentage points.
TEST_P(QvGolden, MatchesOfficialEvaluatorOutput) {
  const std::string name = GetParam();
  const std::string gt = qv_fixture("highlight_val_release.jsonl");
  const auto rounded = evaluate_files(gt, qv_fixture("preds_" + name + ".jsonl"));
  expect_official_key_order(rounded);
  expect_same_json(read_json(qv_fixture("expected_" + name + ".json")), as_json(rounded), 0);
  const auto unrounded = evaluate_files(gt, qv_fixture("preds_" + name + ".jsonl"), 10);
  expect_same_json(read_json(qv_fixture("expected_" + name + "_unrounded.json")), as_json(unrounded), 2e-10);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, QvGolden, ::testing::Values("noisy", "perfect"));

// The two prediction files shipped with moment_detr and their shipped metrics files (too
// large to copy into tests/fixtures, so read from ../shared).
class QvShipped : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(QvShipped, ReproducesShippedMetricsFile) {
  const std::string dir = std::string(SFVU_SHARED_DIR) + "/data/qvhighlights/";
  const std::string pred = dir + GetParam().first, metrics = dir + GetParam().second;
  if (!std::ifstream(pred).good() || !std::ifstream(metrics).good())
    GTEST_SKIP() << "shared QVHighlights data not present at " << dir;
  const auto out = evaluate_files(qv_fixture("highlight_val_release.jsonl"), pred);
  expect_official_key_order(out);
  expect_same_json(read_json(metrics), as_json(out), 0);
}

INSTANTIATE_TEST_SUITE_P(
    Shipped, QvShipped,
    ::testing::Values(std::make_pair(std::string("sample_val_preds.jsonl"),
                                     std::string("sample_val_preds_metrics_raw.json")),
                      std::make_pair(std::string("inference_hl_val_test_code_preds.jsonl"),
                                     std::string("inference_hl_val_test_code_preds_metrics.json"))));

// ---- hand-computed cases on tiny files -------------------------------------------------

class QvSmall : public ::testing::Test {
 protected:
  std::string write(const std::string& name, const std::string& text) {
    if (dir_.empty()) dir_ = test::scratch_dir("qvhighlights_eval");
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }
  // One GT query (qid 1, 150 s) with the given windows; clips 0..2 scored.
  std::string gt(const std::string& windows) {
    return write("gt.jsonl", R"({"qid": 1, "duration": 150, "relevant_windows": )" + windows +
                                 R"(, "relevant_clip_ids": [0, 1, 2], "saliency_scores": [[4, 0, 2], [2, 2, 2], [0, 3, 1]]})"
                                 "\n");
  }
  QvMetrics eval(const std::string& gt_path, const std::string& pred_text) {
    return evaluate_qvhighlights(load_qvhighlights_gt(gt_path), load_qvhighlights_predictions(write("pred.jsonl", pred_text)));
  }
  std::string dir_;
};

TEST_F(QvSmall, R1UsesListPositionZeroAndInclusiveThreshold) {
  // GT [0,10]; first window [3,10] has IoU exactly 7/10 -> a hit at 0.7, not at 0.75. The
  // higher-scored second window (perfect) is ignored by R1.
  const auto m = eval(gt("[[0, 10]]"), R"({"qid": 1, "pred_relevant_windows": [[3, 10, 0.1], [0, 10, 0.9]]})"
                                       "\n");
  ASSERT_TRUE(m.has_mr);
  EXPECT_FALSE(m.has_hd);
  const QvBucketMetrics& full = m.buckets[0];
  EXPECT_EQ(full.name, "full");
  EXPECT_EQ(full.r1[4], 1.0);  // 0.7
  EXPECT_EQ(full.r1[5], 0.0);  // 0.75
  // mAP sorts by score: the perfect window ranks first -> AP 1 at every threshold.
  for (double ap : full.map) EXPECT_EQ(ap, 1.0);
  // short bucket holds the query ([0,10] has length 10), middle and long do not.
  EXPECT_EQ(m.buckets[3].name, "short");
  EXPECT_EQ(m.buckets[3].n_queries, 1);
  EXPECT_EQ(m.buckets[1].n_queries, 0);
}

TEST_F(QvSmall, MapKeepsOnlyTheFirstTenWindowsAndRanksTiesStably) {
  // 10 misses then a perfect window at position 10 (dropped by the top-10 cap): AP 0.
  std::string windows;
  for (int i = 0; i < 10; ++i) windows += "[100, 110, 0.5], ";
  auto m = eval(gt("[[0, 10]]"), R"({"qid": 1, "pred_relevant_windows": [)" + windows + "[0, 10, 1.0]]}\n");
  EXPECT_EQ(m.buckets[0].map[0], 0.0);
  // Equal scores keep list order: miss first, hit second -> AP = 1/2.
  m = eval(gt("[[0, 10]]"), R"({"qid": 1, "pred_relevant_windows": [[100, 110, 0.5], [0, 10, 0.5]]})"
                            "\n");
  EXPECT_DOUBLE_EQ(m.buckets[0].map[0], 0.5);
  // A duplicate of a matched window is a false positive: two GT windows, hit, dup, hit:
  // precisions at the TPs 1 and 2/3 -> AP = (1 + 2/3) / 2.
  m = eval(gt("[[0, 10], [20, 30]]"),
           R"({"qid": 1, "pred_relevant_windows": [[0, 10, 0.9], [0, 10, 0.8], [20, 30, 0.7]]})"
           "\n");
  EXPECT_DOUBLE_EQ(m.buckets[0].map[0], (1.0 + 2.0 / 3.0) / 2.0);
}

TEST_F(QvSmall, PredictionsAreNotFilteredByBucket) {
  // GT has a short and a long window; in "short" the long prediction ranked first is an FP.
  const auto m = eval(gt("[[0, 10], [40, 100]]"),
                      R"({"qid": 1, "pred_relevant_windows": [[40, 100, 0.9], [0, 10, 0.8]]})"
                      "\n");
  EXPECT_DOUBLE_EQ(m.buckets[3].map[0], 0.5);  // short: FP then TP
  EXPECT_EQ(m.buckets[3].r1[0], 0.0);
  EXPECT_DOUBLE_EQ(m.buckets[1].map[0], 1.0);  // long
  EXPECT_DOUBLE_EQ(m.buckets[0].map[0], 1.0);  // full
}

TEST_F(QvSmall, HighlightApGroupsTiedScoresAndHit1TakesAnyAnnotator) {
  // 75 clips; annotator scores: clip0 [4,0,2], clip1 [2,2,2], clip2 [0,3,1], the rest 0.
  // Predicted: clip2 highest, then clips 0 and 1 tied, the rest padded with 0.0.
  const auto m = eval(gt("[[0, 10]]"), R"({"qid": 1, "pred_saliency_scores": [0.5, 0.5, 0.9]})"
                                       "\n");
  ASSERT_TRUE(m.has_hd);
  EXPECT_FALSE(m.has_mr);
  const QvHighlightMetrics& fair = m.highlight[0];
  // Fair (>=2). a1: positives {0,1}: groups {2}:0/1, {0,1}: 2/3 -> one recall level (1.0)
  // with interpolated precision 2/3. a2: positives {1,2}: {2}: 1/1 (r .5), {0,1}: 2/3 (r 1)
  // -> mean(1, 2/3). a3: positives {0,1}: like a1 -> 2/3.
  EXPECT_DOUBLE_EQ(fair.map, (2.0 / 3.0 + (1.0 + 2.0 / 3.0) / 2.0 + 2.0 / 3.0) / 3.0);
  EXPECT_EQ(fair.hit1, 1.0);  // clip 2: annotator 2 gives 3
  // VeryGood (>=4): only a1 clip0 positive: {2}: 0/1, {0,1}: 1/3 -> 1/3; a2, a3 all 0.
  EXPECT_DOUBLE_EQ(m.highlight[2].map, (1.0 / 3.0) / 3.0);
  EXPECT_EQ(m.highlight[2].hit1, 0.0);
}

TEST_F(QvSmall, Hit1ArgmaxPastTheVideoScoresZero) {
  std::string s = "[0.1";
  for (int i = 1; i < 80; ++i) s += i == 79 ? ", 5" : ", 0.1";
  const auto m = eval(gt("[[0, 10]]"), R"({"qid": 1, "pred_saliency_scores": )" + s + "]}\n");
  EXPECT_EQ(m.highlight[0].hit1, 0.0);
}

TEST_F(QvSmall, EmptyWindowListIsAMissForR1AndSkippedForMap) {
  const std::string g = write("gt2.jsonl",
                              R"({"qid": 1, "duration": 150, "relevant_windows": [[0, 10]]})"
                              "\n"
                              R"({"qid": 2, "duration": 150, "relevant_windows": [[0, 10]]})"
                              "\n");
  const auto m = eval(g, R"({"qid": 1, "pred_relevant_windows": [[0, 10, 1]]})"
                         "\n"
                         R"({"qid": 2, "pred_relevant_windows": []})"
                         "\n");
  EXPECT_EQ(m.buckets[0].r1[0], 0.5);
  EXPECT_EQ(m.buckets[0].map[0], 1.0);
  EXPECT_EQ(m.buckets[0].n_queries_in_map, 1);
}

TEST_F(QvSmall, BadInputNamesFileLineAndField) {
  const std::string g = gt("[[0, 10]]");
  const std::string p = write("bad.jsonl", R"({"qid": 1, "pred_relevant_windows": [[10, 0, 1]]})"
                                           "\n");
  test::expect_error<FormatError>([&] { load_qvhighlights_predictions(p); }, {p + ":1", "pred_relevant_windows[0]", "reversed"});
  const std::string p2 = write("bad2.jsonl", R"({"qid": 1, "pred_relevant_windows": [[0, 10, 1]]})"
                                             "\n"
                                             R"({"qid": 2})"
                                             "\n");
  test::expect_error<FormatError>([&] { load_qvhighlights_predictions(p2); }, {p2 + ":2", "pred_relevant_windows"});
  const std::string p3 = write("bad3.jsonl", R"({"qid": 1, "pred_relevant_windows": [[0, 10, 1]]})"
                                             "\n{not json\n");
  test::expect_error<FormatError>([&] { load_qvhighlights_predictions(p3); }, {p3 + ":2", "JSON"});
  const std::string p4 = write("bad4.jsonl", R"({"qid": 7, "pred_relevant_windows": [[0, 10, 1]]})"
                                             "\n");
  test::expect_error<FormatError>(
      [&] { evaluate_qvhighlights(load_qvhighlights_gt(g), load_qvhighlights_predictions(p4)); },
      {p4 + ":1", "qid", "unknown qid 7"});
  const std::string g2 = write("gt3.jsonl", R"({"qid": 1, "duration": 150, "relevant_windows": [[0, 10]]})"
                                            "\n"
                                            R"({"qid": 2, "duration": 150, "relevant_windows": [[0, 10]]})"
                                            "\n");
  const std::string p5 = write("bad5.jsonl", R"({"qid": 1, "pred_relevant_windows": [[0, 10, 1]]})"
                                             "\n");
  test::expect_error<FormatError>(
      [&] { evaluate_qvhighlights(load_qvhighlights_gt(g2), load_qvhighlights_predictions(p5)); },
      {p5, "missing predictions for 1 of 2", "qid 2", g2 + ":2"});
  const std::string p6 = write("bad6.jsonl", R"({"qid": 1, "pred_relevant_windows": [[0, 10, 1]]})"
                                             "\n"
                                             R"({"qid": 1, "pred_relevant_windows": [[0, 10, 1]]})"
                                             "\n");
  test::expect_error<FormatError>([&] { load_qvhighlights_predictions(p6); }, {p6 + ":2", "duplicate qid 1"});
  const std::string p7 = write("bad7.jsonl", R"({"qid": 1, "pred_saliency_scores": [0.1, "x"]})"
                                             "\n");
  test::expect_error<FormatError>([&] { load_qvhighlights_predictions(p7); }, {p7 + ":1", "pred_saliency_scores[1]"});
  const std::string g4 = write("gt4.jsonl", R"({"qid": 1, "relevant_windows": [[0, 10]]})"
                                            "\n");
  test::expect_error<FormatError>([&] { load_qvhighlights_gt(g4); }, {g4 + ":1", "duration"});
  const std::string g5 = write("gt5.jsonl", R"({"qid": 1, "duration": 1e12, "relevant_windows": [[0, 10]]})"
                                            "\n");
  test::expect_error<FormatError>([&] { load_qvhighlights_gt(g5); }, {g5 + ":1", "duration"});
  test::expect_error<IoError>([&] { load_qvhighlights_gt(dir_ + "/nope.jsonl"); }, {"nope.jsonl"});
}

// ---- the CLI -----------------------------------------------------------------------------

TEST(QvCli, PrintsOfficialJsonWritesOutAndTable) {
  const std::string dir = test::scratch_dir("qvhighlights_cli");
  const std::string gt = qv_fixture("highlight_val_release.jsonl"), out = dir + "/metrics.json";
  const std::string cmd = test::shell_quote(test::cli_path()) + " eval qvhighlights --gt " + test::shell_quote(gt) +
                          " --pred " + test::shell_quote(qv_fixture("preds_noisy.jsonl"));
  auto r = test::run_command(cmd + " --out " + test::shell_quote(out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto printed = nlohmann::ordered_json::parse(r.out);
  expect_official_key_order(printed);
  const json expected = read_json(qv_fixture("expected_noisy.json"));
  expect_same_json(expected, as_json(printed), 0);
  expect_same_json(expected, read_json(out), 0);
  EXPECT_NE(r.err.find("moment retrieval"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("min-VeryGood"), std::string::npos) << r.err;
  r = test::run_command(cmd + " --quiet");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.err, "");
}

TEST(QvCli, BadInputExitsOneNamingFileLineField) {
  const std::string dir = test::scratch_dir("qvhighlights_cli_bad");
  const std::string pred = dir + "/pred.jsonl";
  std::ofstream(pred) << R"({"qid": 2579, "pred_relevant_windows": [[0, 10, 1]], "pred_saliency_scores": [1]})"
                         "\n"
                         R"({"qid": 2580, "pred_saliency_scores": [1]})"
                         "\n";
  const std::string base = test::shell_quote(test::cli_path()) + " eval qvhighlights --quiet --gt " +
                           test::shell_quote(qv_fixture("highlight_val_release.jsonl"));
  auto r = test::run_command(base + " --pred " + test::shell_quote(pred));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("sfvu: error: " + pred + ":2: missing field 'pred_relevant_windows'"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  r = test::run_command(base);  // --pred missing: a usage error
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--pred"), std::string::npos) << r.err;
}

TEST(QvRounding, FormatsLikePythonTwoDecimals) {
  EXPECT_EQ(python_round(32.2049999, 2), 32.2);
  EXPECT_EQ(python_round(100.0 * (836.0 / 1550.0), 2), 53.94);
  EXPECT_EQ(python_round(0.125, 2), 0.12);  // exact tie in binary: half to even
  EXPECT_EQ(python_round(0.375, 2), 0.38);
}

}  // namespace
}  // namespace sfvu::grounding
