// sfvu/decode/media_info.h: what probe() reports about an input.
//
// Times are seconds. "Displayed" sizes are after rotation, as the ffmpeg CLI shows them.
#pragma once

#include <cstdint>
#include <string>

#include "sfvu/decode/source.h"

namespace sfvu::decode {

struct VideoStreamInfo {
  int stream_index = -1;     ///< index in the container
  std::string codec;         ///< FFmpeg codec name, e.g. "h264"
  int width = 0;             ///< displayed width (after rotation)
  int height = 0;            ///< displayed height (after rotation)
  int coded_width = 0;       ///< stored frame width (before rotation)
  int coded_height = 0;      ///< stored frame height (before rotation)
  /// Counter-clockwise rotation in the display matrix (ffprobe's sign), normalised to
  /// 0/90/180/270. Frames are always returned already rotated, as the ffmpeg CLI does.
  int rotation_degrees = 0;
  std::string pix_fmt;       ///< decoder pixel format, e.g. "yuv420p"
  double fps = 0;            ///< average frame rate; from the packet index when the header's is absent or absurd
  int64_t n_frames = 0;      ///< frame count
  bool n_frames_exact = false;  ///< true when counted from a packet index, false when estimated
};

struct MediaInfo {
  std::string path;          ///< Source::location
  std::string format;        ///< demuxer name(s), e.g. "mov,mp4,m4a,3gp,3g2,mj2"
  /// Video timeline length: first frame's pts to the end of the last frame (packet index);
  /// header duration when no index; negative when unknown (live).
  double duration_seconds = -1;
  double container_duration_seconds = -1;  ///< the container header's duration, -1 if none
  double start_seconds = 0;  ///< presentation time of the first video frame in the container
  bool has_audio = false;
  bool seekable = false;     ///< false for live/forward-only inputs
  bool indexed = false;      ///< a packet index was built (exact counts, seeking)
  VideoStreamInfo video;
};

}  // namespace sfvu::decode
