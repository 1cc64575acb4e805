#include "stream_scan.h"

#include <cmath>
#include <cstdlib>

#include "sfvu/base/error.h"
#include "sfvu/decode/video_reader.h"

extern "C" {
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

namespace sfvu::decode {

ScanResult scan_packets(MediaInput& input, int stream) {
  AVFormatContext* ctx = input.ctx();
  AVStream* st = ctx->streams[stream];
  std::vector<IndexEntry> frames, discarded;
  ScanResult result;
  auto pkt = ff::make_packet();
  while (true) {
    input.interrupt().arm();
    int ret = av_read_frame(ctx, pkt.get());
    if (ret == AVERROR(EAGAIN)) continue;
    if (ret < 0) {
      if (ret != AVERROR_EOF) {
        result.truncated = true;
        result.error = ffmpeg_error_text(ret);
      }
      break;
    }
    if (pkt->stream_index == stream) {
      IndexEntry e;
      e.pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
      e.dts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : e.pts;
      e.duration = pkt->duration;
      e.key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
      if (e.pts != AV_NOPTS_VALUE) {
        // Edit-list-trimmed packets are decoded (for reference) but are not frames.
        if (pkt->flags & AV_PKT_FLAG_DISCARD) discarded.push_back(e);
        else frames.push_back(e);
      }
    }
    av_packet_unref(pkt.get());
  }
  // A container with a sample table (mp4, avi) knows where its last packet lies: if that is
  // past the end of the file, the file was cut (the demuxer then just reports EOF early).
  int promised = avformat_index_get_entries_count(st);
  int64_t file_size = ctx->pb ? avio_size(ctx->pb) : -1;
  if (!result.truncated && promised > 0 && file_size > 0) {
    const AVIndexEntry* last = avformat_index_get_entry(st, promised - 1);
    if (last && last->pos >= 0 && last->pos + last->size > file_size) {
      result.truncated = true;
      result.error = "file ends at byte " + std::to_string(file_size) + " but its index points to byte " +
                     std::to_string(last->pos + last->size);
    }
  }
  result.index = FrameIndex(std::move(frames), std::move(discarded), st->time_base.num, st->time_base.den);
  return result;
}

int display_rotation_degrees(const AVStream& st) {
  double ccw = 0;
  const uint8_t* matrix = av_stream_get_side_data(&st, AV_PKT_DATA_DISPLAYMATRIX, nullptr);
  if (matrix) {
    ccw = av_display_rotation_get(reinterpret_cast<const int32_t*>(matrix));
    if (std::isnan(ccw)) ccw = 0;
  } else if (AVDictionaryEntry* tag = av_dict_get(st.metadata, "rotate", nullptr, 0)) {
    ccw = -std::atof(tag->value);  // the legacy tag is clockwise
  }
  long quarter = std::lround(ccw / 90.0);
  return static_cast<int>(((quarter % 4) + 4) % 4) * 90;
}

MediaInfo describe_media(const MediaInput& input, int stream, const FrameIndex* index) {
  const AVFormatContext* ctx = input.ctx();
  const AVStream* st = ctx->streams[stream];
  const AVCodecParameters* par = st->codecpar;
  const double tb = av_q2d(st->time_base);
  MediaInfo info;
  info.path = input.name();
  info.format = ctx->iformat ? ctx->iformat->name : "";
  if (ctx->duration != AV_NOPTS_VALUE && ctx->duration > 0)
    info.container_duration_seconds = double(ctx->duration) / AV_TIME_BASE;
  for (unsigned i = 0; i < ctx->nb_streams; ++i)
    if (ctx->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) info.has_audio = true;
  info.seekable = input.seekable();
  info.indexed = index != nullptr;

  VideoStreamInfo& v = info.video;
  v.stream_index = stream;
  v.codec = avcodec_get_name(par->codec_id);
  v.coded_width = par->width;
  v.coded_height = par->height;
  v.rotation_degrees = display_rotation_degrees(*st);
  bool transposed = v.rotation_degrees == 90 || v.rotation_degrees == 270;
  v.width = transposed ? par->height : par->width;
  v.height = transposed ? par->width : par->height;
  const char* pf = av_get_pix_fmt_name(static_cast<AVPixelFormat>(par->format));
  v.pix_fmt = pf ? pf : "unknown";

  if (index && !index->empty()) {
    info.start_seconds = (*index)[0].pts * tb;
    info.duration_seconds = index->duration_seconds();
  } else {
    if (st->start_time != AV_NOPTS_VALUE) info.start_seconds = st->start_time * tb;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0) info.duration_seconds = st->duration * tb;
    else if (info.container_duration_seconds > 0) info.duration_seconds = info.container_duration_seconds;
  }

  // fps: the header's average rate unless absent or absurd (fire2.mp4 says 90000 in
  // r_frame_rate); then the index's count over duration.
  auto sane = [](AVRational r) { return r.num > 0 && r.den > 0 && av_q2d(r) <= 1000.0; };
  if (sane(st->avg_frame_rate)) v.fps = av_q2d(st->avg_frame_rate);
  else if (index && index->size() > 1 && info.duration_seconds > 0) v.fps = index->size() / info.duration_seconds;
  else if (sane(st->r_frame_rate)) v.fps = av_q2d(st->r_frame_rate);

  if (index) {
    v.n_frames = index->size();
    v.n_frames_exact = true;
  } else if (st->nb_frames > 0) {
    v.n_frames = st->nb_frames;
  } else if (info.duration_seconds > 0 && v.fps > 0) {
    v.n_frames = std::llround(info.duration_seconds * v.fps);
  }
  return info;
}

}  // namespace sfvu::decode
