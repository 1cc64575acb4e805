// The sfvu subcommands. Each takes the arguments after its name and returns the exit code;
// failures throw (main maps UsageError to 2, other errors to 1).
#pragma once

#include <string>
#include <vector>

namespace sfvu::cli {

using Args = std::vector<std::string>;

int cmd_probe(const Args& args);
int cmd_frames(const Args& args);
int cmd_sample(const Args& args);
int cmd_demo(const Args& args);
int cmd_bench(const Args& args);

}  // namespace sfvu::cli
