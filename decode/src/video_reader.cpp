#include "sfvu/decode/video_reader.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "reader_impl.h"
#include "sfvu/base/error.h"
#include "sfvu/base/log.h"

namespace sfvu::decode {
namespace {

// The best video stream, skipping cover art (attached pictures are not video).
int select_video_stream(AVFormatContext* ctx, int wanted, const std::string& name) {
  if (wanted >= 0) {
    if (wanted >= static_cast<int>(ctx->nb_streams) ||
        ctx->streams[wanted]->codecpar->codec_type != AVMEDIA_TYPE_VIDEO)
      throw UsageError(name + ": stream " + std::to_string(wanted) + " is not a video stream");
    return wanted;
  }
  int best = av_find_best_stream(ctx, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (best >= 0 && !(ctx->streams[best]->disposition & AV_DISPOSITION_ATTACHED_PIC)) return best;
  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    const AVStream* s = ctx->streams[i];
    if (s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO && !(s->disposition & AV_DISPOSITION_ATTACHED_PIC))
      return static_cast<int>(i);
  }
  throw FormatError(name + ": no video stream (" + std::to_string(ctx->nb_streams) + " stream(s), none of them video)");
}

}  // namespace

VideoReader::Impl::Impl(const Source& source, DecoderOptions opts) : options(std::move(opts)) {
  input = std::make_unique<MediaInput>(source, options.input);
  AVFormatContext* ctx = input->ctx();
  stream = select_video_stream(ctx, options.stream_index, input->name());
  st = ctx->streams[stream];
  for (unsigned i = 0; i < ctx->nb_streams; ++i)
    if (static_cast<int>(i) != stream) ctx->streams[i]->discard = AVDISCARD_ALL;

  const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
  if (!codec)
    throw FormatError(input->name() + ": unsupported video codec '" + avcodec_get_name(st->codecpar->codec_id) +
                      "' (this FFmpeg has no decoder for it)");
  decoder.reset(avcodec_alloc_context3(codec));
  if (!decoder) throw Error(input->name() + ": out of memory");
  int ret = avcodec_parameters_to_context(decoder.get(), st->codecpar);
  if (ret < 0) throw FormatError(input->name() + ": bad codec parameters: " + ffmpeg_error_text(ret));
  decoder->pkt_timebase = st->time_base;
  int threads = options.threads > 0 ? options.threads
                                    : static_cast<int>(std::min(16u, std::max(1u, std::thread::hardware_concurrency())));
  decoder->thread_count = threads;
  decoder->thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  ret = avcodec_open2(decoder.get(), codec, nullptr);
  if (ret < 0)
    throw FormatError(input->name() + ": cannot open the " + codec->name + " decoder: " + ffmpeg_error_text(ret));

  bool want_index = options.index == IndexMode::kAlways ? input->seekable()
                    : options.index == IndexMode::kAuto ? input->seekable() && input->local()
                                                        : false;
  if (want_index) {
    ScanResult scan = scan_packets(*input, stream);
    if (scan.index.empty()) {
      throw FormatError(input->name() + ": the video stream has no packets" +
                        (scan.error.empty() ? std::string() : ": " + scan.error));
    }
    index = std::move(scan.index);
    scan_truncated = scan.truncated;
    scan_error = scan.error;
  }
  info = describe_media(*input, stream, index ? &*index : nullptr);
  clockwise_rotation = (360 - info.video.rotation_degrees) % 360;
  positioned = !index;  // after a scan the demuxer sits at the end
}

bool VideoReader::Impl::seek_to(const IndexEntry& kf) {
  // Seek with our own indexed keyframe timestamp as the upper bound (Note [Seek target]).
  int64_t ts = kf.pts;
  input->interrupt().arm();
  int ret = avformat_seek_file(input->ctx(), stream, INT64_MIN, ts, ts, 0);
  if (ret < 0) ret = av_seek_frame(input->ctx(), stream, ts, AVSEEK_FLAG_BACKWARD);
  if (ret < 0) {
    warn_once("seek:" + input->name(), input->name() + ": seeking failed (" + ffmpeg_error_text(ret) +
                                           "), decoding through instead");
    return false;
  }
  avcodec_flush_buffers(decoder.get());
  positioned = true;
  return true;
}

VideoReader::VideoReader(Source source, DecoderOptions options)
    : impl_(std::make_unique<Impl>(source, std::move(options))) {}

VideoReader::~VideoReader() = default;

const MediaInfo& VideoReader::info() const { return impl_->info; }
const FrameIndex* VideoReader::index() const { return impl_->index ? &*impl_->index : nullptr; }

DecodeStats VideoReader::decode(const std::vector<StreamRequest>& requests, const ChunkSink& sink,
                                const ProgressCallback& progress) {
  return impl_->decode(requests, sink, progress);
}

void VideoReader::interrupt() { impl_->input->interrupt().stop = true; }

ReadResult VideoReader::read(const std::vector<StreamRequest>& requests, const ProgressCallback& progress) {
  ReadResult result;
  result.streams.resize(requests.size());
  std::vector<std::vector<int64_t>> slots(requests.size());
  std::vector<bool> ordered(requests.size(), true);
  for (size_t k = 0; k < requests.size(); ++k) {  // reserve once: no regrowth copies
    int64_t n = expected_frames(requests[k].plan);
    const FrameFormat& f = requests[k].format;
    if (n > 0)
      result.streams[k].rgb.reserve(static_cast<size_t>(n) * size_t(f.out_width(info().video.width)) *
                                    size_t(f.out_height(info().video.height)) * 3);
  }
  result.stats = decode(
      requests,
      [&](FrameChunk&& c) {
        std::vector<int64_t>& s = slots[static_cast<size_t>(c.stream)];
        for (int64_t slot : c.slots) {
          if (!s.empty() && slot < s.back()) ordered[static_cast<size_t>(c.stream)] = false;
          s.push_back(slot);
        }
        result.streams[static_cast<size_t>(c.stream)].append(c);
      },
      progress);
  for (size_t k = 0; k < requests.size(); ++k) {
    FrameBatch& b = result.streams[k];
    if (b.width == 0) {  // no frame at all: still report the size the stream would have had
      FrameFormat f = requests[k].format;
      b.width = f.out_width(info().video.width);
      b.height = f.out_height(info().video.height);
    }
    if (ordered[k]) continue;
    // Explicit timestamps in arbitrary order: put frames back into request order.
    std::vector<size_t> order(slots[k].size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t c) { return slots[k][a] < slots[k][c]; });
    size_t fb = size_t(b.width) * b.height * 3;
    FrameBatch sorted;
    sorted.width = b.width;
    sorted.height = b.height;
    sorted.rgb.resize(b.rgb.size());
    for (size_t i = 0; i < order.size(); ++i) {
      sorted.indices.push_back(b.indices[order[i]]);
      sorted.pts_seconds.push_back(b.pts_seconds[order[i]]);
      std::copy_n(b.rgb.begin() + static_cast<std::ptrdiff_t>(order[i] * fb), fb,
                  sorted.rgb.begin() + static_cast<std::ptrdiff_t>(i * fb));
    }
    b = std::move(sorted);
  }
  return result;
}

int64_t VideoReader::expected_frames(const SamplingPlan& plan) const {
  const double duration = info().duration_seconds;
  if (plan.mode != SampleMode::kAll) return TargetCursor(plan, duration).total();
  if (!index()) return -1;
  const FrameIndex& ix = *index();
  int64_t first = std::max<int64_t>(0, ix.frame_at(plan.from_seconds));
  int64_t end = std::isfinite(plan.to_seconds) && ix.frame_at(plan.to_seconds) >= 0 ? ix.frame_at(plan.to_seconds) + 1
                                                                                     : ix.size();
  return std::max<int64_t>(0, end - first);
}

void FrameBatch::append(const FrameChunk& c) {
  width = c.width;
  height = c.height;
  indices.insert(indices.end(), c.indices.begin(), c.indices.end());
  pts_seconds.insert(pts_seconds.end(), c.pts_seconds.begin(), c.pts_seconds.end());
  rgb.insert(rgb.end(), c.rgb.begin(), c.rgb.end());
}

MediaInfo probe(const Source& source, const DecoderOptions& options) {
  VideoReader reader(source, options);
  return reader.info();
}

}  // namespace sfvu::decode
