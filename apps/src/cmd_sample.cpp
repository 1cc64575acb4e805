#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "sample_options.h"
#include "sfvu/base/error.h"

namespace sfvu::cli {

DualRateResult run_dual_rate(const std::string& input, const DualRateOptions& o, const std::string& out_dir,
                             const decode::DecoderOptions& dec, bool show_progress,
                             std::array<decode::FrameBatch, 2>* keep) {
  decode::StreamRequest slow{decode::SamplingPlan::at_fps(o.slow_fps).range(o.from_seconds, o.to_seconds),
                             decode::FrameFormat::square(o.slow_size, o.resize)};
  decode::StreamRequest fast{decode::SamplingPlan::at_fps(o.fast_fps).range(o.from_seconds, o.to_seconds),
                             decode::FrameFormat::square(o.fast_size, o.resize)};
  decode::VideoReader reader(decode::Source::path(input), dec);
  StopOnSignal stop_on_signal(reader);
  make_dir(out_dir);
  FrameWriter slow_out(out_dir, "slow.npy", FrameWriter::Format::kNpy, o.slow_size, o.slow_size);
  FrameWriter fast_out(out_dir, "fast.npy", FrameWriter::Format::kNpy, o.fast_size, o.fast_size);
  ProgressReporter reporter("sample " + input, show_progress);
  DualRateResult r;
  r.stats = reader.decode(
      {slow, fast},
      [&](decode::FrameChunk&& c) {
        (c.stream == 0 ? slow_out : fast_out).add(c);
        if (keep) (*keep)[static_cast<size_t>(c.stream)].append(c);
      },
      reporter.callback());
  slow_out.close();
  fast_out.close();
  r.info = reader.info();
  r.report = json{{"slow", {{"fps", o.slow_fps}, {"size", o.slow_size}, {"frames", slow_out.frames()}}},
                  {"fast", {{"fps", o.fast_fps}, {"size", o.fast_size}, {"frames", fast_out.frames()}}},
                  {"resize", decode::to_string(o.resize)},
                  {"stats", to_json(r.stats)},
                  {"video", to_json(r.info)}};
  write_json_file(out_dir + "/sample.json", r.report);
  return r;
}

void add_dual_rate_options(po::options_description& desc) {
  DualRateOptions d;
  desc.add_options()
      ("slow-fps", po::value<double>()->default_value(d.slow_fps), "slow pathway frames per second")
      ("slow-size", po::value<int>()->default_value(d.slow_size), "slow frame size S (S x S)")
      ("fast-fps", po::value<double>()->default_value(d.fast_fps), "fast pathway frames per second")
      ("fast-size", po::value<int>()->default_value(d.fast_size), "fast frame size S (S x S)")
      ("resize", po::value<std::string>()->default_value(decode::to_string(d.resize)), "crop | letterbox | stretch")
      ("from", po::value<double>()->default_value(d.from_seconds), "range start, seconds")
      ("to", po::value<double>(), "range end, seconds (default: end of video)");
}

DualRateOptions dual_rate_options(const po::variables_map& vm) {
  DualRateOptions o;
  o.slow_fps = vm["slow-fps"].as<double>();
  o.slow_size = vm["slow-size"].as<int>();
  o.fast_fps = vm["fast-fps"].as<double>();
  o.fast_size = vm["fast-size"].as<int>();
  o.resize = decode::parse_resize_mode(vm["resize"].as<std::string>());
  o.from_seconds = vm["from"].as<double>();
  if (vm.count("to")) o.to_seconds = vm["to"].as<double>();
  for (int s : {o.slow_size, o.fast_size})
    if (s <= 0 || s > 16384) throw UsageError("sample: sizes must be between 1 and 16384, got " + std::to_string(s));
  return o;
}

int cmd_sample(const Args& args) {
  po::options_description desc("sample options");
  desc.add_options()("input", po::value<std::string>()->required(), "input file, URL or device")
      ("out", po::value<std::string>()->required(), "output directory")("quiet,q", "no progress on stderr");
  add_dual_rate_options(desc);
  add_decoder_options(desc);
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  if (!parse_args("sample", "FILE --slow-fps F --slow-size S --fast-fps F --fast-size S [--from S --to S] --out DIR",
                  args, desc, pos, vm))
    return 0;
  const std::string out_dir = vm["out"].as<std::string>();
  DualRateResult r = run_dual_rate(vm["input"].as<std::string>(), dual_rate_options(vm), out_dir, decoder_options(vm),
                                   !vm.count("quiet"));
  std::cerr << "sfvu: wrote " << r.report["slow"]["frames"].size() << " slow + " << r.report["fast"]["frames"].size()
            << " fast frames to " << out_dir << "\n";
  return 0;
}

}  // namespace sfvu::cli
