// The capture side of `sfvu stream` (cmd_stream.cpp): the source (file, device, network),
// the capture thread with realtime pacing and reconnection, the frames it hands over, and the
// JSON lines shared with the inference thread.
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
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ring_buffer.h"
#include "sfvu/base/clock.h"
#include "sfvu/base/error.h"
#include "sfvu/base/log.h"
#include "sfvu/decode/video_reader.h"
#include "sfvu/grounding/live_grounder.h"
#include "video_batch.h"

namespace sfvu::cli::stream {

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

inline double wall_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

enum class SourceKind { kFile, kDevice, kNetwork };

inline SourceKind source_kind(const std::string& s) {
  const size_t scheme = s.find("://");
  if (s.rfind("file:", 0) == 0) return SourceKind::kFile;
  if (scheme != std::string::npos) return SourceKind::kNetwork;
  if (s.rfind("/dev/", 0) == 0) return SourceKind::kDevice;
  const size_t colon = s.find(':');  // "lavfi:...", "v4l2:/dev/video0" (not "C:\...")
  return colon != std::string::npos && colon > 1 ? SourceKind::kDevice : SourceKind::kFile;
}

inline std::atomic<bool> g_stop_signal{false};
extern "C" inline void on_stop_signal(int sig) {
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
// per attempt; they are left out. Everything else goes to the default sink.
inline thread_local bool t_opening_source = false;

inline void install_stream_log_sink() {
  set_log_sink([](LogLevel level, const std::string& line) {
    if (t_opening_source && line.rfind("ffmpeg: ", 0) == 0) return;
    stderr_log_sink(level, line);
  });
}

inline std::unique_ptr<decode::VideoReader> open_source(const std::string& location, const decode::DecoderOptions& options) {
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
      const double left = until - steady_seconds();
      if (left <= 0) return true;
      std::this_thread::sleep_for(std::chrono::duration<double>(std::min(left, 0.02)));
    }
    return false;
  }

  void on_chunk(decode::FrameChunk&& c) {
    if (c.size() == 0 || stop_) return;
    const double raw_pts = c.pts_seconds[0];
    if (realtime) {  // like ffmpeg -re: frame k is released at its pts on the wall clock
      if (!std::isfinite(pace_origin_)) pace_origin_ = steady_seconds() - raw_pts;
      if (!sleep_until(pace_origin_ + raw_pts)) return;
    }
    const double captured = steady_seconds();
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
    last_capture_ = steady_seconds();
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
      if (!sleep_until(steady_seconds() + delay_)) break;
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

}  // namespace sfvu::cli::stream
