// One decode pass serving any number of sampled output streams.
//
// Note [One pass, lookahead of one frame]
// Frames leave the decoder in presentation order. We hold the latest one ("pending") until
// the next arrives: only then is its display interval [pts, next_pts) known, and every
// requested time inside it is served by it (Note [Frame displayed at time t]). This one rule
// covers VFR, forward-only live inputs (no index), and corrupt frames (the previous frame
// stays on screen, as in a player). Conversion to RGB happens only when a frame serves a
// request, once per distinct output format.
//
// Note [Seek target]
// Seeks use our own indexed keyframe timestamp as the upper bound, never FFmpeg's idea of
// "nearest": some demuxers land after max_ts for HEVC (torchcodec #179, FFmpeg trac #11137).
// If the first frame after a seek is already past the target (a demuxer that indexes by
// another clock), we seek again to the keyframe before.
// Note [Skipping unneeded frames]
// With a packet index we know before decoding which frames some request will be served by
// (frame_at(t) for every target; every frame of an --all range). Packets of other frames are
// sent with skip_frame = AVDISCARD_NONREF: the decoder drops them if no other frame refers
// to them (non-reference B-frames), and decodes them otherwise. Skipped frames are never
// needed, so the lookahead rule above is unaffected: no requested time falls in their
// display interval. Pixels are identical either way (tests check it), except on damaged
// input: when a needed frame cannot be decoded, the earlier frame standing in for it may be
// one that skipping dropped, so an older one stands in (its index says which).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

#include "conversion_queue.h"
#include "frame_converter.h"
#include "reader_impl.h"
#include "sfvu/base/error.h"
#include "sfvu/base/log.h"

namespace sfvu::decode {
namespace {

// Seeking restarts the decoder pipeline; only worth it when it skips this many frames.
constexpr int64_t kMinFramesSkippedBySeek = 4;
constexpr int kProgressEveryFrames = 8;
constexpr size_t kMaxChunkBytes = size_t(64) << 20;
constexpr size_t kConversionQueueFrames = 8;

struct OutStream {
  int id = 0;
  SamplingPlan plan;
  std::optional<TargetCursor> cursor;  // empty for kAll
  double all_to = 0;                   // kAll: end of range
  int converter = 0;
  size_t frame_bytes = 0;
  int chunk_frames = 1;
  FrameChunk chunk;
  int64_t generation = 0;  // bumps when the chunk is handed out
  int64_t next_slot = 0;   // kAll
  bool done = false;
};

// Where the pending frame was last converted for one converter (to copy instead of convert).
struct ConvertedAt {
  int64_t frame_serial = -1;
  int stream = -1;
  int64_t generation = -1;
  int64_t position = -1;
};

}  // namespace

DecodeStats VideoReader::Impl::decode(const std::vector<StreamRequest>& requests, const ChunkSink& sink,
                                      const ProgressCallback& progress) {
  if (requests.empty()) throw UsageError(input->name() + ": no output stream requested");
  DecodeStats stats;
  const double duration = info.duration_seconds;
  const double tb = av_q2d(st->time_base);
  const int max_chunk_frames = std::max(1, options.chunk_frames);
  if (info.video.width <= 0 || info.video.height <= 0)
    throw FormatError(input->name() + ": the video stream has no frame size");

  // Output streams; streams with identical formats share one converter.
  std::vector<FrameFormat> formats;
  std::vector<std::unique_ptr<FrameConverter>> converters;
  std::vector<OutStream> outs(requests.size());
  for (size_t k = 0; k < requests.size(); ++k) {
    const StreamRequest& req = requests[k];
    OutStream& o = outs[k];
    o.id = static_cast<int>(k);
    o.plan = req.plan;
    if (req.plan.mode == SampleMode::kAll) {
      req.plan.validate();
      o.all_to = duration >= 0 ? std::min(req.plan.to_seconds, duration) : req.plan.to_seconds;
    } else {
      o.cursor.emplace(req.plan, duration);
      o.done = o.cursor->done();
    }
    const FrameFormat& f = req.format;
    if ((f.width == 0) != (f.height == 0) || f.width < 0 || f.height < 0)
      throw UsageError(input->name() + ": output size must be both width and height (or neither), got " +
                       std::to_string(f.width) + "x" + std::to_string(f.height));
    auto same = [&](const FrameFormat& g) {
      return g.width == f.width && g.height == f.height && g.resize == f.resize && g.filter == f.filter;
    };
    auto it = std::find_if(formats.begin(), formats.end(), same);
    if (it == formats.end()) {
      formats.push_back(f);
      converters.push_back(
          std::make_unique<FrameConverter>(f, clockwise_rotation, info.video.width, info.video.height));
      it = formats.end() - 1;
    }
    o.converter = static_cast<int>(it - formats.begin());
    const FrameConverter& c = *converters[static_cast<size_t>(o.converter)];
    o.frame_bytes = size_t(c.out_width()) * c.out_height() * 3;
    // Chunks hold at most kMaxChunkBytes (a few full-HD frames), whatever chunk_frames says.
    o.chunk_frames = static_cast<int>(std::clamp<size_t>(kMaxChunkBytes / o.frame_bytes, 1, size_t(max_chunk_frames)));
    o.chunk.stream = o.id;
    o.chunk.width = c.out_width();
    o.chunk.height = c.out_height();
  }
  std::vector<ConvertedAt> converted(converters.size());
  // Declared after the buffers and converters its jobs use, so it drains before they go.
  ConversionQueue queue(decoder->thread_count > 1, kConversionQueueFrames);

  // Frames some request needs (Note [Skipping unneeded frames]); empty = decode everything.
  std::vector<char> needed;
  if (index && options.skip_unneeded && !options.keyframes_only) {
    needed.assign(static_cast<size_t>(index->size()), 0);
    for (const OutStream& o : outs) {
      if (o.cursor) {
        for (TargetCursor c(o.plan, duration); !c.done(); c.pop()) {
          int64_t j = index->frame_at(c.peek().seconds);
          if (j >= 0) needed[static_cast<size_t>(j)] = 1;
        }
      } else {
        int64_t first = std::max<int64_t>(0, index->frame_at(o.plan.from_seconds));
        int64_t last = index->frame_at(o.all_to);
        std::fill(needed.begin() + first, last < 0 ? needed.end() : needed.begin() + last + 1, 1);
      }
    }
  }
  auto packet_needed = [&](const AVPacket& p) {
    if (needed.empty() || (p.flags & (AV_PKT_FLAG_KEY | AV_PKT_FLAG_DISCARD))) return true;
    int64_t pts = p.pts != AV_NOPTS_VALUE ? p.pts : p.dts;
    if (pts == AV_NOPTS_VALUE) return true;
    int64_t j = index->frame_for_pts(pts);
    return (*index)[j].pts != pts || needed[static_cast<size_t>(j)] != 0;
  };

  auto flush = [&](OutStream& o) {
    if (o.chunk.size() == 0) return;
    queue.wait_idle();  // the chunk's pixels are complete before anyone sees them
    FrameChunk full = std::move(o.chunk);
    o.chunk = FrameChunk{};
    o.chunk.stream = full.stream;
    o.chunk.width = full.width;
    o.chunk.height = full.height;
    ++o.generation;
    sink(std::move(full));
    if (full.rgb.capacity() > 0) {  // the sink copied the pixels: reuse its buffer
      o.chunk.rgb = std::move(full.rgb);
      o.chunk.rgb.clear();
    }
  };

  // The pending frame (Note [One pass, lookahead of one frame]).
  ff::FramePtr pending = ff::make_frame();
  bool has_pending = false;
  int64_t p_index = 0, p_serial = 0;
  double p_sec = 0, p_dur = 0;

  auto emit = [&](OutStream& o, int64_t slot) {
    FrameChunk& c = o.chunk;
    const size_t pos = static_cast<size_t>(c.size());
    // Capacity for a whole chunk up front: queued conversions hold pointers into it.
    if (pos == 0 && c.rgb.capacity() < o.frame_bytes * static_cast<size_t>(o.chunk_frames))
      c.rgb.reserve(o.frame_bytes * static_cast<size_t>(o.chunk_frames));
    c.rgb.resize((pos + 1) * o.frame_bytes);
    uint8_t* dst = c.rgb.data() + pos * o.frame_bytes;
    ConvertedAt& at = converted[static_cast<size_t>(o.converter)];
    if (at.frame_serial == p_serial && outs[static_cast<size_t>(at.stream)].generation == at.generation) {
      const OutStream& holder = outs[static_cast<size_t>(at.stream)];
      queue.copy(holder.chunk.rgb.data() + static_cast<size_t>(at.position) * o.frame_bytes, dst, o.frame_bytes);
    } else {
      queue.convert(*converters[static_cast<size_t>(o.converter)], *pending, dst);
      ++stats.frames_converted;
      at = {p_serial, o.id, o.generation, static_cast<int64_t>(pos)};
    }
    c.slots.push_back(slot);
    c.indices.push_back(p_index);
    c.pts_seconds.push_back(p_sec);
    ++stats.frames_returned;
    if (c.size() >= o.chunk_frames) flush(o);
  };

  // Serve every request that the pending frame covers, given where its display ends.
  auto serve_pending = [&](double end_sec) {
    if (!has_pending) return;
    for (OutStream& o : outs) {
      if (o.done) continue;
      if (!o.cursor) {
        if (p_sec >= o.all_to - kTimeEpsilonSeconds) {
          o.done = true;
        } else if (end_sec > o.plan.from_seconds + kTimeEpsilonSeconds ||
                   p_sec >= o.plan.from_seconds - kTimeEpsilonSeconds) {
          emit(o, o.next_slot++);
        }
        continue;
      }
      while (!o.cursor->done() && o.cursor->peek().seconds < end_sec - kTimeEpsilonSeconds) {
        emit(o, o.cursor->peek().slot);
        o.cursor->pop();
      }
      o.done = o.cursor->done();
    }
  };
  auto all_done = [&] {
    return std::all_of(outs.begin(), outs.end(), [](const OutStream& o) { return o.done; });
  };

  // --- seeking -----------------------------------------------------------------------------
  bool seek_allowed = index && options.allow_seek && input->seekable();
  if (index) positioned = false;  // every indexed pass starts with a seek to its first need
  int64_t last_key_sent_pts = std::numeric_limits<int64_t>::min();
  int64_t last_sent_pts = std::numeric_limits<int64_t>::min();
  int64_t verify_target = -1;  // frame a seek must reach, checked on the next decoded frame
  const IndexEntry* verify_kf = nullptr;

  auto earliest_need = [&]() -> double {
    double t = std::numeric_limits<double>::infinity();
    for (const OutStream& o : outs) {
      if (o.done) continue;
      if (o.cursor) t = std::min(t, o.cursor->peek().seconds);
      else t = std::min(t, has_pending ? std::max(p_sec, o.plan.from_seconds) : o.plan.from_seconds);
    }
    return t;
  };
  // `counted`: a rewind to the first keyframe at the start of a pass is not a seek that skips work.
  auto do_seek = [&](const IndexEntry& kf, int64_t target, bool counted) {
    if (!seek_to(kf)) {
      seek_allowed = false;
      return;
    }
    if (counted) ++stats.seeks;
    has_pending = false;
    last_key_sent_pts = last_sent_pts = kf.pts;  // reading resumes at this keyframe
    verify_target = target;
    verify_kf = &kf;
  };
  auto maybe_seek = [&] {
    if (!index) return;
    double t = earliest_need();
    if (!std::isfinite(t)) return;
    int64_t j = index->frame_at(t);
    if (j < 0) return;
    const IndexEntry& kf = index->keyframe_for(j);
    if (!positioned) {
      positioned = true;
      const IndexEntry& first = index->keyframe_for(0);
      if (seek_allowed && kf.pts > first.pts) do_seek(kf, j, true);
      else do_seek(first, 0, false);  // rewind: decode through from the start
      return;
    }
    if (!seek_allowed || kf.pts <= last_key_sent_pts) return;
    int64_t skipped = index->frame_for_pts(kf.pts) -
                      (last_sent_pts == std::numeric_limits<int64_t>::min() ? 0 : index->frame_for_pts(last_sent_pts));
    if (skipped >= kMinFramesSkippedBySeek) do_seek(kf, j, true);
  };

  // --- frames out of the decoder -----------------------------------------------------------
  ff::FramePtr frame = ff::make_frame();
  int64_t last_ts = AV_NOPTS_VALUE;
  const double nominal_frame_sec = info.video.fps > 0 ? 1.0 / info.video.fps : 0.0;
  auto on_frame = [&]() {
    ++stats.frames_decoded;
    int64_t ts = frame->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE) ts = frame->pts;
    if (ts == AV_NOPTS_VALUE)  // no timestamp at all: continue the previous one by a frame
      ts = last_ts == AV_NOPTS_VALUE ? 0 : last_ts + std::max<int64_t>(1, std::llround(nominal_frame_sec / tb));
    last_ts = ts;
    int64_t f_index;
    double f_sec;
    if (index) {
      if (ts < index->first_pts()) return;  // before the timeline (edit-list lead-in)
      f_index = index->frame_for_pts(ts);
      f_sec = index->seconds(ts);
      if (verify_target >= 0) {
        if (f_index > verify_target && verify_kf) {
          // Landed past the target (Note [Seek target]): step back one keyframe.
          const IndexEntry* earlier = index->keyframe_before(*verify_kf);
          int64_t target = verify_target;
          if (earlier) {
            do_seek(*earlier, target, true);
          } else {
            verify_target = -1;
            seek_allowed = false;
            warn_once("overshoot:" + input->name(), input->name() + ": seeking overshot the first keyframe");
          }
          if (earlier) return;
        }
        verify_target = -1;
      }
    } else {
      if (!live_origin_pts) live_origin_pts = ts;
      f_sec = ticks_to_seconds(ts - *live_origin_pts, st->time_base.num, st->time_base.den);
      if (f_sec < 0) return;
      f_index = live_frame_counter++;
    }
    if (has_pending && f_sec > p_sec) serve_pending(f_sec);
    av_frame_unref(pending.get());
    av_frame_move_ref(pending.get(), frame.get());
    has_pending = true;
    ++p_serial;
    p_index = f_index;
    p_sec = f_sec;
#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 30, 100)
    int64_t dur = pending->duration;
#else
    int64_t dur = pending->pkt_duration;
#endif
    if (index && (*index)[f_index].duration > 0) dur = (*index)[f_index].duration;
    p_dur = dur > 0 ? dur * tb : nominal_frame_sec;
    if (progress && stats.frames_decoded % kProgressEveryFrames == 0) {
      Progress pr{"decode", index ? f_index + 1 : stats.frames_decoded, index ? index->size() : -1, f_sec};
      if (!progress(pr)) throw Cancelled(input->name() + ": cancelled");
    }
  };
  auto receive_all = [&]() {
    while (true) {
      int ret = avcodec_receive_frame(decoder.get(), frame.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return;
      if (ret < 0) {
        ++stats.decode_errors;
        stats.last_error = ffmpeg_error_text(ret);
        return;
      }
      on_frame();
      av_frame_unref(frame.get());
    }
  };
  auto send = [&](const AVPacket* pkt) {
    int ret = avcodec_send_packet(decoder.get(), pkt);
    while (ret == AVERROR(EAGAIN)) {
      receive_all();
      ret = avcodec_send_packet(decoder.get(), pkt);
    }
    if (ret < 0 && ret != AVERROR_EOF) {  // corrupt packet: skip it, keep going
      ++stats.decode_errors;
      stats.last_error = ffmpeg_error_text(ret);
    }
    receive_all();
  };

  // --- the packet loop ---------------------------------------------------------------------
  auto pkt = ff::make_packet();
  bool reached_end = false;
  while (true) {
    maybe_seek();
    if (all_done()) break;
    if (input->interrupt().stop) break;
    input->interrupt().arm();
    int ret = av_read_frame(input->ctx(), pkt.get());
    if (ret == AVERROR(EAGAIN)) {  // devices with no frame ready yet
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      continue;
    }
    if (ret < 0) {
      reached_end = true;
      if (ret != AVERROR_EOF && !input->interrupt().stop) {
        stats.truncated = true;
        stats.last_error = input->interrupt().fired ? "no data for " + std::to_string(options.input.timeout_seconds) + " s"
                                                    : ffmpeg_error_text(ret);
        log_message(LogLevel::kWarning, input->name() + ": input ended early: " + stats.last_error +
                                            " (returning the frames before it)");
      }
      break;
    }
    if (pkt->stream_index != stream) {
      av_packet_unref(pkt.get());
      continue;
    }
    ++stats.packets_read;
    const bool key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    if (options.keyframes_only && !key) {
      ++stats.packets_skipped;
      av_packet_unref(pkt.get());
      continue;
    }
    int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    if (pts != AV_NOPTS_VALUE) {
      last_sent_pts = std::max(last_sent_pts, pts);
      if (key) last_key_sent_pts = std::max(last_key_sent_pts, pts);
    }
    decoder->skip_frame = packet_needed(*pkt) ? AVDISCARD_DEFAULT : AVDISCARD_NONREF;
    send(pkt.get());
    av_packet_unref(pkt.get());
  }
  decoder->skip_frame = AVDISCARD_DEFAULT;

  if (reached_end && !all_done()) {
    send(nullptr);  // drain the frames still inside the decoder
    avcodec_flush_buffers(decoder.get());
    serve_pending(p_sec + std::max(p_dur, 1e-6));
    if (index && scan_truncated) {
      stats.truncated = true;
      if (stats.last_error.empty()) stats.last_error = scan_error;
      log_message(LogLevel::kWarning, input->name() + ": file is truncated (" + scan_error +
                                          "); returning the frames before the cut");
    }
  }
  for (OutStream& o : outs) flush(o);
  if (progress) progress(Progress{"decode", index ? index->size() : stats.frames_decoded,
                                  index ? index->size() : stats.frames_decoded, p_sec});
  return stats;
}

}  // namespace sfvu::decode
