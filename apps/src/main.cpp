// sfvu: SlowFast Video Understanding command line.
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "sfvu/base/error.h"
#include "sfvu/base/log.h"
#include "sfvu/pathways/torch_runtime.h"

namespace {

constexpr const char* kUsage = R"(usage: sfvu COMMAND [options]   (sfvu COMMAND --help for its options)

commands:
  probe FILE...        container, duration, and video stream facts as JSON
  frames FILE ...      sample frames (all, fps, N uniform, timestamps) to PNG or .npy
  sample FILE ...      dual-rate slow + fast sampling in one decode pass (.npy + JSON)
  demo                 the bundled default: probe + dual-rate sample + contact sheet PNG
  tokenize --model DIR TEXT...   CLIP token ids, one JSON array per text
  embed --model DIR ...          CLIP embeddings of images, pixels or texts (.npy)
  extract --model DIR VIDEO...   per-clip CLIP features (.npz), and query features
  encode --model DIR VIDEO... --out DIR   pre-extract each video's Slow/Fast tokens (for predict --features)
  ground --model DIR --query Q VIDEO...   when things happen: moments + per-clip saliency (JSON lines)
  qa --model DIR --question Q --options "A|B|C" VIDEO...   multiple-choice answers with probabilities
  eval qvhighlights|charades-sta|mcqa --gt FILE --pred FILE   benchmark metrics as JSON
  synth --out DIR --videos N --seed S   the synthetic grounding/QA benchmark (videos + annotations)
  train --data DIR --out MODEL_DIR      train the learned fusion + heads (best validation checkpoint)
  predict --task grounding|qa --model DIR --annotations FILE (--videos DIR | --features DIR) --out PRED.jsonl
                       a model over a benchmark split: QVHighlights submission / QA answers
  stream --model DIR --input SRC --query Q   live grounding on a camera/network stream (JSON lines)
  report PRED.jsonl --out report.html        one HTML page: plots and moments of a batch
  ask --model LLM_DIR --question Q VIDEO...  open-ended answers from a LLaVA-family video LLM
  generate --model LLM_DIR --input-ids IDS.npy --out DIR   low-level LLM generation (parity checks)
  bench decode FILE... decoder speed against the ffmpeg CLI and OpenCV
  bench clip           CLIP throughput (fp32, bf16) against this machine's GEMM rate
  bench pathways       Slow/Fast pathways: FLOPs, time, low-res vs full-res fast tokens, peak memory
  bench ablation       synthetic benchmark: slow-only vs fast-only vs slow+fast, per query kind
  bench alignment      what a trained model's backbone finds per query kind (slow vs fast frames)
  bench llm            LLM prefill/decode speed against this machine's GEMM rate and memory bandwidth
)";

}  // namespace

// Note [OpenMP wait policy]
// libtorch runs its element-wise ops on OpenMP threads, while Debian's OpenBLAS (the pthread
// build) runs GEMM/GEMV on threads of its own. With libgomp's default policy the OpenMP
// threads spin for a while after every parallel region, so on a small machine they take the
// cores OpenBLAS's threads need next: measured on 2 cores, an LLM decode step ran at 0.26x of
// the memory-bandwidth bound and fp32 CLIP at 0.44x of the GEMM rate; with OMP_WAIT_POLICY=
// PASSIVE, 0.91x and 1.7x. libgomp reads the variable once, when it is loaded (before main), so
// sfvu re-executes itself with it set unless the user chose a policy (bf16-heavy runs, which go
// through oneDNN's OpenMP kernels, may prefer OMP_WAIT_POLICY=ACTIVE).
void set_openmp_wait_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: go on with the default policy
}

int main(int argc, char** argv) {
  set_openmp_wait_policy(argv);
  std::signal(SIGPIPE, SIG_IGN);  // a closed stdout becomes a write error, not a signal
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string command = args[0];
  args.erase(args.begin());
  try {
    sfvu::pathways::configure_torch_runtime();
    if (command == "probe") return sfvu::cli::cmd_probe(args);
    if (command == "frames") return sfvu::cli::cmd_frames(args);
    if (command == "sample") return sfvu::cli::cmd_sample(args);
    if (command == "demo") return sfvu::cli::cmd_demo(args);
    if (command == "bench") return sfvu::cli::cmd_bench(args);
    if (command == "tokenize") return sfvu::cli::cmd_tokenize(args);
    if (command == "embed") return sfvu::cli::cmd_embed(args);
    if (command == "extract") return sfvu::cli::cmd_extract(args);
    if (command == "ground") return sfvu::cli::cmd_ground(args);
    if (command == "qa") return sfvu::cli::cmd_qa(args);
    if (command == "eval") return sfvu::cli::cmd_eval(args);
    if (command == "synth") return sfvu::cli::cmd_synth(args);
    if (command == "train") return sfvu::cli::cmd_train(args);
    if (command == "predict") return sfvu::cli::cmd_predict(args);
    if (command == "encode") return sfvu::cli::cmd_encode(args);
    if (command == "stream") return sfvu::cli::cmd_stream(args);
    if (command == "report") return sfvu::cli::cmd_report(args);
    if (command == "generate") return sfvu::cli::cmd_generate(args);
    if (command == "ask") return sfvu::cli::cmd_ask(args);
    std::cerr << "sfvu: error: unknown command '" << command << "'\n" << kUsage;
    return 2;
  } catch (const sfvu::UsageError& e) {
    std::cerr << "sfvu: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "sfvu: error: " << e.what() << "\n";
    return 1;
  } catch (...) {
    std::cerr << "sfvu: error: unknown failure\n";
    return 1;
  }
}
