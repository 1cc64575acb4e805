// sfvu stream --model DIR --input SRC --query Q [--query Q2 ...] [--window] [--jsonl FILE]
//              [--max-seconds S] [--realtime] [--threshold T ...] [--snapshot FILE.png]
//
// Live grounding on a camera, a network stream or a file. JSON lines (stdout or --jsonl):
//   update:  {"pts_seconds", "wall_time", "latency_ms", "dropped", "saliency": {query: score},
//             "active": [query, ...]}
//   moments: {"event": "start"|"end", "query", "pts_seconds", "score"}
//   source:  {"event": "source_lost", "error", "pts_seconds", "wall_time"}
//            {"event": "reconnect", "attempt", "ok", "error", "wall_time"}
// p50/p95 latency, updates and drops on stderr at exit. Threads and reconnection:
// Note [Live streaming threads] and Note [Reconnecting] in stream_capture.h.
//
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <thread>

#include "commands.h"
#include "pipeline_options.h"
#include "sfvu/base/error.h"
#include "sfvu/base/log.h"
#include "sfvu/grounding/live_grounder.h"
#include "sfvu/pathways/torch_runtime.h"
#include "stream_capture.h"
#include "stream_view.h"
#include "video_batch.h"

namespace sfvu::cli {
namespace {

using grounding::LivePathway;
using namespace stream;  // the capture side: stream_capture.h

// The queued frames of each pathway as one uint8 batch, into the grounder.
void feed(grounding::LiveGrounder& live, const std::vector<CapturedFrame>& batch) {
  for (LivePathway p : {LivePathway::kSlow, LivePathway::kFast}) {
    std::vector<const CapturedFrame*> mine;
    for (const CapturedFrame& f : batch)
      if (f.pathway == p) mine.push_back(&f);
    if (mine.empty()) continue;
    const int64_t s = live.input_size(p);
    torch::Tensor frames = torch::empty({int64_t(mine.size()), s, s, 3}, torch::kUInt8);
    std::vector<double> pts, captured;
    for (size_t i = 0; i < mine.size(); ++i) {
      if (mine[i]->side != s || mine[i]->rgb.size() != size_t(s * s * 3))
        throw FormatError("live frame of " + std::to_string(mine[i]->side) + " px for a " + std::to_string(s) +
                          " px pathway");
      std::memcpy(frames[int64_t(i)].data_ptr<uint8_t>(), mine[i]->rgb.data(), mine[i]->rgb.size());
      pts.push_back(mine[i]->pts_seconds);
      captured.push_back(mine[i]->capture_seconds);
    }
    live.push(p, frames, pts, captured);
  }
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = size_t(std::ceil(p / 100.0 * double(v.size())));  // nearest rank
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

}  // namespace

int cmd_stream(const Args& args) {
  const StreamOptions d;
  const grounding::LiveGrounderOptions g;
  po::options_description desc("stream options");
  desc.add_options()
      ("input", po::value<std::string>()->required(),
       "camera (/dev/video0, v4l2:/dev/video0), network URL (rtsp://, tcp://, udp://, http://), lavfi:GRAPH or a file")
      ("query", po::value<std::vector<std::string>>()->required(), "text query (repeatable)")
      ("threshold", po::value<std::vector<double>>(),
       "score at which a query starts (repeatable: one for all queries, or one per query in order); default 0.5 "
       "for a learned model (sigmoid saliency), 0.25 for the training-free CLIP head (cosine saliency)")
      ("hysteresis", po::value<double>()->default_value(g.hysteresis, short_number(g.hysteresis)),
       "an active query ends when its score falls below threshold - hysteresis")
      ("window-seconds", po::value<double>()->default_value(g.window_seconds), "sliding window the head sees")
      ("update-every", po::value<double>()->default_value(g.update_every_seconds, short_number(g.update_every_seconds)),
       "stream seconds between updates (each runs the head on the window)")
      ("buffer-frames", po::value<int>()->default_value(d.buffer_frames),
       "capture ring buffer; when inference falls behind the oldest frames are dropped and counted")
      ("realtime", "files: release frames at their pts on the wall clock (like ffmpeg -re)")
      ("max-seconds", po::value<double>()->default_value(d.max_seconds), "stop after this much wall time (0 = no limit)")
      ("reconnect-max", po::value<int>()->default_value(d.reconnect_max),
       "reconnect attempts per outage (-1 = unlimited for network sources, none for files/devices)")
      ("reconnect-delay", po::value<double>()->default_value(d.reconnect_delay_seconds, short_number(d.reconnect_delay_seconds)),
       "first reconnect back-off in seconds; doubles per failed attempt up to 8 s")
      ("jsonl", po::value<std::string>()->default_value(""), "JSON lines file (default: stdout)")
      ("window", "show the video, per-query sparklines and active labels in a window (needs a display)")
      ("snapshot", po::value<std::string>(), "write the last view as a PNG at exit (works headless)");
  add_pipeline_options(desc);
  po::variables_map vm;
  if (!parse_args("stream", "--model DIR --input SRC --query Q [--query Q2 ...] [--window] [--jsonl FILE] [--max-seconds S]",
                  args, desc, {}, vm))
    return 0;
  const std::string input = vm["input"].as<std::string>();
  const auto queries = vm["query"].as<std::vector<std::string>>();
  for (size_t i = 0; i < queries.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (queries[i] == queries[j]) throw UsageError("stream: query '" + queries[i] + "' is given twice");
  StreamOptions so;
  so.buffer_frames = vm["buffer-frames"].as<int>();
  so.max_seconds = vm["max-seconds"].as<double>();
  so.reconnect_max = vm["reconnect-max"].as<int>();
  so.reconnect_delay_seconds = vm["reconnect-delay"].as<double>();
  if (so.buffer_frames < 1) throw UsageError("--buffer-frames must be at least 1");
  if (!(so.max_seconds >= 0)) throw UsageError("--max-seconds must be >= 0");
  if (!(so.reconnect_delay_seconds > 0)) throw UsageError("--reconnect-delay must be > 0");
  grounding::LiveGrounderOptions lo;
  lo.window_seconds = vm["window-seconds"].as<double>();
  lo.update_every_seconds = vm["update-every"].as<double>();
  lo.hysteresis = vm["hysteresis"].as<double>();
  if (vm.count("threshold")) lo.thresholds = vm["threshold"].as<std::vector<double>>();
  lo.validate(queries.size());
  const bool window = vm.count("window") > 0;
  const bool want_view = window || vm.count("snapshot");
  // Qt aborts the process when it cannot reach a display: say so as a usage error instead.
  if (window && !std::getenv("DISPLAY") && !std::getenv("WAYLAND_DISPLAY"))
    throw UsageError("stream: --window needs a display (DISPLAY is not set); run under xvfb-run, or use "
                     "--snapshot FILE.png headless");

  const grounding::PipelineOptions popts = pipeline_options(vm);
  // Capture and decoding need a core of their own: OpenMP workers spinning at barriers while
  // the capture thread holds their core turned 10 ms updates into 1-2 s ones on 2 cores. Unless
  // --torch-threads says otherwise, inference gets one core fewer than the machine has.
  if (model_options(vm).threads <= 0)
    pathways::configure_torch_runtime(std::max(1, int(std::thread::hardware_concurrency()) - 1));
  auto pipeline = load_pipeline(vm, popts);
  grounding::LiveGrounder live(pipeline, queries, lo);

  Capture capture;
  capture.location = input;
  capture.kind = source_kind(input);
  capture.realtime = vm.count("realtime") > 0;
  if (capture.realtime && capture.kind != SourceKind::kFile) {
    log_message(LogLevel::kWarning, input + ": --realtime paces files only; a live source sets its own pace");
    capture.realtime = false;
  }
  capture.options = so;
  capture.decoder = popts.decoder;
  capture.decoder.chunk_frames = 1;                  // every frame leaves the decoder at once
  capture.decoder.index = decode::IndexMode::kNever;  // forward-only, even for files: no index scan first
  const decode::ResizeMode resize = pipeline->options().slowfast.resize;
  for (LivePathway p : {LivePathway::kSlow, LivePathway::kFast})
    capture.requests.push_back({decode::SamplingPlan::at_fps(live.fps(p)),
                                decode::FrameFormat::square(live.input_size(p), resize)});
  if (want_view)
    capture.requests.push_back({decode::SamplingPlan::at_fps(so.view_fps),
                                decode::FrameFormat{kVideoWidth, kVideoHeight, decode::ResizeMode::kLetterbox}});

  // The first open is not retried: a wrong input is one error line (Note [Reconnecting]).
  install_stream_log_sink();
  auto reader = open_source(input, capture.decoder);
  SharedOut out(vm["jsonl"].as<std::string>());
  RingBuffer<CapturedFrame> frames(size_t(so.buffer_frames));
  RingBuffer<ViewFrame> view_frames(1);
  capture.frames = &frames;
  capture.view = want_view ? &view_frames : nullptr;
  capture.out = &out;
  std::unique_ptr<StreamView> view;
  if (want_view) view = std::make_unique<StreamView>(input, queries, live.thresholds(), lo.hysteresis, window);

  std::vector<double> latencies_ms;
  auto emit_events = [&](const std::vector<grounding::LiveEvent>& events) {
    for (const auto& e : events)
      out.write(json{{"event", grounding::to_string(e.kind)}, {"query", queries[e.query]},
                     {"pts_seconds", e.pts_seconds}, {"score", e.score}});
  };
  auto emit = [&](const grounding::LiveUpdate& u) {
    json saliency = json::object(), active = json::array();
    for (size_t q = 0; q < queries.size(); ++q) {
      saliency[queries[q]] = u.saliency[q];
      if (u.active[q]) active.push_back(queries[q]);
    }
    const int64_t dropped = frames.dropped();
    const double latency_ms = (steady_seconds() - u.capture_seconds) * 1000.0;
    out.write(json{{"pts_seconds", u.pts_seconds}, {"wall_time", wall_time()}, {"latency_ms", latency_ms},
                   {"dropped", dropped}, {"saliency", saliency}, {"active", active}});
    latencies_ms.push_back(latency_ms);
    emit_events(u.events);
    if (view) view->add_update(u.pts_seconds, latency_ms, dropped, u.saliency, u.active);
  };

  const double t_start = steady_seconds();
  const double deadline = so.max_seconds > 0 ? t_start + so.max_seconds : INFINITY;
  bool stopped = false;
  {
    SignalGuard signals;
    g_stop_signal = false;
    CaptureThread thread(capture, std::move(reader));
    std::vector<CapturedFrame> batch;
    while (true) {
      if (g_stop_signal || steady_seconds() >= deadline) {
        stopped = true;
        break;
      }
      const bool got = frames.pop_all(batch, std::chrono::milliseconds(50));
      if (got) {
        feed(live, batch);
        if (auto u = live.maybe_update()) emit(*u);
      }
      if (view) {
        if (auto f = view_frames.pop_for(std::chrono::milliseconds(0))) view->set_frame(f->width, f->height, f->rgb.data());
        const int attempt = capture.outage_attempt;
        view->set_status(attempt > 0 ? "source lost: reconnecting (attempt " + std::to_string(attempt) + ")" : "");
        if (!view->show()) {
          stopped = true;
          break;
        }
      }
      if (!got && frames.drained()) break;  // the input ended (or was given up)
    }
    thread.join();
  }
  if (!stopped)
    if (auto u = live.flush()) emit(*u);  // the frames after the last update
  emit_events(live.finish());

  const double seconds = steady_seconds() - t_start;
  const int64_t updates = int64_t(latencies_ms.size());
  std::cerr << "sfvu stream: " << updates << " updates in " << std::fixed << std::setprecision(1) << seconds << " s ("
            << std::setprecision(2) << (seconds > 0 ? double(updates) / seconds : 0.0) << "/s); latency p50 "
            << std::setprecision(1) << percentile(latencies_ms, 50) << " ms, p95 " << percentile(latencies_ms, 95)
            << " ms; dropped " << frames.dropped() << " of " << frames.pushed() << " frames; "
            << capture.reconnects.load() << " reconnects\n";
  if (view && vm.count("snapshot")) view->write_snapshot(vm["snapshot"].as<std::string>());
  if (!capture.failure.empty()) throw IoError(capture.failure);
  return 0;
}

}  // namespace sfvu::cli
