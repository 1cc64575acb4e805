// sfvu predict --task qa --model LLM_DIR --annotations FILE --videos DIR --out PRED.jsonl [--resume]
//
// Multiple-choice QA through a LLaVA-family video LLM (issue 9), written as `sfvu predict`'s qa
// lines ({"qid", "vid", "answer_index", "probabilities"}) so `sfvu eval mcqa` scores it. Two
// ways to pick the answer (--qa-scoring):
//   letter:     the options are listed as "A. ...", "B. ..." after the question with the
//               instruction LLaVA-OneVision is evaluated with; the answer is the letter whose
//               token the model rates highest at the first answer position; probabilities =
//               softmax over the letters' logits. One prefill per question.
//   likelihood: the question alone; each option's text is scored as the answer's continuation
//               (mean log-probability of its tokens); probabilities = softmax of those means.
// Each video is decoded and encoded once for all its questions; the KV cache of the prompt's
// shared beginning (system line, visual tokens) is kept between its questions, so only the
// question's own tokens are prefilled again (Note [Prefix reuse]).
#include <cmath>
#include <iostream>
#include <map>

#include "commands.h"
#include "llm_options.h"
#include "prediction_writer.h"
#include "sfvu/base/error.h"
#include "sfvu/grounding/mcqa_eval.h"
#include "video_batch.h"

namespace sfvu::cli {
namespace {

// Note [Prefix reuse]
// The model is causal: the keys and values of a prompt's first P tokens do not depend on what
// follows them. So for the next question about the same video we keep the cache up to the
// longest common prefix of the two prompts' ids (system line, <video>, the visual tokens and the
// template's text before the question) and prefill only the rest. With dynamic RoPE the result
// still equals a fresh prefill as long as the prompts stay under max_position_embeddings.
class QaScorer {
 public:
  QaScorer(fusion::LlavaModelImpl& llava, const fusion::LlmTokenizer& tokenizer, fusion::ChatTemplate chat,
           bool likelihood)
      : llava_(llava), tokenizer_(tokenizer), chat_(chat), likelihood_(likelihood) {}

  /// A new video: its visual tokens; the cache starts over.
  void set_video(torch::Tensor visual) {
    visual_ = std::move(visual);
    cached_ids_.clear();
    if (cache_) cache_->clear();
  }

  grounding::QaResult answer(const grounding::McqaQuestion& q) {
    std::vector<double> scores;
    if (!likelihood_) {
      std::string text = q.question + "\n";
      for (size_t i = 0; i < q.options.size(); ++i) text += std::string(1, char('A' + i)) + ". " + q.options[i] + "\n";
      text += "Answer with the option's letter from the given choices directly.";
      torch::Tensor logits = prefill(prompt_ids(text)).to(torch::kFloat64);
      for (size_t i = 0; i < q.options.size(); ++i) {
        const std::vector<int64_t> letter = tokenizer_.encode(std::string(1, char('A' + i)), false);
        if (letter.empty()) throw FormatError("the tokenizer has no token for the letter " + std::string(1, char('A' + i)));
        scores.push_back(logits[letter.back()].item<double>());
      }
    } else {
      const std::vector<int64_t> prompt = prompt_ids(q.question);
      for (const std::string& option : q.options) scores.push_back(mean_log_prob(prompt, tokenizer_.encode(option, false)));
    }
    torch::Tensor p = torch::softmax(torch::tensor(scores, torch::kFloat64), 0).to(torch::kFloat);
    grounding::QaResult r;
    r.probabilities.assign(p.data_ptr<float>(), p.data_ptr<float>() + p.numel());
    r.answer_index = p.argmax().item<int64_t>();
    return r;
  }

 private:
  std::vector<int64_t> prompt_ids(const std::string& question) const {
    const auto& c = llava_.config();
    const bool video = c.video_token_index >= 0;
    const std::string prompt = fusion::render_prompt(chat_, question, video ? "<video>" : "<image>");
    return expand_placeholder(tokenizer_.encode(prompt, true), video ? c.video_token_index : c.image_token_index,
                              visual_.size(0), "qa prompt");
  }

  // Runs `ids` (the prompt, then maybe an answer's tokens) reusing the cached common prefix;
  // returns float32 logits [V] at the last position (all positions from `from` on with rows_from).
  torch::Tensor run(const std::vector<int64_t>& ids, int64_t rows_from = -1) {
    size_t common = 0;
    while (common < cached_ids_.size() && common < ids.size() && cached_ids_[common] == ids[common]) ++common;
    if (common == ids.size()) --common;  // at least one position must run to get logits
    if (rows_from >= 0) common = std::min<size_t>(common, size_t(rows_from));
    const int64_t need = int64_t(ids.size()) + 1;
    if (!cache_ || cache_->capacity() < need) {
      cache_ = std::make_unique<fusion::KvCache>(llava_.config().text, std::max<int64_t>(need, 256) + 64, llava_.dtype());
      common = 0;
    }
    cache_->truncate(int64_t(common));
    torch::Tensor embeds = llava_.merge(torch::tensor(ids, torch::kInt64), visual_);
    torch::Tensor hidden = llava_.language_model()->forward(embeds.slice(0, int64_t(common)), *cache_);
    cached_ids_ = ids;
    if (rows_from < 0) return llava_.language_model()->logits(hidden.slice(0, -1)).squeeze(0);
    return llava_.language_model()->logits(hidden.slice(0, rows_from - int64_t(common)));
  }

  torch::Tensor prefill(const std::vector<int64_t>& ids) { return run(ids); }

  double mean_log_prob(const std::vector<int64_t>& prompt, const std::vector<int64_t>& answer) {
    if (answer.empty()) return -1e30;
    std::vector<int64_t> ids = prompt;
    ids.insert(ids.end(), answer.begin(), answer.end());
    // Logits from the last prompt position on predict the answer's tokens.
    torch::Tensor logits = run(ids, int64_t(prompt.size()) - 1).slice(0, 0, int64_t(answer.size()));
    torch::Tensor logp = torch::log_softmax(logits.to(torch::kFloat64), -1);
    double sum = 0;
    for (size_t i = 0; i < answer.size(); ++i) sum += logp[int64_t(i)][answer[i]].item<double>();
    return sum / double(answer.size());
  }

  fusion::LlavaModelImpl& llava_;
  const fusion::LlmTokenizer& tokenizer_;
  fusion::ChatTemplate chat_;
  bool likelihood_;
  torch::Tensor visual_;
  std::unique_ptr<fusion::KvCache> cache_;
  std::vector<int64_t> cached_ids_;
};

}  // namespace

int predict_qa_llm(const Args& args) {
  po::options_description desc("predict --task qa with a LLaVA-family model");
  add_llm_model_options(desc);
  const fusion::SlowFastLayoutOptions sf;
  desc.add_options()("task", po::value<std::string>()->required(), "qa")
      ("annotations", po::value<std::string>()->required(), "qa jsonl or NExT-QA CSV")
      ("videos", po::value<std::string>()->required(), "folder of the videos, named <vid>.<extension>")
      ("out", po::value<std::string>()->required(), "predictions JSON lines (failures: OUT.errors.jsonl)")
      ("resume", "continue an interrupted OUT: skip the qids it has, append the others")
      ("qa-scoring", po::value<std::string>()->default_value("letter"), "letter | likelihood (see the header)")
      ("layout", po::value<std::string>()->default_value("slowfast"), "slowfast | native")
      ("frames", po::value<int>(), "frames sampled uniformly (default: 50 for slowfast, 32 for native)")
      ("slow-frames", po::value<int>()->default_value(sf.n_slow_frames), "slowfast: frames kept at full detail")
      ("template", po::value<std::string>()->default_value("auto"), "auto | llava15 | vicuna_v1 | slowfast_llava | chatml")
      ("no-progress", "no progress on stderr")
      ("quiet,q", "same as --no-progress");
  po::variables_map vm;
  if (!parse_args("predict", "--task qa --model LLM_DIR --annotations FILE --videos DIR --out PRED.jsonl [--resume]",
                  args, desc, po::positional_options_description(), vm))
    return 0;
  if (vm["task"].as<std::string>() != "qa")
    throw UsageError("predict: " + vm["model"].as<std::string>() + " is a LLaVA-family LLM: only --task qa");
  const std::string scoring = vm["qa-scoring"].as<std::string>();
  if (scoring != "letter" && scoring != "likelihood") throw UsageError("--qa-scoring must be letter or likelihood");
  AskSettings s;
  s.layout = fusion::parse_video_layout(vm["layout"].as<std::string>());
  s.n_frames = vm.count("frames") ? vm["frames"].as<int>() : s.layout == fusion::VideoLayout::kSlowFast ? 50 : 32;
  s.slowfast.n_slow_frames = vm["slow-frames"].as<int>();
  const bool progress = !vm.count("no-progress") && !vm.count("quiet");

  const grounding::McqaGroundTruth gt = grounding::load_mcqa_gt(vm["annotations"].as<std::string>(), false);
  PredictionFile out(vm["out"].as<std::string>(), vm.count("resume") > 0);
  PredictionErrors errors(out.path());
  VideoFolder folder(vm["videos"].as<std::string>());
  // Questions grouped by video, in the order of first appearance; done ones left out.
  std::vector<std::string> vids;
  std::map<std::string, std::vector<size_t>> todo;
  for (size_t i = 0; i < gt.questions.size(); ++i) {
    const auto& q = gt.questions[i];
    if (!todo.count(q.video)) vids.push_back(q.video);
    auto& list = todo[q.video];
    if (!out.has(prediction_key(q.id, q.video, q.question))) list.push_back(i);
  }
  std::vector<BatchItem> items;
  std::vector<std::vector<size_t>> groups;
  for (const auto& vid : vids) {
    if (todo[vid].empty()) continue;
    BatchItem item{vid, "", ""};
    try {
      item.path = folder.find(vid);
    } catch (const IoError& e) {
      item.error = e.what();
    }
    items.push_back(item);
    groups.push_back(todo[vid]);
  }
  if (progress)
    std::cerr << "sfvu predict: " << gt.questions.size() << " questions, " << items.size() << " videos to do\n";
  if (items.empty()) return 0;

  const std::string model_dir = vm["model"].as<std::string>();
  fusion::LlavaModel llava = load_llava(vm);
  const auto tokenizer = load_llm_tokenizer(vm);
  const auto& config = llava->config();
  const std::string chat = vm["template"].as<std::string>();
  s.chat = chat != "auto" ? fusion::parse_chat_template(chat)
                          : fusion::default_chat_template(config.model_type, config.text.model_type);
  QaScorer scorer(*llava, *tokenizer, s.chat, scoring == "likelihood");
  torch::NoGradGuard no_grad;
  BatchOptions batch;
  batch.command = "predict";
  batch.progress = progress;
  const BatchSummary sum = run_batch(
      items, batch,
      [&](size_t g, const ProgressCallback&) -> int64_t {
        LlmFrames frames = read_llm_frames(items[g].path, model_dir, config, s.n_frames);
        scorer.set_video(llava->video_embeds(frames.pixels, s.layout, s.slowfast));
        std::vector<json> lines;
        for (size_t i : groups[g]) lines.push_back(qa_prediction_line(gt.questions[i], scorer.answer(gt.questions[i])));
        out.append(lines);
        return frames.pixels.size(0);
      },
      [&](size_t g, const std::string& error) {
        json qids = json::array();
        for (size_t i : groups[g]) qids.push_back(gt.questions[i].id.empty() ? json(gt.questions[i].question) : json(gt.questions[i].id));
        errors.add(items[g].name, qids, error);
      });
  if (errors.count())
    std::cerr << "sfvu predict: " << errors.count() << " of " << items.size() << " videos failed; see " << errors.path()
              << "\n";
  return sum.exit_code();
}

}  // namespace sfvu::cli
