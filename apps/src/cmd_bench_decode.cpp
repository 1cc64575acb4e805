// sfvu bench decode FILE...: our decoder against the ffmpeg CLI (full decode to null, no
// conversion) and OpenCV VideoCapture, on the same files, in one run. Prints ratios.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <opencv2/videoio.hpp>

#include "bench_timing.h"
#include "cli_common.h"
#include "commands.h"
#include "sfvu/base/error.h"

namespace sfvu::cli {
namespace {


std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct OurRun {
  double seconds = 0;
  decode::DecodeStats stats;
  int64_t frames = 0;
};

OurRun run_ours(const std::string& path, const std::vector<decode::StreamRequest>& requests, int threads,
                int repeat) {
  OurRun r;
  r.seconds = best_seconds(repeat, [&] {
    decode::DecoderOptions o;
    o.threads = threads;
    decode::VideoReader reader(decode::Source::path(path), o);
    int64_t n = 0;
    r.stats = reader.decode(requests, [&](decode::FrameChunk&& c) { n += c.size(); });
    r.frames = n;
  });
  return r;
}

void row(const std::string& name, double seconds, const std::string& extra) {
  std::cout << "  " << std::left << std::setw(44) << name << std::right << std::fixed << std::setprecision(3)
            << std::setw(8) << seconds << " s  " << extra << "\n";
}

std::string ratio(double ours, double peer, const std::string& what, const std::string& target = "") {
  std::ostringstream s;
  s << std::fixed << std::setprecision(3) << ours / peer << "x " << what;
  if (!target.empty()) s << "  (target " << target << ")";
  return s.str();
}

}  // namespace

int bench_decode(const Args& rest) {
  po::options_description desc("bench decode options");
  desc.add_options()("input", po::value<std::vector<std::string>>()->required(), "video files")
      ("threads", po::value<int>()->default_value(2), "decoder threads for us, ffmpeg and OpenCV")
      ("repeat", po::value<int>()->default_value(1), "runs per measurement (best is kept)")
      ("skip-opencv", "skip the OpenCV VideoCapture run");
  po::positional_options_description pos;
  pos.add("input", -1);
  po::variables_map vm;
  if (!parse_args("bench decode", "FILE... [options]", rest, desc, pos, vm)) return 0;
  const int threads = vm["threads"].as<int>();
  const int repeat = std::max(1, vm["repeat"].as<int>());

  for (const std::string& path : vm["input"].as<std::vector<std::string>>()) {
    decode::MediaInfo info = decode::probe(decode::Source::path(path));
    std::cout << path << ": " << info.video.codec << " " << info.video.width << "x" << info.video.height << ", "
              << info.video.n_frames << " frames, " << std::fixed << std::setprecision(1) << info.duration_seconds
              << " s, " << threads << " threads\n";

    const std::string cmd = "ffmpeg -nostdin -v error -threads " + std::to_string(threads) + " -i " + quote(path) +
                            " -map 0:v:0 -f null - 2>&1";
    int ffmpeg_rc = 0;
    double t_ffmpeg = best_seconds(repeat, [&] { ffmpeg_rc = std::system(cmd.c_str()); });
    if (ffmpeg_rc != 0) throw Error(path + ": the ffmpeg CLI failed (is it installed?): " + cmd);
    row("ffmpeg -f null (decode only, peer)", t_ffmpeg, std::to_string(info.video.n_frames) + " frames");

    using decode::FrameFormat;
    using decode::SamplingPlan;
    OurRun all = run_ours(path, {{SamplingPlan::all(), FrameFormat::native()}}, threads, repeat);
    row("sfvu all frames, native RGB24", all.seconds,
        ratio(all.seconds, t_ffmpeg, "ffmpeg") + ", " + std::to_string(all.frames) + " frames");

    if (!vm.count("skip-opencv")) {
      int64_t n_cv = 0;
      double t_cv = best_seconds(repeat, [&] {
        // OpenCV 4.6 picks its own FFmpeg thread count (one per core, as --threads 2 here).
        cv::VideoCapture cap(path, cv::CAP_FFMPEG);
        if (!cap.isOpened()) throw Error(path + ": OpenCV VideoCapture cannot open it");
        cv::Mat frame;
        n_cv = 0;
        while (cap.read(frame)) ++n_cv;
      });
      std::ostringstream s;
      s << std::fixed << std::setprecision(2) << t_cv / all.seconds << "x slower than sfvu (target >= 1.5), " << n_cv
        << " frames";
      row("OpenCV VideoCapture all frames (peer)", t_cv, s.str());
    }

    OurRun sparse = run_ours(path, {{SamplingPlan::uniform(16), FrameFormat::native()}}, threads, repeat);
    row("sfvu 16 frames uniformly, native", sparse.seconds,
        ratio(sparse.seconds, t_ffmpeg, "ffmpeg", "<= 0.25 on long GOP files") + ", " +
            std::to_string(sparse.stats.frames_decoded) + " decoded, " + std::to_string(sparse.stats.seeks) +
            " seeks");

    OurRun dual = run_ours(path,
                           {{SamplingPlan::at_fps(1), FrameFormat::square(224)},
                            {SamplingPlan::at_fps(8), FrameFormat::square(112)}},
                           threads, repeat);
    row("sfvu dual-rate 1 fps@224 + 8 fps@112", dual.seconds,
        ratio(dual.seconds, t_ffmpeg, "ffmpeg", "<= 1.15") + ", " + std::to_string(dual.stats.frames_decoded) +
            " decoded, " + std::to_string(dual.stats.frames_converted) + " converted");
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::cout << "  peak RSS of this process so far: " << usage.ru_maxrss / 1024 << " MiB\n" << std::endl;
  }
  return 0;
}

}  // namespace sfvu::cli
