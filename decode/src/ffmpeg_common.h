// Private: RAII owners for every FFmpeg object (no raw av_*_free anywhere else), and helpers.
#pragma once

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/dict.h>
#include <libavutil/frame.h>
#include <libswscale/swscale.h>
}

#include <memory>
#include <string>

namespace sfvu::decode::ff {

struct FormatContextCloser {
  void operator()(AVFormatContext* p) const { avformat_close_input(&p); }
};
struct CodecContextFreer {
  void operator()(AVCodecContext* p) const { avcodec_free_context(&p); }
};
struct PacketFreer {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct FrameFreer {
  void operator()(AVFrame* p) const { av_frame_free(&p); }
};
struct SwsFreer {
  void operator()(SwsContext* p) const { sws_freeContext(p); }
};
struct DictFreer {
  void operator()(AVDictionary* p) const { av_dict_free(&p); }
};
struct AvioContextFreer {
  void operator()(AVIOContext* p) const {
    if (p) av_freep(&p->buffer);
    avio_context_free(&p);
  }
};

using FormatContextPtr = std::unique_ptr<AVFormatContext, FormatContextCloser>;
using CodecContextPtr = std::unique_ptr<AVCodecContext, CodecContextFreer>;
using PacketPtr = std::unique_ptr<AVPacket, PacketFreer>;
using FramePtr = std::unique_ptr<AVFrame, FrameFreer>;
using SwsContextPtr = std::unique_ptr<SwsContext, SwsFreer>;
using AvioContextPtr = std::unique_ptr<AVIOContext, AvioContextFreer>;

inline PacketPtr make_packet() { return PacketPtr(av_packet_alloc()); }
inline FramePtr make_frame() { return FramePtr(av_frame_alloc()); }

/// Owns an AVDictionary built up with set(); release() hands it to FFmpeg calls that take
/// AVDictionary** and re-adopt what they leave.
class Dict {
 public:
  Dict() = default;
  ~Dict() { av_dict_free(&d_); }
  Dict(const Dict&) = delete;
  Dict& operator=(const Dict&) = delete;
  void set(const std::string& key, const std::string& value) { av_dict_set(&d_, key.c_str(), value.c_str(), 0); }
  AVDictionary** ptr() { return &d_; }

 private:
  AVDictionary* d_ = nullptr;
};

}  // namespace sfvu::decode::ff
