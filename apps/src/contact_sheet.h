// A contact sheet of the two sampled streams: slow frames large, fast frames small, each
// stamped with its presentation time. OpenCV drawing, PNG output.
#pragma once

#include <string>
#include <vector>

#include "sfvu/decode/video_reader.h"

namespace sfvu::cli {

struct SheetStream {
  std::string title;                       ///< e.g. "slow: 1 fps, 224x224"
  const decode::FrameBatch* frames = nullptr;  ///< RGB frames with their times
};

/// Lays the streams out one under another, `columns` thumbnails per row for each stream,
/// under `header` lines; writes `path` (PNG). Throws IoError if the file cannot be written.
void write_contact_sheet(const std::string& path, const std::vector<std::string>& header,
                         const std::vector<SheetStream>& streams, int sheet_width = 1792);

}  // namespace sfvu::cli
