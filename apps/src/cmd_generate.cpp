// placeholder (issue 9)
#include "commands.h"
#include "sfvu/base/error.h"
namespace sfvu::cli {
int cmd_generate(const Args&) { throw UsageError("generate: not built yet"); }
}  // namespace sfvu::cli
