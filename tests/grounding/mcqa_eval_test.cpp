// Multiple-choice QA accuracy: our jsonl GT and a NExT-QA-style CSV, written by the test.
#include <fstream>

#include "sfvu/base/error.h"
#include "sfvu/grounding/mcqa_eval.h"
#include "support/test_support.h"

namespace {

using json = nlohmann::ordered_json;

std::string write_file(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

const char* kGtJsonl =
    R"({"qid": "q1", "video": "v1", "question": "what?", "options": ["a", "b", "c"], "answer": 0, "type": "CW"}
{"qid": "q2", "video": "v1", "question": "why?", "options": ["a", "b"], "answer": 1, "type": "CW"}
{"qid": "q3", "video": "v2", "question": "when?", "options": ["a", "b", "c"], "answer": 2, "type": "TN"}

{"qid": 4, "video": "v3", "question": "where?", "options": ["a", "b", "c"], "answer": 1, "type": "DL"}
)";

TEST(McqaEval, JsonlAccuracyOverallPerTypeAndNextQaGroups) {
  std::string dir = sfvu::test::scratch_dir("mcqa_jsonl");
  auto gt = sfvu::grounding::load_mcqa_gt(write_file(dir, "gt.jsonl", kGtJsonl));
  // q1 right (by video+question), q2 wrong, q3 right, qid 4 (given as "4") wrong.
  auto pred = sfvu::grounding::load_mcqa_predictions(
      write_file(dir, "qa.jsonl",
                 "{\"video\": \"v1\", \"question\": \"what?\", \"answer_index\": 0}\n"
                 "{\"qid\": \"q2\", \"answer_index\": 0, \"text\": \"a\"}\n"
                 "{\"qid\": \"q3\", \"answer_index\": 2}\n"
                 "{\"qid\": \"4\", \"answer_index\": 2}\n"),
      gt);
  json r = sfvu::grounding::evaluate_mcqa(gt, pred);
  EXPECT_EQ(r["brief"]["accuracy"].get<double>(), 50.0);
  EXPECT_EQ(r["brief"]["CW"].get<double>(), 50.0);
  EXPECT_EQ(r["brief"]["TN"].get<double>(), 100.0);
  EXPECT_EQ(r["brief"]["DL"].get<double>(), 0.0);
  EXPECT_EQ(r["brief"]["C"].get<double>(), 50.0);
  EXPECT_EQ(r["n_correct"].get<int>(), 2);
  EXPECT_EQ(r["per_type"]["CW"]["total"].get<int>(), 2);
}

TEST(McqaEval, NextQaCsvWithQuotedFieldsAndRounding) {
  std::string dir = sfvu::test::scratch_dir("mcqa_csv");
  auto gt = sfvu::grounding::load_mcqa_gt(write_file(
      dir, "val.csv",
      "video,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4\n"
      "100,10,640,480,\"why did the boy, smiling, run\",3,0,CW,a,b,c,d,e\n"
      "100,10,640,480,what did he hold,0,1,DO,a,b,c,d,e\n"
      "200,10,640,480,\"what \"\"next\"\"\",4,5,TN,a,b,c,d,e\n"));
  ASSERT_EQ(gt.questions.size(), 3u);
  EXPECT_EQ(gt.questions[0].question, "why did the boy, smiling, run");
  EXPECT_EQ(gt.questions[2].id, "200_5");
  auto pred = sfvu::grounding::load_mcqa_predictions(
      write_file(dir, "qa.jsonl",
                 "{\"qid\": \"100_0\", \"answer_index\": 3}\n{\"qid\": \"100_1\", \"answer_index\": 1}\n"
                 "{\"video\": \"200\", \"question\": \"what \\\"next\\\"\", \"answer_index\": 4}\n"),
      gt);
  json r = sfvu::grounding::evaluate_mcqa(gt, pred);
  EXPECT_EQ(r["brief"]["accuracy"].get<double>(), 66.67);
  EXPECT_DOUBLE_EQ(r["accuracy"].get<double>(), 200.0 / 3.0);
  EXPECT_EQ(r["brief"]["DO"].get<double>(), 0.0);
  EXPECT_EQ(r["brief"]["T"].get<double>(), 100.0);
}

TEST(McqaEval, BadInputNamesFileLineAndField) {
  using sfvu::FormatError;
  using sfvu::test::expect_error;
  std::string dir = sfvu::test::scratch_dir("mcqa_bad");
  auto gt = sfvu::grounding::load_mcqa_gt(write_file(dir, "gt.jsonl", kGtJsonl));
  auto load = [&](const std::string& name, const std::string& text) {
    auto p = write_file(dir, name, text);
    return [p, &gt] { sfvu::grounding::load_mcqa_predictions(p, gt); };
  };
  const std::string ok = "{\"qid\": \"q1\", \"answer_index\": 0}\n";
  expect_error<FormatError>(load("a.jsonl", ok + "{\"qid\": \"q2\", \n"), {"a.jsonl", ":2:", "JSON"});
  expect_error<FormatError>(load("b.jsonl", ok + "{\"qid\": \"q2\"}\n"), {"b.jsonl", ":2:", "answer_index"});
  expect_error<FormatError>(load("c.jsonl", ok + "{\"qid\": \"zz\", \"answer_index\": 0}\n"), {"c.jsonl", ":2:", "qid", "zz"});
  expect_error<FormatError>(load("d.jsonl", ok), {"d.jsonl", "3 GT question", "q2"});
  expect_error<FormatError>(load("e.jsonl", ok + "{\"qid\": \"q2\", \"answer_index\": 2}\n"), {"e.jsonl", ":2:", "answer_index"});
  expect_error<FormatError>(load("f.jsonl", ok + ok), {"f.jsonl", ":2:", "duplicate"});
  expect_error<FormatError>(load("g.jsonl", ok + "{\"qid\": \"q2\", \"answer_index\": 1.5}\n"), {"g.jsonl", ":2:", "answer_index"});
  expect_error<FormatError>([&] { sfvu::grounding::load_mcqa_gt(write_file(dir, "gt2.jsonl", "{\"video\": \"v\", \"question\": \"q\", \"answer\": 0}\n")); },
                            {"gt2.jsonl", ":1:", "options"});
  expect_error<FormatError>([&] { sfvu::grounding::load_mcqa_gt(write_file(dir, "gt3.csv", "video,question,answer,a0,a1\nv,q,7,a,b\n")); },
                            {"gt3.csv", ":2:", "answer"});
  expect_error<FormatError>([&] { sfvu::grounding::load_mcqa_gt(write_file(dir, "gt4.csv", "video,question,a0,a1\nv,q,a,b\n")); },
                            {"gt4.csv", "answer"});
  expect_error<sfvu::IoError>([&] { sfvu::grounding::load_mcqa_gt(dir + "/nope.csv"); }, {"nope.csv"});
  const std::string q = "{\"video\": \"v\", \"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": 0, ";
  expect_error<FormatError>([&] { sfvu::grounding::load_mcqa_gt(write_file(dir, "gt5.jsonl", q + "\"relevant_windows\": [[3, 2]]}\n")); },
                            {"gt5.jsonl", ":1:", "relevant_windows", "reversed"});
  expect_error<FormatError>([&] { sfvu::grounding::load_mcqa_gt(write_file(dir, "gt6.jsonl", q + "\"relevant_windows\": [4]}\n")); },
                            {"gt6.jsonl", ":1:", "relevant_windows"});
}

// Grounded QA (NExT-GQA-like): "relevant_windows" says when the asked event happens.
TEST(McqaEval, ReadsTheWindowsOfGroundedQuestions) {
  std::string dir = sfvu::test::scratch_dir("mcqa_windows");
  auto gt = sfvu::grounding::load_mcqa_gt(write_file(
      dir, "gt.jsonl",
      "{\"qid\": 1, \"video\": \"v\", \"question\": \"q\", \"options\": [\"a\", \"b\"], \"answer\": 0, "
      "\"relevant_windows\": [[1.5, 4], [8, 9.25]]}\n"
      "{\"qid\": 2, \"video\": \"v\", \"question\": \"r\", \"options\": [\"a\", \"b\"], \"answer\": 1}\n"));
  ASSERT_EQ(gt.questions.size(), 2u);
  EXPECT_EQ(gt.questions[0].windows, (std::vector<std::pair<double, double>>{{1.5, 4.0}, {8.0, 9.25}}));
  EXPECT_TRUE(gt.questions[1].windows.empty());
}

}  // namespace

namespace {

TEST(McqaEvalCli, PrintsBriefAndFailsCleanly) {
  if (!std::ifstream(sfvu::test::cli_path()).good()) GTEST_SKIP() << "sfvu CLI not built: " << sfvu::test::cli_path();
  using sfvu::test::shell_quote;
  std::string dir = sfvu::test::scratch_dir("mcqa_cli");
  auto gt = write_file(dir, "gt.jsonl", kGtJsonl);
  auto pred = write_file(dir, "qa.jsonl",
                         "{\"qid\": \"q1\", \"answer_index\": 0}\n{\"qid\": \"q2\", \"answer_index\": 1}\n"
                         "{\"qid\": \"q3\", \"answer_index\": 0}\n{\"qid\": 4, \"answer_index\": 1}\n");
  const std::string base = shell_quote(sfvu::test::cli_path()) + " eval mcqa --gt " + shell_quote(gt) + " --pred ";
  auto ok = sfvu::test::run_command(base + shell_quote(pred));
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  json r = json::parse(ok.out);
  EXPECT_EQ(r["brief"]["accuracy"].get<double>(), 75.0);
  EXPECT_EQ(r["brief"]["TN"].get<double>(), 0.0);
  EXPECT_NE(ok.err.find("accuracy"), std::string::npos);
  auto quiet = sfvu::test::run_command(base + shell_quote(pred) + " --quiet");
  EXPECT_EQ(quiet.err, "");
  auto missing = write_file(dir, "missing.jsonl", "{\"qid\": \"q1\", \"answer_index\": 0}\n");
  auto err = sfvu::test::run_command(base + shell_quote(missing) + " --quiet");
  EXPECT_EQ(err.exit_code, 1);
  EXPECT_NE(err.err.find("missing.jsonl"), std::string::npos) << err.err;
  EXPECT_NE(err.err.find("sfvu: error:"), std::string::npos) << err.err;
}

}  // namespace
