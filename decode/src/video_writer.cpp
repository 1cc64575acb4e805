// VideoWriter: RGB24 -> swscale -> yuv420p -> libavcodec (H.264) -> libavformat (mp4).
#include "sfvu/decode/video_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

#include "ffmpeg_common.h"
#include "sfvu/base/error.h"
#include "sfvu/decode/video_reader.h"  // ffmpeg_error_text, install_ffmpeg_log_bridge

extern "C" {
#include <libavutil/imgutils.h>
}

namespace sfvu::decode {
namespace {

// An output AVFormatContext owns its AVIOContext only when the format writes a file
// (avformat_close_input is for demuxers). Candidate for ffmpeg_common.h.
struct OutputContextCloser {
  void operator()(AVFormatContext* p) const {
    if (!p) return;
    if (p->pb && !(p->oformat->flags & AVFMT_NOFILE)) avio_closep(&p->pb);
    avformat_free_context(p);
  }
};
using OutputContextPtr = std::unique_ptr<AVFormatContext, OutputContextCloser>;

}  // namespace

struct VideoWriter::Impl {
  std::string path, part_path;
  int width = 0, height = 0;
  OutputContextPtr format;
  ff::CodecContextPtr codec;
  ff::SwsContextPtr sws;
  ff::FramePtr frame;
  ff::PacketPtr packet;
  AVStream* stream = nullptr;  // owned by `format`
  int64_t frames = 0;
  bool finished = false;
  int uncaught_at_open = 0;

  [[noreturn]] void fail_io(const std::string& what, int err) const {
    throw IoError(path + ": " + what + ": " + ffmpeg_error_text(err));
  }
  [[noreturn]] void fail_format(const std::string& what, int err) const {
    throw FormatError(path + ": " + what + ": " + ffmpeg_error_text(err));
  }

  // Moves every packet the encoder has ready into the muxer.
  void drain() {
    for (;;) {
      int ret = avcodec_receive_packet(codec.get(), packet.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return;
      if (ret < 0) fail_format("encoding failed", ret);
      // Encoders with delay (x264) leave the duration unset; the mp4 muxer needs it for the
      // last sample, or the file's duration comes out one frame short.
      if (packet->duration <= 0) packet->duration = 1;
      av_packet_rescale_ts(packet.get(), codec->time_base, stream->time_base);
      packet->stream_index = stream->index;
      ret = av_interleaved_write_frame(format.get(), packet.get());  // takes the reference
      if (ret < 0) fail_io("cannot write packet", ret);
    }
  }

  void remove_part() { std::remove(part_path.c_str()); }
};

VideoWriter::VideoWriter(const std::string& path, int width, int height, int fps_num, int fps_den,
                         VideoWriterOptions options)
    : impl_(std::make_unique<Impl>()) {
  Impl& w = *impl_;
  w.path = path;
  w.part_path = path + ".part";
  w.width = width;
  w.height = height;
  w.uncaught_at_open = std::uncaught_exceptions();
  if (width <= 0 || height <= 0 || width % 2 || height % 2)
    throw UsageError(path + ": video size must be positive and even for yuv420p, got " + std::to_string(width) + "x" +
                     std::to_string(height));
  if (fps_num <= 0 || fps_den <= 0)
    throw UsageError(path + ": frame rate must be positive, got " + std::to_string(fps_num) + "/" +
                     std::to_string(fps_den));
  install_ffmpeg_log_bridge();  // x264 reports at info level on stderr otherwise

  const AVCodec* encoder = avcodec_find_encoder_by_name(options.codec.c_str());
  if (!encoder) throw FormatError(path + ": encoder '" + options.codec + "' is not available in this FFmpeg build");

  AVFormatContext* raw_format = nullptr;
  int ret = avformat_alloc_output_context2(&raw_format, nullptr, "mp4", w.part_path.c_str());
  if (ret < 0 || !raw_format) w.fail_format("cannot create mp4 muxer", ret);
  w.format.reset(raw_format);

  w.stream = avformat_new_stream(w.format.get(), nullptr);
  if (!w.stream) w.fail_format("cannot add video stream", AVERROR(ENOMEM));
  w.codec.reset(avcodec_alloc_context3(encoder));
  if (!w.codec) w.fail_format("cannot allocate encoder", AVERROR(ENOMEM));
  AVCodecContext* c = w.codec.get();
  c->width = width;
  c->height = height;
  c->pix_fmt = AV_PIX_FMT_YUV420P;
  c->time_base = AVRational{fps_den, fps_num};  // one tick per frame
  c->framerate = AVRational{fps_num, fps_den};
  c->gop_size = options.gop_frames;
  c->thread_count = options.threads;
  c->color_range = AVCOL_RANGE_MPEG;  // what swscale's default RGB->YUV produces
  c->colorspace = AVCOL_SPC_SMPTE170M;
  c->color_primaries = AVCOL_PRI_SMPTE170M;
  c->color_trc = AVCOL_TRC_SMPTE170M;
  if (w.format->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  w.stream->time_base = c->time_base;

  ff::Dict codec_options;
  if (options.codec.rfind("libx264", 0) == 0) {
    codec_options.set("crf", std::to_string(options.crf));
    codec_options.set("preset", options.preset);
  }
  ret = avcodec_open2(c, encoder, codec_options.ptr());
  if (ret < 0) w.fail_format("cannot open encoder " + options.codec, ret);
  ret = avcodec_parameters_from_context(w.stream->codecpar, c);
  if (ret < 0) w.fail_format("cannot set stream parameters", ret);

  w.sws.reset(sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, AV_PIX_FMT_YUV420P,
                             SWS_BILINEAR | SWS_ACCURATE_RND, nullptr, nullptr, nullptr));
  if (!w.sws) w.fail_format("cannot create rgb24 -> yuv420p converter", AVERROR(EINVAL));
  w.frame = ff::make_frame();
  w.packet = ff::make_packet();
  if (!w.frame || !w.packet) w.fail_format("cannot allocate frame", AVERROR(ENOMEM));
  w.frame->format = AV_PIX_FMT_YUV420P;
  w.frame->width = width;
  w.frame->height = height;
  w.frame->color_range = c->color_range;
  w.frame->colorspace = c->colorspace;
  ret = av_frame_get_buffer(w.frame.get(), 0);
  if (ret < 0) w.fail_format("cannot allocate frame", ret);

  ret = avio_open(&w.format->pb, w.part_path.c_str(), AVIO_FLAG_WRITE);
  if (ret < 0) w.fail_io("cannot create " + w.part_path, ret);
  // The mp4 header's duration counts in the movie timescale (1000 by default, so 601/24 s
  // would read 25.042); a multiple of fps_num makes it exact.
  ff::Dict muxer_options;
  muxer_options.set("movie_timescale", std::to_string(fps_num * ((999 + fps_num) / fps_num)));
  ret = avformat_write_header(w.format.get(), muxer_options.ptr());
  if (ret < 0) {
    w.format.reset();
    w.remove_part();
    w.fail_io("cannot write mp4 header", ret);
  }
}

VideoWriter::~VideoWriter() {
  if (!impl_ || impl_->finished) return;
  if (std::uncaught_exceptions() > impl_->uncaught_at_open) {
    impl_->format.reset();  // closes the file
    impl_->remove_part();
    return;
  }
  try {
    finish();
  } catch (const std::exception&) {
    impl_->format.reset();
    impl_->remove_part();
  }
}

void VideoWriter::write(const uint8_t* rgb) {
  Impl& w = *impl_;
  if (w.finished) throw UsageError(w.path + ": write() after finish()");
  // The encoder may still reference the previous frame's buffers.
  int ret = av_frame_make_writable(w.frame.get());
  if (ret < 0) w.fail_format("cannot make frame writable", ret);
  const uint8_t* src[1] = {rgb};
  const int src_stride[1] = {3 * w.width};
  sws_scale(w.sws.get(), src, src_stride, 0, w.height, w.frame->data, w.frame->linesize);
  w.frame->pts = w.frames;
  ret = avcodec_send_frame(w.codec.get(), w.frame.get());
  if (ret < 0) w.fail_format("cannot encode frame " + std::to_string(w.frames), ret);
  ++w.frames;
  w.drain();
}

void VideoWriter::finish() {
  Impl& w = *impl_;
  if (w.finished) return;
  w.finished = true;  // a failure below is final too; the destructor must not retry
  try {
    int ret = avcodec_send_frame(w.codec.get(), nullptr);
    if (ret < 0 && ret != AVERROR_EOF) w.fail_format("cannot flush encoder", ret);
    w.drain();
    ret = av_write_trailer(w.format.get());
    if (ret < 0) w.fail_io("cannot write mp4 trailer", ret);
    ret = avio_closep(&w.format->pb);
    if (ret < 0) w.fail_io("cannot close " + w.part_path, ret);
  } catch (...) {
    w.format.reset();
    w.remove_part();
    throw;
  }
  w.format.reset();
  if (std::rename(w.part_path.c_str(), w.path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    w.remove_part();
    throw IoError(w.path + ": cannot rename " + w.part_path + " into place: " + why);
  }
}

int64_t VideoWriter::frames_written() const { return impl_->frames; }
const std::string& VideoWriter::path() const { return impl_->path; }

}  // namespace sfvu::decode
