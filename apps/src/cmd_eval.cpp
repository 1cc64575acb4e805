// sfvu eval (qvhighlights | charades-sta | mcqa): metrics with official-evaluator parity.
#include "cli_common.h"
#include "commands.h"
#include "sfvu/base/error.h"

namespace sfvu::cli {

int cmd_eval(const Args& args) {
  if (args.empty()) throw UsageError("eval: expected 'sfvu eval qvhighlights|charades-sta|mcqa ...'");
  Args rest(args.begin() + 1, args.end());
  if (args[0] == "qvhighlights") return eval_qvhighlights(rest);
  if (args[0] == "charades-sta") return eval_charades_sta(rest);
  if (args[0] == "mcqa") return eval_mcqa(rest);
  throw UsageError("eval: unknown benchmark '" + args[0] + "' (qvhighlights, charades-sta, mcqa)");
}

}  // namespace sfvu::cli
