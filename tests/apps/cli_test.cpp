// The CLI contract of issue #2 (exact names, flags and JSON keys), run on the built binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sfvu/base/npy.h"
#include "support/test_support.h"

namespace sfvu {
namespace {

using nlohmann::json;
using test::shell_quote;

test::CommandResult sfvu_cli(const std::string& args) {
  return test::run_command(shell_quote(test::cli_path()) + " " + args);
}

void expect_error(const test::CommandResult& r, int code, const std::string& mentions) {
  EXPECT_EQ(r.exit_code, code) << r.err;
  EXPECT_EQ(r.signal, 0);
  EXPECT_EQ(r.err.rfind("sfvu: error:", 0) == 0 || r.err.find("\nsfvu: error:") != std::string::npos, true) << r.err;
  EXPECT_NE(r.err.find(mentions), std::string::npos) << r.err;
}

TEST(Cli, ProbePrintsTheContractKeys) {
  auto r = sfvu_cli("probe " + shell_quote(test::video("nasa_13013_rotated.mp4")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out);
  for (const char* k : {"path", "format", "duration_seconds", "start_seconds", "has_audio", "video"})
    EXPECT_TRUE(j.contains(k)) << k;
  for (const char* k : {"codec", "width", "height", "coded_width", "coded_height", "rotation_degrees", "pix_fmt", "fps",
                        "n_frames", "n_frames_exact"})
    EXPECT_TRUE(j["video"].contains(k)) << k;
  EXPECT_EQ(j["video"]["width"], 270);
  EXPECT_EQ(j["video"]["height"], 480);
  EXPECT_EQ(j["video"]["coded_width"], 480);
  EXPECT_EQ(j["video"]["rotation_degrees"], 90);
  EXPECT_EQ(j["video"]["n_frames"], 17);
  EXPECT_EQ(j["video"]["n_frames_exact"], true);
  EXPECT_EQ(j["has_audio"], false);
}

TEST(Cli, ProbeManyInputsKeepsGoingAndReportsFailures) {
  auto r = sfvu_cli("probe " + shell_quote(test::video("bikes.mp4")) + " /no/such/file.mp4 " +
                    shell_quote(test::video("nasa_13013.mp4.audio.mp3")) + " " + shell_quote(test::video("h265_video.mp4")));
  EXPECT_EQ(r.exit_code, 1);
  std::istringstream lines(r.out);
  std::string line;
  std::vector<json> objs;
  while (std::getline(lines, line)) objs.push_back(json::parse(line));
  ASSERT_EQ(objs.size(), 2u) << r.out;
  EXPECT_EQ(objs[1]["video"]["codec"], "hevc");
  EXPECT_NE(r.err.find("/no/such/file.mp4"), std::string::npos);
  EXPECT_NE(r.err.find("no video stream"), std::string::npos);
}

TEST(Cli, ProbeErrors) {
  expect_error(sfvu_cli("probe /no/such/file.mp4"), 1, "/no/such/file.mp4");
  expect_error(sfvu_cli("probe " + shell_quote(test::video("nasa_13013.mp4.audio.mp3"))), 1, "nasa_13013.mp4.audio.mp3");
  std::string dir = test::scratch_dir("cli_probe_errors");
  std::ofstream(dir + "/garbage.mp4") << std::string(5000, 'x');
  expect_error(sfvu_cli("probe " + dir + "/garbage.mp4"), 1, "garbage.mp4");
  std::ofstream(dir + "/empty.mp4").close();
  expect_error(sfvu_cli("probe " + dir + "/empty.mp4"), 1, "empty.mp4");
}

TEST(Cli, FramesNpyAndJson) {
  std::string dir = test::scratch_dir("cli_frames_npy");
  auto r = sfvu_cli("frames " + shell_quote(test::video("bikes.mp4")) +
                    " --fps 2 --from 1 --to 4 --size 64 --resize letterbox --format npy --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(test::read_text_file(dir + "/frames.json"));
  ASSERT_EQ(j["frames"].size(), 6u);  // 1.0, 1.5, ... 3.5
  EXPECT_EQ(j["frames"][0]["index"], 25);
  EXPECT_DOUBLE_EQ(j["frames"][0]["pts_seconds"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(j["frames"][5]["pts_seconds"].get<double>(), 3.48);  // 25 fps: the frame shown at 3.5 s
  for (const char* k : {"packets_read", "frames_decoded", "frames_converted", "seeks", "errors"})
    EXPECT_TRUE(j["stats"].contains(k)) << k;
  NpyArray a = read_npy(dir + "/frames.npy");
  EXPECT_EQ(a.dtype, NpyDtype::kUint8);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{6, 64, 64, 3}));
  // Letterbox of 640x272 into 64x64: black bars top and bottom.
  EXPECT_EQ(a.data[0], 0);
  EXPECT_EQ(a.data[(63 * 64 + 63) * 3], 0);
}

TEST(Cli, FramesPngKeepDisplayedSizeWithoutSizeOption) {
  std::string dir = test::scratch_dir("cli_frames_png");
  auto r = sfvu_cli("frames " + shell_quote(test::video("nasa_13013_rotated.mp4")) + " --at 0.3,0.1 --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(test::read_text_file(dir + "/frames.json"));
  ASSERT_EQ(j["frames"].size(), 2u);
  EXPECT_GT(j["frames"][0]["pts_seconds"].get<double>(), j["frames"][1]["pts_seconds"].get<double>())
      << "output keeps request order";
  EXPECT_TRUE(std::filesystem::exists(dir + "/000000.png"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/000001.png"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/000002.png"));
  EXPECT_EQ(j["width"], 270);
  EXPECT_EQ(j["height"], 480);
  auto png = test::read_binary_file(dir + "/000000.png");
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png[1], 'P');
  // PNG IHDR: width and height big-endian at bytes 16 and 20.
  EXPECT_EQ((png[18] << 8) | png[19], 270);
  EXPECT_EQ((png[22] << 8) | png[23], 480);
}

TEST(Cli, FramesUsageErrorsExit2) {
  std::string v = shell_quote(test::video("bikes.mp4"));
  expect_error(sfvu_cli("frames " + v + " --out /tmp/x"), 2, "exactly one of");
  expect_error(sfvu_cli("frames " + v + " --all --fps 2 --out /tmp/x"), 2, "exactly one of");
  expect_error(sfvu_cli("frames " + v + " --all --resize squash --out /tmp/x"), 2, "squash");
  expect_error(sfvu_cli("frames " + v + " --all --size 0 --out /tmp/x"), 2, "size");
  expect_error(sfvu_cli("frames " + v + " --at 1,abc --out /tmp/x"), 2, "abc");
  expect_error(sfvu_cli("frames " + v + " --all --bogus --out /tmp/x"), 2, "bogus");
  expect_error(sfvu_cli("frames " + v + " --fps -1 --out /tmp/x"), 2, "fps");
  expect_error(sfvu_cli("nonsense"), 2, "nonsense");
}

TEST(Cli, FramesMissingInputExit1) {
  expect_error(sfvu_cli("frames /no/such.mp4 --all --out " + test::scratch_dir("cli_missing")), 1, "/no/such.mp4");
}

TEST(Cli, SampleWritesBothStreams) {
  std::string dir = test::scratch_dir("cli_sample");
  auto r = sfvu_cli("sample " + shell_quote(test::video("bikes.mp4")) +
                    " --slow-fps 1 --slow-size 96 --fast-fps 4 --fast-size 32 --from 2 --to 6 --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read_npy(dir + "/slow.npy").shape, (std::vector<int64_t>{4, 96, 96, 3}));
  EXPECT_EQ(read_npy(dir + "/fast.npy").shape, (std::vector<int64_t>{16, 32, 32, 3}));
  json j = json::parse(test::read_text_file(dir + "/sample.json"));
  EXPECT_EQ(j["slow"]["frames"].size(), 4u);
  EXPECT_EQ(j["fast"]["frames"].size(), 16u);
  EXPECT_DOUBLE_EQ(j["fast"]["frames"][1]["pts_seconds"].get<double>(), 2.24);  // frame shown at 2.25 s
  // One pass: no frame decoded twice even though both streams need frames from [2, 6).
  EXPECT_LE(j["stats"]["frames_decoded"].get<int>(), 250);
}

TEST(Cli, DemoWritesContactSheet) {
  std::string dir = test::scratch_dir("cli_demo");
  auto r = sfvu_cli("demo -q --out " + dir);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("contact sheet"), std::string::npos);
  auto png = test::read_binary_file(dir + "/contact_sheet.png");
  ASSERT_GT(png.size(), 10000u);
  EXPECT_EQ(png[1], 'P');
  EXPECT_EQ(read_npy(dir + "/slow.npy").shape[0], 10);
  EXPECT_EQ(read_npy(dir + "/fast.npy").shape[0], 80);
}

TEST(Cli, HelpShowsLiveDefaults) {
  auto r = sfvu_cli("sample --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--slow-size arg (=224)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--fast-fps arg (=8)"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace sfvu

namespace sfvu {
namespace {

// Ctrl-C on a live capture ends it like an end of stream: outputs are complete and valid.
TEST(Cli, InterruptFinalisesLiveCapture) {
  std::string dir = test::scratch_dir("cli_sigint");
  // A real-time source (the realtime filter), capped by --to so the test can never run away.
  // The signal is sent once frames.npy exists: by then the handler is installed (before it,
  // a background job of a non-interactive shell would even have SIGINT ignored).
  auto r = test::run_command(shell_quote(test::cli_path()) +
                             " frames 'lavfi:testsrc2=size=64x48:rate=25,realtime' --fps 5 --to 30 --format npy -q"
                             " --out " + dir + " & pid=$!; i=0; while [ ! -f " + dir + "/frames.npy ] && [ $i -lt 300 ];"
                             " do sleep 0.1; i=$((i+1)); done; sleep 1; kill -INT $pid; wait $pid");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("stopped by signal"), std::string::npos) << r.err;
  json j = json::parse(test::read_text_file(dir + "/frames.json"));
  NpyArray a = read_npy(dir + "/frames.npy");
  ASSERT_GT(a.shape[0], 0);
  EXPECT_EQ(size_t(a.shape[0]), j["frames"].size());
  EXPECT_EQ(a.shape[1], 48);
  EXPECT_DOUBLE_EQ(j["frames"][1]["pts_seconds"].get<double>(), 0.2);
}

}  // namespace
}  // namespace sfvu
