// Private: the one demux pass that builds a FrameIndex, and MediaInfo assembly.
#pragma once

#include <optional>
#include <string>

#include "media_input.h"
#include "sfvu/decode/frame_index.h"
#include "sfvu/decode/media_info.h"

namespace sfvu::decode {

struct ScanResult {
  FrameIndex index;
  bool truncated = false;  ///< the container promised more packets than could be read
  std::string error;       ///< FFmpeg text of the error that ended the scan early
};

/// Reads every packet of `stream` (others must already be discarded). Leaves the demuxer at
/// the end: the caller seeks before decoding.
ScanResult scan_packets(MediaInput& input, int stream);

/// Counter-clockwise display rotation (ffprobe sign) normalised to 0/90/180/270.
int display_rotation_degrees(const AVStream& stream);

/// Assembles MediaInfo for `stream`; `index` may be null (forward-only input).
MediaInfo describe_media(const MediaInput& input, int stream, const FrameIndex* index);

}  // namespace sfvu::decode
