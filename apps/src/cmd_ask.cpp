// sfvu ask --model DIR --question Q VIDEO... [--layout slowfast|native] [--max-new-tokens N] [--stream]
//          [--frames N] [--slow-frames N] [--template auto|...] [--out FILE.jsonl [--resume]] ...
//
// Open-ended answers from a LLaVA-family video LLM (issue 9, contract exact). One JSON line per
// video: {"video", "question", "answer", "n_visual_tokens", "timing": {"decode_s", "vision_s",
// "prefill_s", "generate_s"}} (+ "layout", "n_frames", "prompt_tokens", "generated_tokens").
// A video that fails gives {"video", "error"} and the batch goes on (exit 3 at the end).
// --stream prints the answer's text to stdout as the tokens come, then the JSON line (to --out
// when given, else on the next stdout line).
//
// Frames: --frames uniformly spaced frames (segment midpoints; SF-LLaVA's 50 for slowfast, 32
// for native), squashed to the vision tower's size, decoded in one pass (sparse plans seek, so
// a 1-hour video costs the same as a 2-minute one); the tower sees them in chunks and only the
// pooled tokens are kept (LlavaModel::video_embeds), so memory is bounded by --frames, not by
// the video's length; the KV cache is sized to prompt + --max-new-tokens.
#include <iostream>

#include "commands.h"
#include "llm_options.h"
#include "sfvu/base/clock.h"
#include "sfvu/base/error.h"
#include "sfvu/fusion/chat_template.h"
#include "video_batch.h"

namespace sfvu::cli {

json answer_video(fusion::LlavaModelImpl& llava, const fusion::LlmTokenizer& tokenizer, const std::string& model_dir,
                  const std::string& video, const AskSettings& s) {
  const auto& config = llava.config();
  const double t0 = steady_seconds();
  LlmFrames frames = read_llm_frames(video, model_dir, config, s.n_frames);
  const double t1 = steady_seconds();
  torch::Tensor visual = llava.video_embeds(frames.pixels, s.layout, s.slowfast);
  const double t2 = steady_seconds();

  // The prompt with one media placeholder, expanded to the visual token count.
  const bool video_token = config.video_token_index >= 0;
  const std::string media = video_token ? "<video>" : "<image>";
  const int64_t placeholder = video_token ? config.video_token_index : config.image_token_index;
  if (tokenizer.token_id(media) != placeholder)
    throw FormatError(model_dir + ": the tokenizer maps " + media + " to id " + std::to_string(tokenizer.token_id(media)) +
                      " but config.json's placeholder id is " + std::to_string(placeholder));
  const std::string prompt = fusion::render_prompt(s.chat, s.question, media);
  const std::vector<int64_t> ids =
      expand_placeholder(tokenizer.encode(prompt, /*add_bos=*/true), placeholder, visual.size(0), video);
  torch::Tensor embeds = llava.merge(torch::tensor(ids, torch::kInt64), visual);

  fusion::GenerateOptions options = s.generate;
  fusion::StreamingDecoder streamer(tokenizer);
  if (s.stream) {
    options.on_token = [&](int64_t id) {
      if (std::find(options.stop_ids.begin(), options.stop_ids.end(), id) == options.stop_ids.end())
        std::cout << streamer.push(id) << std::flush;
      return true;
    };
  }
  fusion::KvCache cache(config.text, embeds.size(0) + options.max_new_tokens, llava.dtype());
  fusion::GenerateResult r = fusion::generate(*llava.language_model(), embeds, ids, options, cache);
  if (s.stream) std::cout << streamer.flush() << "\n" << std::flush;

  std::vector<int64_t> answer_ids = r.ids;
  if (!answer_ids.empty() && r.stop_reason == "stop_id") answer_ids.pop_back();
  std::string answer = fusion::valid_utf8(tokenizer.decode(answer_ids, /*skip_special=*/true));
  const size_t a = answer.find_first_not_of(" \n"), b = answer.find_last_not_of(" \n");
  answer = a == std::string::npos ? "" : answer.substr(a, b - a + 1);
  return json{{"video", video},
              {"question", s.question},
              {"answer", answer},
              {"n_visual_tokens", visual.size(0)},
              {"timing",
               {{"decode_s", t1 - t0}, {"vision_s", t2 - t1}, {"prefill_s", r.prefill_seconds},
                {"generate_s", r.generate_seconds}}},
              {"layout", fusion::to_string(s.layout)},
              {"n_frames", frames.pixels.size(0)},
              {"prompt_tokens", r.prompt_tokens},
              {"generated_tokens", static_cast<int64_t>(r.ids.size())},
              {"stop_reason", r.stop_reason}};
}

int cmd_ask(const Args& args) {
  po::options_description desc("ask options");
  add_llm_model_options(desc);
  const fusion::SlowFastLayoutOptions sf;
  desc.add_options()("question", po::value<std::string>()->required(), "the question, in words")
      ("video", po::value<std::vector<std::string>>(), "video files, folders (recursive) or glob patterns")
      ("layout", po::value<std::string>()->default_value("slowfast"),
       "slowfast (SlowFast-LLaVA's tokens) | native (the model's own video path)")
      ("frames", po::value<int>(), "frames sampled uniformly (default: 50 for slowfast, 32 for native)")
      ("slow-frames", po::value<int>()->default_value(sf.n_slow_frames), "slowfast: frames kept at full detail")
      ("fast-grid", po::value<int>()->default_value(sf.fast_grid), "slowfast: every frame pooled to N x N tokens")
      ("template", po::value<std::string>()->default_value("auto"),
       "auto | llava15 | vicuna_v1 | slowfast_llava | chatml (auto: the model's own; SF-LLaVA's for llava + slowfast)")
      ("stream", "print the answer's tokens to stdout as they are generated")
      ("out", po::value<std::string>()->default_value(""), "JSON lines file (default: stdout)")
      ("quiet,q", "no progress on stderr");
  add_sampling_options(desc, 256);
  add_batch_options(desc);
  po::positional_options_description pos;
  pos.add("video", -1);
  po::variables_map vm;
  if (!parse_args("ask",
                  "--model DIR --question Q VIDEO... [--layout slowfast|native] [--max-new-tokens N] [--stream] "
                  "[--out FILE.jsonl [--resume]]",
                  args, desc, pos, vm))
    return 0;
  AskSettings s;
  s.question = vm["question"].as<std::string>();
  s.layout = fusion::parse_video_layout(vm["layout"].as<std::string>());
  s.n_frames = vm.count("frames") ? vm["frames"].as<int>() : s.layout == fusion::VideoLayout::kSlowFast ? 50 : 32;
  s.slowfast.n_slow_frames = vm["slow-frames"].as<int>();
  s.slowfast.fast_grid = vm["fast-grid"].as<int>();
  if (s.slowfast.n_slow_frames < 1 || s.slowfast.fast_grid < 1) throw UsageError("ask: --slow-frames and --fast-grid must be >= 1");
  s.generate.sampling = sampling_options(vm);
  s.generate.max_new_tokens = vm["max-new-tokens"].as<int>();
  s.stream = vm.count("stream") > 0;
  BatchOptions batch = batch_options(vm, "ask");
  const auto videos = batch_inputs(vm, vm.count("video") ? vm["video"].as<std::vector<std::string>>() : std::vector<std::string>{},
                                   "ask", batch.progress);
  const std::string out_path = vm["out"].as<std::string>();
  JsonLinesOut out(out_path, vm.count("resume") > 0, key_by_video("question"), "ask");
  std::vector<BatchItem> items;
  for (const auto& v : videos) {
    if (out.has(video_key(v, s.question))) ++batch.skipped;
    else items.push_back({v, v, ""});
  }
  if (items.empty()) {
    if (batch.progress) std::cerr << "sfvu ask: nothing to do: " << out.name() << " has every result\n";
    return 0;
  }
  const std::string model_dir = vm["model"].as<std::string>();
  fusion::LlavaModel llava = load_llava(vm);
  const auto tokenizer = load_llm_tokenizer(vm);
  const auto& config = llava->config();
  if (config.model_type == "llava" && s.layout == fusion::VideoLayout::kNative)
    throw UsageError("ask: " + model_dir + " (llava) has no native video path; use --layout slowfast");
  const std::string chat = vm["template"].as<std::string>();
  if (chat != "auto") s.chat = fusion::parse_chat_template(chat);
  else if (config.text.model_type != "qwen2" && s.layout == fusion::VideoLayout::kSlowFast)
    s.chat = fusion::ChatTemplate::kSlowFastLlava;
  else s.chat = fusion::default_chat_template(config.model_type, config.text.model_type);
  s.generate.stop_ids = stop_ids(config, tokenizer.get());
  torch::NoGradGuard no_grad;
  return run_batch(
             items, batch,
             [&](size_t i, const ProgressCallback&) -> int64_t {
               json line = answer_video(*llava, *tokenizer, model_dir, items[i].path, s);
               out.write(line);
               return line["n_frames"].get<int64_t>();
             },
             [&](size_t i, const std::string& error) { out.write(json{{"video", items[i].name}, {"error", error}}); })
      .exit_code();
}

}  // namespace sfvu::cli
