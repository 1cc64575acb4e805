// placeholder (issue 9)
#include "commands.h"
#include "sfvu/base/error.h"
namespace sfvu::cli {
int bench_llm(const Args&) { throw UsageError("bench llm: not built yet"); }
}  // namespace sfvu::cli
