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
int cmd_bench(const Args& args);  ///< dispatches to bench_decode / bench_clip
int bench_decode(const Args& args);
int bench_clip(const Args& args);
int bench_pathways(const Args& args);
int bench_ablation(const Args& args);
int bench_alignment(const Args& args);
int cmd_ground(const Args& args);
int cmd_qa(const Args& args);
int cmd_synth(const Args& args);
int cmd_train(const Args& args);
int cmd_predict(const Args& args);
int cmd_encode(const Args& args);
int cmd_stream(const Args& args);
int cmd_report(const Args& args);
int cmd_generate(const Args& args);
int cmd_ask(const Args& args);
int bench_llm(const Args& args);
int predict_qa_llm(const Args& args);  ///< predict --task qa with a LLaVA-family model
int cmd_tokenize(const Args& args);
int cmd_embed(const Args& args);
int cmd_extract(const Args& args);
int cmd_eval(const Args& args);  ///< dispatches to eval_qvhighlights / eval_charades_sta / eval_mcqa
int eval_qvhighlights(const Args& args);
int eval_charades_sta(const Args& args);
int eval_mcqa(const Args& args);

}  // namespace sfvu::cli
