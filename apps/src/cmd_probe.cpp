#include <iostream>

#include "cli_common.h"
#include "commands.h"
#include "sfvu/base/error.h"

namespace sfvu::cli {

// sfvu probe FILE...: one JSON object (pretty) for one input; one JSON line per input for
// several. A failing input is reported on stderr and the others still run; exit 1 if any failed.
int cmd_probe(const Args& args) {
  po::options_description desc("probe options");
  desc.add_options()("input", po::value<std::vector<std::string>>()->required(), "input file(s), URL(s) or device(s)")
      ("compact", "one JSON line per input even for a single input");
  add_decoder_options(desc);
  po::positional_options_description pos;
  pos.add("input", -1);
  po::variables_map vm;
  if (!parse_args("probe", "FILE... [options]", args, desc, pos, vm)) return 0;
  const auto inputs = vm["input"].as<std::vector<std::string>>();
  const bool compact = vm.count("compact") || inputs.size() > 1;
  int failures = 0;
  for (const std::string& path : inputs) {
    try {
      decode::MediaInfo info = decode::probe(decode::Source::path(path), decoder_options(vm));
      std::cout << (compact ? to_json(info).dump() : to_json(info).dump(2)) << std::endl;
    } catch (const UsageError&) {
      throw;
    } catch (const std::exception& e) {
      std::cerr << "sfvu: error: " << e.what() << "\n";
      ++failures;
    }
  }
  if (failures && inputs.size() > 1)
    std::cerr << "sfvu: " << failures << " of " << inputs.size() << " inputs failed\n";
  return failures ? 1 : 0;
}

}  // namespace sfvu::cli
