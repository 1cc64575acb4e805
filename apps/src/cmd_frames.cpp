#include <algorithm>
#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "sfvu/base/error.h"

namespace sfvu::cli {
namespace {

decode::SamplingPlan plan_from(const po::variables_map& vm) {
  int modes = int(vm.count("all")) + int(vm.count("fps")) + int(vm.count("num")) + int(vm.count("at"));
  if (modes != 1) throw UsageError("frames: give exactly one of --all, --fps, --num, --at");
  decode::SamplingPlan plan;
  if (vm.count("fps")) plan = decode::SamplingPlan::at_fps(vm["fps"].as<double>());
  if (vm.count("num")) plan = decode::SamplingPlan::uniform(vm["num"].as<int64_t>());
  if (vm.count("at")) plan = decode::SamplingPlan::at(parse_number_list(vm["at"].as<std::string>(), "--at"));
  plan.from_seconds = vm["from"].as<double>();
  if (vm.count("to")) plan.to_seconds = vm["to"].as<double>();
  plan.validate();
  return plan;
}

decode::FrameFormat format_from(const po::variables_map& vm) {
  decode::FrameFormat f;
  bool size = vm.count("size"), w = vm.count("width"), h = vm.count("height");
  if (size && (w || h)) throw UsageError("frames: --size conflicts with --width/--height");
  if (w != h) throw UsageError("frames: --width and --height go together");
  if (size) f.width = f.height = vm["size"].as<int>();
  if (w) {
    f.width = vm["width"].as<int>();
    f.height = vm["height"].as<int>();
  }
  if ((size || w) && (f.width <= 0 || f.height <= 0 || f.width > 16384 || f.height > 16384))
    throw UsageError("frames: output size must be between 1 and 16384");
  f.resize = decode::parse_resize_mode(vm["resize"].as<std::string>());
  f.filter = decode::parse_scale_filter(vm["filter"].as<std::string>());
  return f;
}

}  // namespace

int cmd_frames(const Args& args) {
  decode::SamplingPlan plan_defaults;
  decode::FrameFormat format_defaults;
  po::options_description desc("frames options");
  desc.add_options()
      ("input", po::value<std::string>()->required(), "input file, URL or device")
      ("all", "every frame in the range")
      ("fps", po::value<double>(), "frames at this rate (the frame displayed at each time)")
      ("num", po::value<int64_t>(), "N frames at the midpoints of N equal segments")
      ("at", po::value<std::string>(), "explicit times in seconds: T1,T2,...")
      ("from", po::value<double>()->default_value(plan_defaults.from_seconds), "range start, seconds")
      ("to", po::value<double>(), "range end, seconds (default: end of video)")
      ("size", po::value<int>(), "output S x S")
      ("width", po::value<int>(), "output width (with --height)")
      ("height", po::value<int>(), "output height (with --width)")
      ("resize", po::value<std::string>()->default_value(decode::to_string(format_defaults.resize)),
       "crop | letterbox | stretch")
      ("filter", po::value<std::string>()->default_value(decode::to_string(format_defaults.filter)),
       "bicubic | bilinear | area | lanczos")
      ("keyframes-only", "decode keyframes only (fast, coarse)")
      ("out", po::value<std::string>()->required(), "output directory")
      ("format", po::value<std::string>()->default_value("png"), "png | npy")
      ("quiet,q", "no progress on stderr");
  add_decoder_options(desc);
  po::positional_options_description pos;
  pos.add("input", 1);
  po::variables_map vm;
  if (!parse_args("frames", "FILE (--all | --fps F | --num N | --at T1,T2,...) --out DIR [options]", args, desc,
                  pos, vm))
    return 0;
  const std::string input = vm["input"].as<std::string>();
  const std::string out_dir = vm["out"].as<std::string>();
  const std::string fmt = vm["format"].as<std::string>();
  if (fmt != "png" && fmt != "npy") throw UsageError("frames: --format must be png or npy, got '" + fmt + "'");
  decode::StreamRequest request{plan_from(vm), format_from(vm)};
  decode::DecoderOptions options = decoder_options(vm);
  options.keyframes_only = vm.count("keyframes-only") > 0;

  decode::VideoReader reader(decode::Source::path(input), options);
  StopOnSignal stop_on_signal(reader);
  make_dir(out_dir);
  const auto& v = reader.info().video;
  FrameWriter writer(out_dir, "frames.npy", fmt == "npy" ? FrameWriter::Format::kNpy : FrameWriter::Format::kPng,
                     request.format.out_width(v.width), request.format.out_height(v.height));
  ProgressReporter reporter("frames " + input, !vm.count("quiet"));
  decode::DecodeStats stats;
  const auto& ts = request.plan.timestamps;
  if (request.plan.mode == decode::SampleMode::kTimestamps && !std::is_sorted(ts.begin(), ts.end())) {
    // Out-of-order times: frames must be written in request order, so collect first.
    decode::ReadResult r = reader.read({request}, reporter.callback());
    writer.add(r.streams[0]);
    stats = r.stats;
  } else {
    stats = reader.decode({request}, [&](decode::FrameChunk&& c) { writer.add(c); }, reporter.callback());
  }
  writer.close();
  json report{{"frames", writer.frames()},
              {"stats", to_json(stats)},
              {"width", request.format.out_width(v.width)},
              {"height", request.format.out_height(v.height)},
              {"plan", request.plan.describe()},
              {"video", to_json(reader.info())}};
  write_json_file(out_dir + "/frames.json", report);
  std::cerr << "sfvu: " << (StopOnSignal::fired() ? "stopped by signal; " : "") << "wrote " << writer.count()
            << " frames to " << out_dir << "\n";
  return 0;
}

}  // namespace sfvu::cli
