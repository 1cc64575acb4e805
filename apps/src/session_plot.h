// `--plot` of the batch commands (`sfvu ground`, `sfvu predict`): the PNG of one (video,
// query) result with slow-frame thumbnails, and how its path is written into the JSON line.
#pragma once

#include <string>
#include <vector>

#include "grounding_plot.h"
#include "sfvu/decode/video_reader.h"
#include "sfvu/grounding/video_pipeline.h"

namespace sfvu::cli {

/// Up to `n` slow frames of the session's video (evenly chosen), about 96 px tall, decoded
/// again sparsely (the session may come from the token cache, which keeps tokens, not pixels).
/// Empty when the session has no video file to read (pre-extracted tokens).
std::vector<PlotThumbnail> session_thumbnails(const grounding::VideoSession& session,
                                              const decode::DecoderOptions& decoder, size_t n = 24);

/// Writes the plot of `result` for (`video`, `query`) to `png_path` (IoError naming it).
void write_result_plot(const std::string& png_path, const std::string& video, const std::string& query,
                       const grounding::GroundingResult& result, const std::vector<PlotThumbnail>& thumbnails);

/// How a JSON line names `file`: relative to the folder of the JSON lines file `out` (so the
/// pair can move together), absolute when the lines go to stdout (`out` empty).
std::string path_from_out(const std::string& file, const std::string& out);

}  // namespace sfvu::cli
