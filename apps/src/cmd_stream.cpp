// sfvu stream --model DIR --input SRC --query Q [--query Q2 ...] [--window] [--jsonl FILE]
//              [--max-seconds S] [--realtime] [--threshold T ...] [--snapshot FILE.png]
//
// Live grounding on a camera, a network stream or a file. JSON lines (stdout or --jsonl):
//   update:  {"pts_seconds", "wall_time", "latency_ms", "dropped", "saliency": {query: score},
//             "active": [query, ...]}
//   moments: {"event": "start"|"end", "query", "pts_seconds", "score"}
//   source:  {"event": "source_lost", "error", "pts_seconds", "wall_time"}
//            {"event": "reconnect", "attempt", "ok", "error", "wall_time"}
// p50/p95 latency, updates and drops on stderr at exit.
//
// Note [Live streaming threads]
// Capture never waits for inference (STYLE rule 7). The capture thread owns the VideoReader:
// one decode pass with chunk_frames = 1 serves the slow pathway (its fps, its input size), the
// fast pathway (same) and, for --window/--snapshot, a display stream. Each frame is stamped
// with its capture time (steady clock, when the decoder handed it over) and its pts on the
// continuous timeline, and pushed into a bounded RingBuffer (--buffer-frames). When inference
// falls behind, push drops the OLDEST frame and counts it (one warning): the newest frames
// are what a live view needs, and latency stays bounded by the buffer instead of growing
// without end. The display stream goes through a one-slot ring (newest frame wins), not
// counted as drops. The main thread pops everything queued, encodes it in one batch per
// pathway (LiveGrounder::push) and asks for one update, so a slow model gives fewer updates,
// never stale ones. End of input closes the ring; the main thread drains it and finishes.
// Stopping (--max-seconds, SIGINT/SIGTERM, closing the window) sets a flag and interrupts
// the reader, so even a blocked network read returns at once (an open in progress is bounded
// by --timeout).
//
// Note [Reconnecting]
// A network source that ends or fails (EOF, error, --timeout without data) is lost: a
// source_lost line, then reopen attempts after 0.5 s, 1 s, 2 s, ... capped at 8 s
// (--reconnect-delay), each a reconnect line; the count and delay reset once frames flow
// again. After --reconnect-max failed attempts the command exits 1. Files end cleanly at EOF;
// devices end cleanly at EOF and are lost on a read error. The first open is not retried: a
// wrong URL is an error at once. The decoder restarts pts at 0 on every connection, so the
// first frame after a reconnect is placed at last pts + the wall-clock gap: the timeline never
// goes back.
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
#include <sstream>
#include <thread>

#include "commands.h"
#include "pipeline_options.h"
#include "ring_buffer.h"
#include "sfvu/base/error.h"
#include "sfvu/base/log.h"
#include "sfvu/grounding/live_grounder.h"
#include "sfvu/pathways/torch_runtime.h"
#include "stream_view.h"
#include "video_batch.h"

namespace sfvu::cli {
namespace {

using grounding::LivePathway;

// Defaults of the options that are not the grounder's (those live in LiveGrounderOptions).
struct StreamOptions {
  int buffer_frames = 32;                 // ~3.5 s of slow + fast frames at 1 + 8 fps
  double max_seconds = 0;                 // 0 = until the input ends or a signal
  int reconnect_max = -1;                 // -1: unlimited for network sources, 0 otherwise
  double reconnect_delay_seconds = 0.5;   // first back-off; doubles per failed attempt
  double reconnect_delay_max_seconds = 8;
  double view_fps = 15;                   // display stream of --window / --snapshot
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double wall_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

enum class SourceKind { kFile, kDevice, kNetwork };

SourceKind source_kind(const std::string& s) {
  const size_t scheme = s.find("://");
  if (s.rfind("file:", 0) == 0) return SourceKind::kFile;
  if (scheme != std::string::npos) return SourceKind::kNetwork;
  if (s.rfind("/dev/", 0) == 0) return SourceKind::kDevice;
  const size_t colon = s.find(':');  // "lavfi:...", "v4l2:/dev/video0" (not "C:\...")
  return colon != std::string::npos && colon > 1 ? SourceKind::kDevice : SourceKind::kFile;
}

std::atomic<bool> g_stop_signal{false};
extern "C" void on_stop_signal(int sig) {
  g_stop_signal = true;          // lock-free atomic store: async-signal-safe
  std::signal(sig, SIG_DFL);     // a second signal kills as usual
}
struct SignalGuard {
  SignalGuard() {
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
  }
  ~SignalGuard() {
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
  }
};

// While a source is being (re)opened, FFmpeg's own log lines ("Connection to tcp://... failed:
// Connection refused") repeat what the error line or the reconnect event already says, once
// per attempt; they are left out. Everything else is written as the default sink does.
thread_local bool t_opening_source = false;

void install_stream_log_sink() {
  set_log_sink([](LogLevel level, const std::string& line) {
    if (t_opening_source && line.rfind("ffmpeg: ", 0) == 0) return;
    static const char* kNames[] = {"debug", "info", "warning", "error"};
    std::cerr << "sfvu: " << kNames[int(level)] << ": " << line << '\n';
  });
}

std::unique_ptr<decode::VideoReader> open_source(const std::string& location, const decode::DecoderOptions& options) {
  struct Opening {
    Opening() { t_opening_source = true; }
    ~Opening() { t_opening_source = false; }
  } opening;
  return std::make_unique<decode::VideoReader>(decode::Source::path(location), options);
}

// JsonLinesOut shared by the capture thread (source events) and the main thread (updates).
class SharedOut {
 public:
  explicit SharedOut(const std::string& path) : out_(path) {}
  void write(const json& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    out_.write(line);
  }

 private:
  std::mutex mutex_;
  JsonLinesOut out_;
};

struct CapturedFrame {
  LivePathway pathway = LivePathway::kFast;
  double pts_seconds = 0, capture_seconds = 0;
  int side = 0;
  Bytes rgb;  // [side, side, 3]
};
struct ViewFrame {
  int width = 0, height = 0;
  Bytes rgb;
};

// The capture thread (Note [Live streaming threads], Note [Reconnecting]).
class Capture {
 public:
  std::string location;
  SourceKind kind = SourceKind::kFile;
  decode::DecoderOptions decoder;
  std::vector<decode::StreamRequest> requests;  // 0 slow, 1 fast, 2 view (optional)
  bool realtime = false;
  StreamOptions options;
  RingBuffer<CapturedFrame>* frames = nullptr;
  RingBuffer<ViewFrame>* view = nullptr;
  SharedOut* out = nullptr;

  std::atomic<int> outage_attempt{0};  // > 0 while reconnecting (for the view's banner)
  std::atomic<int64_t> reconnects{0};
  std::string failure;                 // why the source was given up; read after join()

  void run(std::unique_ptr<decode::VideoReader> reader) {
    try {
      loop(std::move(reader));
    } catch (const std::exception& e) {
      failure = e.what();
    }
    frames->close();
    if (view) view->close();
  }

  void request_stop() {
    stop_ = true;
    std::lock_guard<std::mutex> lock(reader_mutex_);
    if (reader_) reader_->interrupt();
  }

 private:
  void set_reader(decode::VideoReader* r) {
    std::lock_guard<std::mutex> lock(reader_mutex_);
    reader_ = r;
    if (r && stop_) r->interrupt();
  }

  // Sleeps until `until` (steady seconds) in short slices; false if a stop came first.
  bool sleep_until(double until) const {
    while (!stop_) {
      const double left = until - now_seconds();
      if (left <= 0) return true;
      std::this_thread::sleep_for(std::chrono::duration<double>(std::min(left, 0.02)));
    }
    return false;
  }

  void on_chunk(decode::FrameChunk&& c) {
    if (c.size() == 0 || stop_) return;
    const double raw_pts = c.pts_seconds[0];
    if (realtime) {  // like ffmpeg -re: frame k is released at its pts on the wall clock
      if (!std::isfinite(pace_origin_)) pace_origin_ = now_seconds() - raw_pts;
      if (!sleep_until(pace_origin_ + raw_pts)) return;
    }
    const double captured = now_seconds();
    if (rebase_) {  // first frame after a reconnect: continue the timeline (Note [Reconnecting])
      pts_offset_ = last_pts_ + (captured - last_capture_) - raw_pts;
      rebase_ = false;
    }
    const double pts = raw_pts + pts_offset_;
    attempt_ = 0;  // frames flow: the next outage starts its back-off afresh
    delay_ = options.reconnect_delay_seconds;
    if (c.stream == 2) {
      view->push(ViewFrame{c.width, c.height, std::move(c.rgb)});
      return;
    }
    last_pts_ = std::max(last_pts_, pts);
    last_capture_ = captured;
    const LivePathway p = c.stream == 0 ? LivePathway::kSlow : LivePathway::kFast;
    if (frames->push(CapturedFrame{p, pts, captured, c.width, std::move(c.rgb)}) == PushResult::kDroppedOldest)
      warn_once("stream-drop:" + location, location + ": inference is falling behind; dropping the oldest frames "
                                                       "(counted in \"dropped\")");
  }

  void loop(std::unique_ptr<decode::VideoReader> reader) {
    last_capture_ = now_seconds();
    delay_ = options.reconnect_delay_seconds;
    while (reader) {
      set_reader(reader.get());
      decode::DecodeStats st = reader->decode(requests, [&](decode::FrameChunk&& c) { on_chunk(std::move(c)); });
      set_reader(nullptr);
      if (stop_) return;
      const bool failed = st.truncated;
      if (kind == SourceKind::kFile || (kind == SourceKind::kDevice && !failed)) return;  // a clean end
      const std::string why = failed ? st.last_error : "end of stream";
      out->write(json{{"event", "source_lost"}, {"error", why}, {"pts_seconds", last_pts_}, {"wall_time", wall_time()}});
      reader.reset();
      reader = reconnect(why);
      rebase_ = true;
    }
  }

  // Reopens the source with back-off; nullptr when stopped or given up (`failure` set).
  std::unique_ptr<decode::VideoReader> reconnect(std::string why) {
    const int max = options.reconnect_max >= 0 ? options.reconnect_max : kind == SourceKind::kNetwork ? -1 : 0;
    while (!stop_) {
      if (max >= 0 && attempt_ >= max) {
        failure = location + ": source lost (" + why + ")" +
                  (max > 0 ? "; gave up after " + std::to_string(max) + " reconnect attempts" : "");
        return nullptr;
      }
      ++attempt_;
      outage_attempt = attempt_;
      if (!sleep_until(now_seconds() + delay_)) break;
      delay_ = std::min(2 * delay_, options.reconnect_delay_max_seconds);
      json line{{"event", "reconnect"}, {"attempt", attempt_}};
      try {
        auto r = open_source(location, decoder);
        ++reconnects;
        outage_attempt = 0;
        line["ok"] = true;
        line["error"] = nullptr;
        line["wall_time"] = wall_time();
        out->write(line);
        return r;
      } catch (const Error& e) {
        why = e.what();
        line["ok"] = false;
        line["error"] = why;
        line["wall_time"] = wall_time();
        out->write(line);
      }
    }
    return nullptr;
  }

  std::atomic<bool> stop_{false};
  std::mutex reader_mutex_;
  decode::VideoReader* reader_ = nullptr;
  double pace_origin_ = NAN;
  double pts_offset_ = 0, last_pts_ = 0, last_capture_ = 0;
  bool rebase_ = false;
  int attempt_ = 0;
  double delay_ = 0.5;
};

// Starts the capture thread; stops and joins it on every way out of scope.
class CaptureThread {
 public:
  CaptureThread(Capture& c, std::unique_ptr<decode::VideoReader> reader)
      : capture_(c), thread_([&c, r = std::move(reader)]() mutable { c.run(std::move(r)); }) {}
  ~CaptureThread() { join(); }
  void join() {
    if (!thread_.joinable()) return;
    capture_.request_stop();
    thread_.join();
  }

 private:
  Capture& capture_;
  std::thread thread_;
};

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

std::string short_number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
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
    const double latency_ms = (now_seconds() - u.capture_seconds) * 1000.0;
    out.write(json{{"pts_seconds", u.pts_seconds}, {"wall_time", wall_time()}, {"latency_ms", latency_ms},
                   {"dropped", dropped}, {"saliency", saliency}, {"active", active}});
    latencies_ms.push_back(latency_ms);
    emit_events(u.events);
    if (view) view->add_update(u.pts_seconds, latency_ms, dropped, u.saliency, u.active);
  };

  const double t_start = now_seconds();
  const double deadline = so.max_seconds > 0 ? t_start + so.max_seconds : INFINITY;
  bool stopped = false;
  {
    SignalGuard signals;
    g_stop_signal = false;
    CaptureThread thread(capture, std::move(reader));
    std::vector<CapturedFrame> batch;
    while (true) {
      if (g_stop_signal || now_seconds() >= deadline) {
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

  const double seconds = now_seconds() - t_start;
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
