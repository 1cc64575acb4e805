// Charades-STA metrics: parity with the UniVTG, 2D-TAN and VSLNet evaluators' outputs on the
// noisy fixture (tests/fixtures/eval/charades_sta, copied from shared/; see PROVENANCE.md),
// hand-made edge cases, and bad-input errors.
#include <fstream>

#include "sfvu/base/error.h"
#include "sfvu/grounding/charades_eval.h"
#include "support/test_support.h"

namespace {

using sfvu::grounding::CharadesConvention;
using sfvu::grounding::CharadesEvalOptions;
using json = nlohmann::ordered_json;

std::string cs(const std::string& name) { return sfvu::test::fixture("eval/charades_sta/" + name); }
json read_json(const std::string& path) { return json::parse(sfvu::test::read_text_file(path)); }

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

// Every number of `expected` equals `actual` exactly (both already rounded the same way).
void expect_same_numbers(const json& expected, const json& actual, const std::string& where) {
  for (auto it = expected.begin(); it != expected.end(); ++it) {
    ASSERT_TRUE(actual.contains(it.key())) << where << "." << it.key() << " missing";
    if (it->is_object()) {
      expect_same_numbers(*it, actual[it.key()], where + "." + it.key());
    } else {
      EXPECT_EQ(it->get<double>(), actual[it.key()].get<double>()) << where << "." << it.key();
    }
  }
}

json run(const std::string& gt_path, const std::string& csv, CharadesConvention c, int digits = 2, double nms = 0.5) {
  auto gt = sfvu::grounding::load_charades_gt(gt_path, csv);
  auto preds = sfvu::grounding::load_charades_predictions(cs("preds_noisy.jsonl"), gt);
  CharadesEvalOptions opt;
  opt.convention = c;
  opt.round_digits = digits;
  opt.nms_threshold = nms;
  return sfvu::grounding::evaluate_charades(gt, preds, opt);
}

TEST(CharadesEval, UnivtgMatchesOfficialOutputClippedJsonl) {
  json r = run(cs("charades_test_release.jsonl"), "", CharadesConvention::kUnivtg);
  expect_same_numbers(read_json(cs("expected_noisy_univtg_gtclipped.json")), r["univtg"], "univtg");
  EXPECT_EQ(r["brief"]["R1@0.7"].get<double>(), 15.97);
  EXPECT_EQ(r["brief"]["mAP"].get<double>(), 28.11);
  EXPECT_EQ(r["n_queries"].get<int>(), 3720);
}

TEST(CharadesEval, UnivtgUnroundedTxtPlusCsvEqualsClippedJsonl) {
  json r = run(cs("charades_sta_test.txt"), cs("Charades_v1_test.csv"), CharadesConvention::kUnivtg, 10);
  EXPECT_TRUE(r["gt_clipped"].get<bool>());
  EXPECT_EQ(r["n_gt_clipped"].get<int>(), 562);
  expect_same_numbers(read_json(cs("expected_noisy_univtg_gtclipped_unrounded.json")), r["univtg"], "univtg");
}

TEST(CharadesEval, UnivtgRawGtWithoutDurations) {
  json r = run(cs("charades_sta_test.txt"), "", CharadesConvention::kUnivtg);
  EXPECT_FALSE(r["gt_clipped"].get<bool>());
  expect_same_numbers(read_json(cs("expected_noisy_univtg_gtraw.json")), r["univtg"], "univtg");
  json u = run(cs("charades_sta_test.txt"), "", CharadesConvention::kUnivtg, 10);
  expect_same_numbers(read_json(cs("expected_noisy_univtg_gtraw_unrounded.json")), u["univtg"], "univtg");
}

TEST(CharadesEval, TwoDTanWithAndWithoutNms) {
  json r = run(cs("charades_sta_test.txt"), cs("Charades_v1_test.csv"), CharadesConvention::k2dtan);
  expect_same_numbers(read_json(cs("expected_noisy_2dtan_gtclipped_nms0.5.json"))["metrics"], r["unrounded"], "2dtan");
  EXPECT_EQ(r["brief"]["R5@0.7"].get<double>(), 51.75);
  json no_nms = run(cs("charades_sta_test.txt"), cs("Charades_v1_test.csv"), CharadesConvention::k2dtan, 2, 1.0);
  expect_same_numbers(read_json(cs("expected_noisy_2dtan_gtclipped_nonms.json"))["metrics"], no_nms["unrounded"],
                      "2dtan-nonms");
}

TEST(CharadesEval, VslnetClippedAndRaw) {
  json c = run(cs("charades_test_release.jsonl"), "", CharadesConvention::kVslnet);
  expect_same_numbers(read_json(cs("expected_noisy_vslnet_gtclipped.json"))["metrics"], c["unrounded"], "vslnet");
  EXPECT_TRUE(c["brief"]["R5@0.3"].is_null());
  json raw = run(cs("charades_sta_test.txt"), "", CharadesConvention::kVslnet);
  expect_same_numbers(read_json(cs("expected_noisy_vslnet_gtraw.json"))["metrics"], raw["unrounded"], "vslnet-raw");
}

TEST(CharadesEval, ExactThresholdStrictVersusNonStrict) {
  std::string dir = sfvu::test::scratch_dir("charades_edge");
  auto gt_path = write_file(dir, "gt.jsonl", R"({"qid": 1, "duration": 30, "relevant_windows": [[0, 10]]}
)");
  // IoU exactly 0.5 and 0.7 at rank 1 / rank 2; a duplicate of the first at rank 3.
  auto pred_path = write_file(dir, "pred.jsonl", R"({"qid": 1, "pred_relevant_windows": [[0, 5, 0.9], [0, 7, 0.8], [0, 5, 0.7]]}
)");
  auto gt = sfvu::grounding::load_charades_gt(gt_path);
  auto preds = sfvu::grounding::load_charades_predictions(pred_path, gt);
  CharadesEvalOptions opt;
  json u = sfvu::grounding::evaluate_charades(gt, preds, opt);
  EXPECT_EQ(u["brief"]["R1@0.5"].get<double>(), 100.0);  // >=
  EXPECT_EQ(u["brief"]["R1@0.7"].get<double>(), 0.0);
  EXPECT_EQ(u["brief"]["R5@0.7"].get<double>(), 100.0);
  EXPECT_EQ(u["brief"]["mIoU"].get<double>(), 50.0);
  opt.convention = CharadesConvention::k2dtan;
  json t = sfvu::grounding::evaluate_charades(gt, preds, opt);
  EXPECT_EQ(t["brief"]["R1@0.5"].get<double>(), 0.0);  // strict >
  // NMS at 0.5: [0,7] overlaps [0,5] by 5/7 > 0.5 and the duplicate by 1, both suppressed.
  EXPECT_EQ(t["brief"]["R5@0.5"].get<double>(), 0.0);
  opt.nms_threshold = 1.0;  // no NMS: [0,7] (IoU 0.7 > 0.5) enters the top 5
  json t_no_nms = sfvu::grounding::evaluate_charades(gt, preds, opt);
  EXPECT_EQ(t_no_nms["brief"]["R5@0.5"].get<double>(), 100.0);
  EXPECT_EQ(t_no_nms["brief"]["R5@0.7"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(sfvu::grounding::charades_hull_iou(0, 7, 0, 10), 0.7);
}

TEST(CharadesEval, NumpyPairwiseSumOrder) {
  std::vector<double> x(1000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.1 * static_cast<double>(i % 7) + 1e-3;
  double naive = 0;
  for (double v : x) naive += v;
  EXPECT_NEAR(sfvu::grounding::numpy_pairwise_sum(x.data(), 1000), naive, 1e-9);
}

TEST(CharadesEval, BadInputNamesFileLineAndField) {
  using sfvu::FormatError;
  using sfvu::test::expect_error;
  std::string dir = sfvu::test::scratch_dir("charades_bad");
  auto gt_path = write_file(dir, "gt.jsonl", "{\"qid\": 1, \"duration\": 30, \"relevant_windows\": [[0, 10]]}\n"
                                             "{\"qid\": 2, \"duration\": 30, \"relevant_windows\": [[5, 10]]}\n");
  auto gt = sfvu::grounding::load_charades_gt(gt_path);
  auto load = [&](const std::string& name, const std::string& text) {
    auto p = write_file(dir, name, text);
    return [p, &gt] { sfvu::grounding::load_charades_predictions(p, gt); };
  };
  const std::string ok1 = "{\"qid\": 1, \"pred_relevant_windows\": [[0, 5, 1]]}\n";
  expect_error<FormatError>(load("a.jsonl", ok1 + "{\"qid\": 2, \"pred_relevant_windows\": [[0, 5, 1]]\n"),
                            {"a.jsonl", ":2:", "JSON"});
  expect_error<FormatError>(load("b.jsonl", ok1 + "{\"qid\": 2}\n"), {"b.jsonl", ":2:", "pred_relevant_windows"});
  expect_error<FormatError>(load("c.jsonl", ok1 + "{\"qid\": 9, \"pred_relevant_windows\": [[0, 5]]}\n"),
                            {"c.jsonl", ":2:", "qid", "9"});
  expect_error<FormatError>(load("d.jsonl", ok1), {"d.jsonl", "qid 2"});
  expect_error<FormatError>(load("e.jsonl", ok1 + "{\"qid\": 2, \"pred_relevant_windows\": [[6, 5, 1]]}\n"),
                            {"e.jsonl", ":2:", "pred_relevant_windows[0]", "start > end"});
  expect_error<FormatError>(load("f.jsonl", ok1 + "{\"qid\": 2, \"pred_relevant_windows\": [[NaN, 5, 1]]}\n"),
                            {"f.jsonl", ":2:"});
  expect_error<FormatError>(load("g.jsonl", ok1 + "{\"qid\": 2, \"pred_relevant_windows\": []}\n"),
                            {"g.jsonl", ":2:", "pred_relevant_windows"});
  expect_error<FormatError>(load("h.jsonl", ok1 + ok1), {"h.jsonl", ":2:", "duplicate"});
  auto bad_gt = write_file(dir, "bad_gt.txt", "AAAAA 1.0 x##a sentence.\n");
  expect_error<FormatError>([&] { sfvu::grounding::load_charades_gt(bad_gt); }, {"bad_gt.txt", ":1:", "end"});
  auto csv = write_file(dir, "d.csv", "id,length\nBBBBB,3.0\n");
  auto txt = write_file(dir, "g.txt", "AAAAA 1.0 2.0##a sentence.\n");
  expect_error<FormatError>([&] { sfvu::grounding::load_charades_gt(txt, csv); }, {"g.txt", ":1:", "AAAAA", "d.csv"});
  expect_error<sfvu::IoError>([&] { sfvu::grounding::load_charades_gt(dir + "/missing.jsonl"); }, {"missing.jsonl"});
  expect_error<sfvu::UsageError>([] { sfvu::grounding::parse_charades_convention("tall"); }, {"tall"});
}

TEST(CharadesEval, TxtDropsReversedLinesAndTheirPredictions) {
  std::string dir = sfvu::test::scratch_dir("charades_txt");
  auto csv = write_file(dir, "d.csv", "id,script,length\nAAAAA,\"multi\nline, quoted \"\"x\"\"\",20.5\n");
  auto txt = write_file(dir, "g.txt", "AAAAA 1.0 30.0##one.\nAAAAA 8.0 7.0##reversed.\n");
  auto gt = sfvu::grounding::load_charades_gt(txt, csv, 0);
  ASSERT_EQ(gt.queries.size(), 1u);
  EXPECT_EQ(gt.queries[0].end_seconds, 20.5);
  EXPECT_EQ(gt.n_dropped, 1);
  auto pred = write_file(dir, "p.jsonl", "{\"qid\": 0, \"pred_relevant_windows\": [[1.0, 20.5, 1]]}\n"
                                         "{\"qid\": 1, \"pred_relevant_windows\": [[1, 2, 1]]}\n");
  auto preds = sfvu::grounding::load_charades_predictions(pred, gt);
  json r = sfvu::grounding::evaluate_charades(gt, preds);
  EXPECT_EQ(r["brief"]["R1@0.7"].get<double>(), 100.0);
  EXPECT_EQ(r["brief"]["mAP"].get<double>(), 100.0);
}

}  // namespace

namespace {

bool cli_built() { return std::ifstream(sfvu::test::cli_path()).good(); }

TEST(CharadesEvalCli, PrintsBriefJsonAndMapsErrorsToExitCodes) {
  if (!cli_built()) GTEST_SKIP() << "sfvu CLI not built: " << sfvu::test::cli_path();
  using sfvu::test::shell_quote;
  const std::string base = shell_quote(sfvu::test::cli_path()) + " eval charades-sta --gt " +
                           shell_quote(cs("charades_sta_test.txt")) + " --durations " +
                           shell_quote(cs("Charades_v1_test.csv")) + " --pred ";
  auto ok = sfvu::test::run_command(base + shell_quote(cs("preds_noisy.jsonl")) + " --convention vslnet");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  json r = json::parse(ok.out);
  EXPECT_EQ(r["brief"]["R1@0.5"].get<double>(), 30.89);
  EXPECT_NE(ok.err.find("R1@0.3"), std::string::npos);  // the table
  auto quiet = sfvu::test::run_command(base + shell_quote(cs("preds_noisy.jsonl")) + " --quiet");
  EXPECT_EQ(quiet.exit_code, 0);
  EXPECT_EQ(quiet.err, "");
  std::string dir = sfvu::test::scratch_dir("charades_cli");
  auto bad = write_file(dir, "bad.jsonl", "{\"qid\": 12404, \"pred_relevant_windows\": [[1, 2, 0.5]]}\n{\"qid\": 12405}\n");
  auto err = sfvu::test::run_command(base + shell_quote(bad) + " --quiet");
  EXPECT_EQ(err.exit_code, 1);
  EXPECT_NE(err.err.find("sfvu: error:"), std::string::npos) << err.err;
  EXPECT_NE(err.err.find("bad.jsonl:2: missing field 'pred_relevant_windows'"), std::string::npos) << err.err;
  auto usage = sfvu::test::run_command(base + shell_quote(bad) + " --convention tall");
  EXPECT_EQ(usage.exit_code, 2);
}

}  // namespace
