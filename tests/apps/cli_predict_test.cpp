// The CLI contract of `sfvu predict` (exact keys, the evaluators accept its output, resume,
// failures, exit codes), run on the built binary with the random-weight clip_tiny fixture and
// small videos made by the ffmpeg CLI, named like the benchmarks' videos; and with a model
// trained a few steps on a generated Moment-DETR feature set (support/feature_set.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "support/cli_json.h"
#include "support/feature_set.h"
#include "support/test_support.h"

namespace sfvu {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;  // keeps key order: the contract fixes it
using test::shell_quote;

constexpr const char* kQvA = "NUsG9BgSes0_210.0_360.0";
constexpr const char* kQvB = "bP5KfdFJzC4_660.0_810.0";

test::CommandResult sfvu_cli(const std::string& args) { return test::run_sfvu(args); }

std::vector<json> lines(const std::string& text) { return test::json_lines<json>(text); }

std::vector<std::string> keys(const json& j) { return test::json_keys(j); }

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

class CliPredict : public ::testing::Test {
 protected:
  // One folder of videos for the suite: QVHighlights and Charades ids, a corrupt file, and a
  // sidecar sharing a video's stem. Ids "missing_vid" has no file.
  static void SetUpTestSuite() {
    if (!test::ffmpeg_cli_available()) return;
    videos_ = test::scratch_dir("cli_predict_videos");
    const std::string v = shell_quote(videos_ + "/");
    test::run_ffmpeg("-f lavfi -i testsrc2=size=64x64:rate=8:duration=3 -pix_fmt yuv420p " + v + kQvA + ".mp4");
    test::run_ffmpeg("-f lavfi -i mandelbrot=size=64x64:rate=8 -t 5 -pix_fmt yuv420p " + v + kQvB + ".mkv");
    test::run_ffmpeg("-f lavfi -i testsrc=size=64x64:rate=8:duration=4 -pix_fmt yuv420p " + v + "3MSZA.mp4");
    test::run_ffmpeg("-f lavfi -i smptebars=size=64x64:rate=8:duration=3 -pix_fmt yuv420p " + v + "AO8RW.mp4");
    write_file(videos_ + "/AO8RW.json", "{}\n");
    write_file(videos_ + "/corrupt_vid.mp4", std::string(4096, 'x'));
  }

  void SetUp() override {
    if (!test::ffmpeg_cli_available()) GTEST_SKIP() << "needs the ffmpeg CLI to make the videos";
    dir_ = test::scratch_dir(std::string("cli_predict_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  static std::string predict(const std::string& task, const std::string& annotations, const std::string& out,
                             const std::string& videos = videos_) {
    return "predict --task " + task + " --model " + shell_quote(test::fixture("clip_tiny")) + " --annotations " +
           shell_quote(annotations) + " --videos " + shell_quote(videos) + " --out " + shell_quote(out) +
           " --no-cache --no-progress";
  }

  // QVHighlights GT lines (windows and saliency, as the val release) for `ids`.
  static std::string qv_gt(const std::vector<std::pair<int, std::string>>& ids) {
    std::string text;
    for (const auto& [qid, vid] : ids)
      text += json{{"qid", qid}, {"query", "a query " + std::to_string(qid)}, {"duration", 150}, {"vid", vid},
                   {"relevant_clip_ids", {0, 1}}, {"saliency_scores", {{2, 3, 4}, {1, 0, 4}}},
                   {"relevant_windows", {{0, 4}}}}.dump() + "\n";
    return text;
  }

  static std::string videos_;
  std::string dir_;
};

std::string CliPredict::videos_;

TEST_F(CliPredict, QvHighlightsSubmissionEvaluatesCleanly) {
  const std::string gt = dir_ + "/gt.jsonl", out = dir_ + "/pred.jsonl";
  // Queries of two videos, interleaved: the output groups them by video, in first-appearance order.
  write_file(gt, qv_gt({{2579, kQvA}, {7, kQvB}, {5071, kQvA}}));
  auto r = sfvu_cli(predict("grounding", gt, out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  EXPECT_FALSE(fs::exists(out + ".errors.jsonl"));
  auto pred = lines(test::read_text_file(out));
  ASSERT_EQ(pred.size(), 3u);
  EXPECT_EQ(pred[0]["qid"], 2579);
  EXPECT_EQ(pred[1]["qid"], 5071);
  EXPECT_EQ(pred[2]["qid"], 7);
  for (const auto& p : pred) {
    EXPECT_EQ(keys(p), (std::vector<std::string>{"qid", "query", "vid", "pred_relevant_windows", "pred_saliency_scores"}));
    EXPECT_EQ(p["pred_saliency_scores"].size(), 75u);  // floor(150 / 2), what the evaluator scores
    ASSERT_FALSE(p["pred_relevant_windows"].empty());
    for (const auto& w : p["pred_relevant_windows"]) {
      ASSERT_EQ(w.size(), 3u);
      EXPECT_LE(w[0].get<double>(), w[1].get<double>());
    }
  }
  EXPECT_EQ(pred[0]["vid"], kQvA);
  EXPECT_EQ(pred[0]["query"], "a query 2579");

  auto eval = sfvu_cli("eval qvhighlights --quiet --gt " + shell_quote(gt) + " --pred " + shell_quote(out));
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  auto metrics = json::parse(eval.out);
  EXPECT_TRUE(metrics["brief"].contains("MR-full-mAP"));
  EXPECT_TRUE(metrics["brief"].contains("HL-min-Fair-mAP"));
}

TEST_F(CliPredict, SaliencyLengthFollowsTheAnnotatedDuration) {
  const std::string ann = dir_ + "/ann.jsonl", out = dir_ + "/pred.jsonl";
  // Test-release lines (no windows); an odd duration rounds down as the evaluator does.
  write_file(ann, std::string(R"({"qid": 1, "query": "q", "duration": 7, "vid": ")") + kQvA + "\"}\n" +
                      R"({"qid": 2, "query": "q", "duration": 2, "vid": ")" + kQvA + "\"}\n");
  auto r = sfvu_cli(predict("grounding", ann, out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto pred = lines(test::read_text_file(out));
  ASSERT_EQ(pred.size(), 2u);
  EXPECT_EQ(pred[0]["pred_saliency_scores"].size(), 3u);
  EXPECT_EQ(pred[1]["pred_saliency_scores"].size(), 1u);
}

TEST_F(CliPredict, CharadesTxtQidsMatchTheEvaluator) {
  const std::string gt = dir_ + "/charades_sta_test.txt", out = dir_ + "/pred.jsonl";
  write_file(gt,
             "3MSZA 0.5 2.5##person turn a light on.\n"
             "AO8RW 1.0 3.0##a person is putting a book on a shelf.\n"
             "AO8RW 2.0 1.0##a reversed line the evaluator drops.\n"
             "3MSZA 1.0 4.0##person flipped the light switch near the door.\n");
  auto r = sfvu_cli(predict("grounding", gt, out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("(AO8RW.mp4, AO8RW.json); using AO8RW.mp4"), std::string::npos) << r.err;
  auto pred = lines(test::read_text_file(out));
  ASSERT_EQ(pred.size(), 3u);
  EXPECT_EQ(pred[0]["qid"], 12404);  // the evaluator's numbering: 12404 + line index
  EXPECT_EQ(pred[1]["qid"], 12407);
  EXPECT_EQ(pred[2]["qid"], 12405);
  EXPECT_EQ(pred[0]["query"], "person turn a light on.");
  EXPECT_EQ(pred[0]["pred_saliency_scores"].size(), 2u);  // no annotated duration: the 4-s video's 2-s clips
  auto eval = sfvu_cli("eval charades-sta --quiet --gt " + shell_quote(gt) + " --pred " + shell_quote(out));
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_EQ(json::parse(eval.out)["n_queries"], 3);
}

TEST_F(CliPredict, CharadesJsonlEvaluatesCleanly) {
  const std::string gt = dir_ + "/charades.jsonl", out = dir_ + "/pred.jsonl";
  write_file(gt, R"({"qid": 0, "query": "a person is putting a book on a shelf.", "duration": 3.0, "vid": "AO8RW", "relevant_windows": [[0.0, 1.5]]})"
                 "\n"
                 R"({"qid": 12404, "query": "person turn a light on.", "duration": 4.0, "vid": "3MSZA", "relevant_windows": [[2.0, 4.0]]})"
                 "\n");
  auto r = sfvu_cli(predict("grounding", gt, out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto eval = sfvu_cli("eval charades-sta --quiet --gt " + shell_quote(gt) + " --pred " + shell_quote(out));
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_EQ(json::parse(eval.out)["n_queries"], 2);
}

TEST_F(CliPredict, QaJsonlAndNextQaCsvEvaluateCleanly) {
  const std::string qa = dir_ + "/qa.jsonl", csv = dir_ + "/val.csv";
  write_file(qa, std::string(R"({"qid": 1, "vid": "3MSZA", "question": "what?", "options": ["a", "b", "c"], "answer": 1})") +
                     "\n" + R"({"qid": "q2", "video": "AO8RW", "question": "who?", "options": ["x", "y"], "answer": 0})" + "\n");
  auto r = sfvu_cli(predict("qa", qa, dir_ + "/qa_pred.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto pred = lines(test::read_text_file(dir_ + "/qa_pred.jsonl"));
  ASSERT_EQ(pred.size(), 2u);
  EXPECT_EQ(keys(pred[0]), (std::vector<std::string>{"qid", "vid", "answer_index", "probabilities"}));
  EXPECT_EQ(pred[0]["vid"], "3MSZA");
  EXPECT_EQ(pred[0]["probabilities"].size(), 3u);
  auto eval = sfvu_cli("eval mcqa --quiet --gt " + shell_quote(qa) + " --pred " + shell_quote(dir_ + "/qa_pred.jsonl"));
  ASSERT_EQ(eval.exit_code, 0) << eval.err;

  write_file(csv,
             "video,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4\n"
             "3MSZA,32,64,64,why did the light turn on,2,4,CW,a,b,c,d,e\n"
             "AO8RW,24,64,64,\"what is on the shelf, finally\",0,7,DO,a book,a cup,a cat,a dog,a hat\n");
  r = sfvu_cli(predict("qa", csv, dir_ + "/csv_pred.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pred = lines(test::read_text_file(dir_ + "/csv_pred.jsonl"));
  ASSERT_EQ(pred.size(), 2u);
  EXPECT_EQ(pred[0]["qid"], "3MSZA_4");  // NExT-QA's own result key
  eval = sfvu_cli("eval mcqa --quiet --gt " + shell_quote(csv) + " --pred " + shell_quote(dir_ + "/csv_pred.jsonl"));
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
}

TEST_F(CliPredict, ResumeAfterATornLineEqualsAnUninterruptedRun) {
  const std::string gt = dir_ + "/gt.jsonl", full = dir_ + "/full.jsonl", cut = dir_ + "/cut.jsonl";
  // Interleaved videos: the torn line is video A's second query (qid 3), so the resumed run
  // must finish A before starting B, as the uninterrupted run did.
  write_file(gt, qv_gt({{1, kQvA}, {2, kQvB}, {3, kQvA}, {4, kQvB}}));
  auto r = sfvu_cli(predict("grounding", gt, full));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string expected = test::read_text_file(full);
  // Killed while writing: the first line and half of the second.
  const size_t first_end = expected.find('\n') + 1, second_end = expected.find('\n', first_end) + 1;
  write_file(cut, expected.substr(0, first_end + (second_end - first_end) / 2));
  r = sfvu_cli(predict("grounding", gt, cut) + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("partial last line"), std::string::npos) << r.err;
  EXPECT_EQ(test::read_text_file(cut), expected);
  // A finished file: nothing to do, nothing written.
  r = sfvu_cli(predict("grounding", gt, cut) + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_text_file(cut), expected);
}

TEST_F(CliPredict, AnExistingOutputNeedsResume) {
  const std::string gt = dir_ + "/gt.jsonl", out = dir_ + "/pred.jsonl";
  write_file(gt, qv_gt({{1, kQvA}}));
  write_file(out, "{\"qid\": 1}\n");
  auto r = sfvu_cli(predict("grounding", gt, out));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("exists; pass --resume or remove it"), std::string::npos) << r.err;
  EXPECT_EQ(test::read_text_file(out), "{\"qid\": 1}\n");
}

TEST_F(CliPredict, FailedVideosGoToTheErrorsFileAndExit3) {
  const std::string ann = dir_ + "/ann.jsonl", gt_ok = dir_ + "/gt_ok.jsonl", out = dir_ + "/pred.jsonl";
  write_file(ann, qv_gt({{1, "missing_vid"}, {2, kQvA}, {3, "corrupt_vid"}, {4, "missing_vid"}}));
  write_file(gt_ok, qv_gt({{2, kQvA}}));
  auto r = sfvu_cli(predict("grounding", ann, out));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("video 'missing_vid': no file missing_vid.* in"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("video 'corrupt_vid':"), std::string::npos) << r.err;
  auto errors = lines(test::read_text_file(out + ".errors.jsonl"));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(keys(errors[0]), (std::vector<std::string>{"vid", "qids", "error"}));
  EXPECT_EQ(errors[0]["vid"], "missing_vid");
  EXPECT_EQ(errors[0]["qids"], json({1, 4}));
  EXPECT_EQ(errors[1]["vid"], "corrupt_vid");
  EXPECT_NE(errors[1]["error"].get<std::string>().find("corrupt_vid.mp4"), std::string::npos);
  // The submission holds only the good video and stays valid for the evaluator.
  auto eval = sfvu_cli("eval qvhighlights --quiet --gt " + shell_quote(gt_ok) + " --pred " + shell_quote(out));
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
  // Resuming retries the failed videos only; still failing, still exit 3, no duplicate line.
  r = sfvu_cli(predict("grounding", ann, out) + " --resume");
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(lines(test::read_text_file(out)).size(), 1u);
  EXPECT_EQ(lines(test::read_text_file(out + ".errors.jsonl")).size(), 2u);
}

TEST_F(CliPredict, PreExtractedTokensGiveTheSameSubmissionAsTheVideos) {
  const std::string gt = dir_ + "/gt.jsonl", from_videos = dir_ + "/v.jsonl", from_tokens = dir_ + "/t.jsonl";
  const std::string tokens = dir_ + "/tokens", model = shell_quote(test::fixture("clip_tiny"));
  write_file(gt, qv_gt({{2579, kQvA}, {7, kQvB}, {5071, kQvA}}));
  auto r = sfvu_cli("encode --model " + model + " --no-cache -q --out " + shell_quote(tokens) + " " +
                    shell_quote(videos_ + "/" + kQvA + ".mp4") + " " + shell_quote(videos_ + "/" + kQvB + ".mkv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto encoded = lines(r.out);
  ASSERT_EQ(encoded.size(), 2u);
  EXPECT_EQ(keys(encoded[0]), (std::vector<std::string>{"video", "tokens", "n_slow", "n_fast", "n_tokens", "duration"}));
  EXPECT_TRUE(fs::exists(tokens + "/" + kQvA + ".safetensors"));

  r = sfvu_cli(predict("grounding", gt, from_videos));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string cmd = predict("grounding", gt, from_tokens);
  cmd.replace(cmd.find("--videos"), std::string("--videos").size(), "--features");
  cmd.replace(cmd.find(shell_quote(videos_)), shell_quote(videos_).size(), shell_quote(tokens));
  r = sfvu_cli(cmd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_text_file(from_tokens), test::read_text_file(from_videos));

  // Tokens made with other SlowFast options, or none at all: that video fails, by name.
  r = sfvu_cli("encode --model " + model + " --no-cache -q --slow-fps 2 --out " + shell_quote(tokens) + " " +
               shell_quote(videos_ + "/" + kQvB + ".mkv"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  write_file(gt, qv_gt({{2579, kQvA}, {7, kQvB}, {8, "3MSZA"}}));
  fs::remove(from_tokens);
  r = sfvu_cli(cmd);
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(lines(test::read_text_file(from_tokens)).size(), 1u);
  const auto errors = lines(test::read_text_file(from_tokens + ".errors.jsonl"));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0]["error"].get<std::string>().find(std::string(kQvB) + ".safetensors: the tokens were made with"),
            std::string::npos) << errors[0];
  EXPECT_NE(errors[1]["error"].get<std::string>().find("no tokens file 3MSZA.safetensors"), std::string::npos)
      << errors[1];
}

TEST_F(CliPredict, PlotWritesOnePngPerQueryNextToTheLines) {
  const std::string gt = dir_ + "/gt.jsonl", out = dir_ + "/pred.jsonl";
  write_file(gt, qv_gt({{11, kQvA}, {12, kQvA}}));
  auto r = sfvu_cli(predict("grounding", gt, out) + " --plot");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto pred = lines(test::read_text_file(out));
  ASSERT_EQ(pred.size(), 2u);
  EXPECT_EQ(pred[0]["plot"], std::string("pred_plots/") + kQvA + "_qid11.png");
  EXPECT_EQ(pred[1]["plot"], std::string("pred_plots/") + kQvA + "_qid12.png");
  for (const auto& p : pred) EXPECT_GT(fs::file_size(dir_ + "/" + p["plot"].get<std::string>()), 10000u);
  auto eval = sfvu_cli("eval qvhighlights --quiet --gt " + shell_quote(gt) + " --pred " + shell_quote(out));
  EXPECT_EQ(eval.exit_code, 0) << eval.err;  // the extra key does not disturb the evaluator
}

// The real annotation files (../shared, skipped without it): every query of the first videos
// of QVHighlights val and of Charades-STA test, verbatim, over stand-in videos named by their
// real ids; the official-format evaluators accept the submissions.
TEST_F(CliPredict, RealAnnotationFilesWithStandInVideos) {
  const std::string shared = std::string(SFVU_SHARED_DIR) + "/data";
  const std::string qv = shared + "/qvhighlights/highlight_val_release.jsonl";
  const std::string sta = shared + "/charades_sta/charades_sta_test.txt";
  const std::string csv = shared + "/charades_sta/Charades_v1_test.csv";
  if (!fs::exists(qv) || !fs::exists(sta) || !fs::exists(csv)) GTEST_SKIP() << "needs ../shared/data (absent)";
  const std::string videos = dir_ + "/videos";
  fs::create_directories(videos);
  auto first_lines_of_videos = [&](const std::string& path, size_t n_videos, auto vid_of) {
    std::ifstream in(path);
    std::string line, text;
    std::vector<std::string> vids;
    while (std::getline(in, line)) {
      const std::string vid = vid_of(line);
      if (std::find(vids.begin(), vids.end(), vid) == vids.end()) {
        if (vids.size() == n_videos) break;
        vids.push_back(vid);
        test::run_ffmpeg("-f lavfi -i testsrc2=size=64x48:rate=8:duration=12 -pix_fmt yuv420p " +
                         shell_quote(videos + "/" + vid + ".mp4"));
      }
      text += line + "\n";
    }
    return text;
  };
  const std::string qv_sub = dir_ + "/qv_val_subset.jsonl", qv_pred = dir_ + "/qv_pred.jsonl";
  write_file(qv_sub, first_lines_of_videos(qv, 2, [](const std::string& l) { return json::parse(l)["vid"].get<std::string>(); }));
  auto r = sfvu_cli(predict("grounding", qv_sub, qv_pred, videos));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(test::read_text_file(qv_pred)).size(), lines(test::read_text_file(qv_sub)).size());
  auto eval = sfvu_cli("eval qvhighlights --quiet --gt " + shell_quote(qv_sub) + " --pred " + shell_quote(qv_pred));
  EXPECT_EQ(eval.exit_code, 0) << eval.err;

  const std::string sta_sub = dir_ + "/charades_sta_test.txt", sta_pred = dir_ + "/sta_pred.jsonl";
  write_file(sta_sub, first_lines_of_videos(sta, 2, [](const std::string& l) { return l.substr(0, l.find(' ')); }));
  r = sfvu_cli(predict("grounding", sta_sub, sta_pred, videos));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(lines(test::read_text_file(sta_pred)).size(), test::nonempty_lines(test::read_text_file(sta_sub)).size());
  eval = sfvu_cli("eval charades-sta --quiet --gt " + shell_quote(sta_sub) + " --durations " + shell_quote(csv) +
                  " --pred " + shell_quote(sta_pred));
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_TRUE(json::parse(eval.out)["brief"].contains("R1@0.5")) << eval.out;
}

TEST_F(CliPredict, BadOptionsExit2AndBadAnnotationsExit1) {
  const std::string gt = dir_ + "/gt.jsonl", out = dir_ + "/pred.jsonl";
  write_file(gt, qv_gt({{1, kQvA}}) + "{\"qid\": 2, \"vid\": \"x\"}\n");
  auto task = sfvu_cli(predict("caption", gt, out));
  EXPECT_EQ(task.exit_code, 2);
  EXPECT_NE(task.err.find("--task"), std::string::npos) << task.err;
  auto folder = sfvu_cli(predict("grounding", gt, out, dir_ + "/nope"));
  EXPECT_EQ(folder.exit_code, 2);
  auto bad = sfvu_cli(predict("grounding", gt, out));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("gt.jsonl:2: missing field 'query'"), std::string::npos) << bad.err;
}


// A model trained on pre-extracted features predicts from the feature folder.
class CliPredictFeatures : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = test::scratch_dir("cli_predict_features");
    test::FeatureSetOptions o;
    o.videos = 4;
    test::write_feature_set(root_ + "/data", o);
    auto r = sfvu_cli("train --data " + shell_quote(root_ + "/data") + " --out " + shell_quote(root_ + "/model") +
                      " --steps 4 --d-model 32 --torch-threads 1 -q");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  void SetUp() override {
    dir_ = test::scratch_dir(std::string("cli_predict_features_") +
                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  static std::string predict(const std::string& features, const std::string& out, const std::string& task = "grounding") {
    return "predict --task " + task + " --model " + shell_quote(root_ + "/model") + " --annotations " +
           shell_quote(root_ + "/data/annotations.jsonl") + " --features " + shell_quote(features) + " --out " +
           shell_quote(out) + " --no-progress --torch-threads 1";
  }
  static std::string root_;
  std::string dir_;
};
std::string CliPredictFeatures::root_;

TEST_F(CliPredictFeatures, EveryQidGetsASubmissionLineTheEvaluatorScores) {
  const std::string out = dir_ + "/pred.jsonl";
  auto r = sfvu_cli(predict(root_ + "/data/features", out));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto pred = lines(test::read_text_file(out));
  ASSERT_EQ(pred.size(), 8u);
  std::set<int> qids;
  for (const auto& p : pred) {
    EXPECT_EQ(keys(p), (std::vector<std::string>{"qid", "query", "vid", "pred_relevant_windows", "pred_saliency_scores"}));
    qids.insert(p["qid"].get<int>());
    EXPECT_EQ(p["pred_saliency_scores"].size(), 20u);  // one per 2-s clip of the 40-s video
    ASSERT_FALSE(p["pred_relevant_windows"].empty());
    for (const auto& w : p["pred_relevant_windows"]) {
      EXPECT_GE(w[0].get<double>(), 0.0);
      EXPECT_LE(w[1].get<double>(), 40.0);
      EXPECT_LT(w[0].get<double>(), w[1].get<double>());
    }
  }
  EXPECT_EQ(qids, (std::set<int>{100, 101, 102, 103, 200, 201, 202, 203}));
  auto eval = sfvu_cli("eval qvhighlights --quiet --gt " + shell_quote(root_ + "/data/annotations.jsonl") + " --pred " +
                       shell_quote(out));
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  EXPECT_TRUE(json::parse(eval.out)["brief"].contains("MR-full-R1@0.5"));
  // Resuming a complete file adds nothing.
  const std::string before = test::read_text_file(out);
  r = sfvu_cli(predict(root_ + "/data/features", out) + " --resume");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_text_file(out), before);
}

TEST_F(CliPredictFeatures, LighthouseFolderNamesGiveTheSamePredictions) {
  const std::string from = root_ + "/data/features", to = dir_ + "/lighthouse/features/QVHighlight";
  fs::create_directories(to);
  fs::copy(from + "/slowfast_features", to + "/slowfast", fs::copy_options::recursive);
  fs::copy(from + "/clip_features", to + "/clip", fs::copy_options::recursive);
  fs::copy(from + "/clip_text_features", to + "/clip_text", fs::copy_options::recursive);
  auto r = sfvu_cli(predict(from, dir_ + "/a.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = sfvu_cli(predict(dir_ + "/lighthouse", dir_ + "/b.jsonl"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(test::read_text_file(dir_ + "/b.jsonl"), test::read_text_file(dir_ + "/a.jsonl"));
}

TEST_F(CliPredictFeatures, ABadVideoFailsByNameAndTheBatchGoesOn) {
  const std::string features = dir_ + "/features", out = dir_ + "/pred.jsonl";
  fs::copy(root_ + "/data/features", features, fs::copy_options::recursive);
  fs::remove(features + "/clip_features/fvid_1.npz");                  // no file for a source
  fs::remove(features + "/clip_text_features/qid202.npz");             // no file for a query
  std::vector<float> rows(20 * 10, 0.1f);
  test::write_rows_npz(features + "/slowfast_features/fvid_3.npz", "features", rows, 20, 10);  // wrong width
  auto r = sfvu_cli(predict(features, out));
  EXPECT_EQ(r.exit_code, 3) << r.err;
  const auto pred = lines(test::read_text_file(out));
  ASSERT_EQ(pred.size(), 2u);
  EXPECT_EQ(pred[0]["vid"], "fvid_0");
  EXPECT_EQ(pred[1]["vid"], "fvid_0");
  const auto errors = lines(test::read_text_file(out + ".errors.jsonl"));
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0]["vid"], "fvid_1");
  EXPECT_EQ(errors[0]["qids"], json({101, 201}));
  EXPECT_NE(errors[0]["error"].get<std::string>().find("clip_features/fvid_1.npz: missing"), std::string::npos) << errors[0];
  EXPECT_NE(errors[1]["error"].get<std::string>().find("clip_text_features/qid202.npz: missing"), std::string::npos)
      << errors[1];
  EXPECT_NE(errors[2]["error"].get<std::string>().find("slowfast_features/fvid_3.npz: 'features' rows are 10 wide; "
                                                       "the model reads 24"),
            std::string::npos)
      << errors[2];
}

TEST_F(CliPredictFeatures, OptionsAFeatureModelCannotTakeExit2) {
  auto r = sfvu_cli(predict(root_ + "/data/features", dir_ + "/qa.jsonl", "qa"));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--task grounding only"), std::string::npos) << r.err;
  std::string cmd = predict(root_ + "/data/features", dir_ + "/v.jsonl");
  cmd.replace(cmd.find("--features"), std::string("--features").size(), "--videos");
  r = sfvu_cli(cmd);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("give --features FEATURE_DIR"), std::string::npos) << r.err;
  fs::create_directories(dir_ + "/empty");
  r = sfvu_cli(predict(dir_ + "/empty", dir_ + "/e.jsonl"));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(dir_ + "/empty: no query feature folder"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sfvu
