// placeholder (issue 9)
#include "commands.h"
#include "sfvu/base/error.h"
namespace sfvu::cli {
int cmd_ask(const Args&) { throw UsageError("ask: not built yet"); }
}  // namespace sfvu::cli
