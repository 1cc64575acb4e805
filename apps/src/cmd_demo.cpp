#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli_common.h"
#include "commands.h"
#include "contact_sheet.h"
#include "sample_options.h"

namespace sfvu::cli {

// The bundled default job (`make demo`): probe the sample video, sample it into slow and
// fast streams in one pass, and draw both on a contact sheet.
int cmd_demo(const Args& args) {
  po::options_description desc("demo options");
  desc.add_options()("input", po::value<std::string>()->default_value(SFVU_SAMPLE_VIDEO), "input video")
      ("out", po::value<std::string>()->default_value("build/demo"), "output directory")
      ("quiet,q", "no progress on stderr");
  add_dual_rate_options(desc);
  add_decoder_options(desc);
  po::positional_options_description pos;
  po::variables_map vm;
  if (!parse_args("demo", "[--input FILE] [--out DIR] [sampling options]", args, desc, pos, vm)) return 0;
  const std::string input = vm["input"].as<std::string>();
  const std::string out_dir = vm["out"].as<std::string>();
  DualRateOptions o = dual_rate_options(vm);

  std::array<decode::FrameBatch, 2> frames;  // slow, fast: drawn straight from the decode pass
  DualRateResult r = run_dual_rate(input, o, out_dir, decoder_options(vm), !vm.count("quiet"), &frames);
  const decode::FrameBatch& slow = frames[0];
  const decode::FrameBatch& fast = frames[1];
  std::cout << "probe:\n" << to_json(r.info).dump(2) << "\n";

  const auto& v = r.info.video;
  std::ostringstream line1, line2, line3;
  line1 << "sfvu demo: " << input;
  line2 << v.codec << " " << v.width << "x" << v.height << ", " << std::fixed << std::setprecision(2) << v.fps
        << " fps, " << r.info.duration_seconds << " s, " << v.n_frames << " frames";
  line3 << "one decode pass: " << r.stats.frames_decoded << " frames decoded, " << r.stats.frames_converted
        << " converted, " << r.stats.seeks << " seeks, " << r.stats.decode_errors << " errors";
  std::ostringstream slow_title, fast_title;
  slow_title << "slow pathway: " << o.slow_fps << " fps, " << o.slow_size << "x" << o.slow_size << " ("
             << slow.size() << " frames)";
  fast_title << "fast pathway: " << o.fast_fps << " fps, " << o.fast_size << "x" << o.fast_size << " ("
             << fast.size() << " frames)";
  const std::string sheet = out_dir + "/contact_sheet.png";
  write_contact_sheet(sheet, {line1.str(), line2.str(), line3.str()},
                      {{slow_title.str(), &slow}, {fast_title.str(), &fast}});
  std::cout << "slow: " << slow.size() << " frames " << o.slow_size << "x" << o.slow_size << " -> " << out_dir
            << "/slow.npy\n"
            << "fast: " << fast.size() << " frames " << o.fast_size << "x" << o.fast_size << " -> " << out_dir
            << "/fast.npy\n"
            << "timestamps and stats -> " << out_dir << "/sample.json\n"
            << "contact sheet -> " << sheet << "\n";
  return 0;
}

}  // namespace sfvu::cli
