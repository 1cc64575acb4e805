// Shared pieces of the sfvu subcommands: option parsing helpers, JSON views of library
// structs, a stderr progress reporter, and frame writers.
#pragma once

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sfvu/base/npy.h"
#include "sfvu/decode/video_reader.h"

namespace sfvu::cli {

namespace po = boost::program_options;
using json = nlohmann::ordered_json;

/// Parses `args` (after the subcommand) against `desc` and `positional`. Prints help and
/// returns false on --help. Throws UsageError on bad options.
bool parse_args(const std::string& command, const std::string& synopsis, const std::vector<std::string>& args,
                po::options_description& desc, const po::positional_options_description& positional,
                po::variables_map& vm);

/// "1.5,3,7" -> {1.5, 3, 7}; throws UsageError naming `option`.
std::vector<double> parse_number_list(const std::string& text, const std::string& option);

/// A number as it reads in --help defaults: 0.7, not 0.69999999999999996.
std::string short_number(double v);

json to_json(const decode::MediaInfo& info);
json to_json(const decode::DecodeStats& stats);
/// [{"index": i, "pts_seconds": t}, ...]
json frames_json(const std::vector<int64_t>& indices, const std::vector<double>& pts_seconds);

/// Writes `j` to `path` (pretty), throwing IoError naming the file.
void write_json_file(const std::string& path, const json& j);
/// Creates `dir` (and parents); throws IoError naming it.
void make_dir(const std::string& dir);

/// "[#########.....................]": 30 cells, `fraction` (clamped to [0, 1]) of them filled.
std::string text_bar(double fraction);

/// Progress on stderr: a bar when stderr is a terminal, a line every few seconds otherwise.
class ProgressReporter {
 public:
  ProgressReporter(std::string label, bool enabled);
  ~ProgressReporter();
  bool operator()(const Progress& p);
  ProgressCallback callback();

 private:
  std::string label_;
  bool enabled_, tty_;
  double start_ = -1, last_print_ = -1;
  bool printed_ = false;
};

/// Writes frames as DIR/000000.png ... (RGB in, PNG out) starting at `first_number`.
void write_pngs(const std::string& dir, const uint8_t* rgb, int64_t n, int width, int height, int64_t first_number);

/// Collects frames of one stream while decoding: npy (streamed) or PNG files, plus the
/// per-frame index/pts list for the JSON report.
class FrameWriter {
 public:
  enum class Format { kPng, kNpy };
  FrameWriter(std::string dir, std::string npy_name, Format format, int width, int height);
  void add(const decode::FrameChunk& chunk);
  void add(const decode::FrameBatch& batch);
  void close();
  json frames() const { return frames_json(indices_, pts_); }
  int64_t count() const { return static_cast<int64_t>(indices_.size()); }

 private:
  void add_frames(const uint8_t* rgb, int64_t n, const int64_t* idx, const double* pts);
  std::string dir_;
  Format format_;
  int width_, height_;
  std::unique_ptr<NpyWriter> npy_;
  std::vector<int64_t> indices_;
  std::vector<double> pts_;
};

/// While alive, the first SIGINT/SIGTERM makes `reader` stop as if its input had ended, so
/// outputs are finalised (a live capture is ended with Ctrl-C); a second one kills as usual.
class StopOnSignal {
 public:
  explicit StopOnSignal(decode::VideoReader& reader);
  ~StopOnSignal();
  StopOnSignal(const StopOnSignal&) = delete;
  StopOnSignal& operator=(const StopOnSignal&) = delete;
  /// True if a signal stopped the reader.
  static bool fired();
};

/// Shared decoder options (--threads, --stream, --timeout, --no-seek, --index).
void add_decoder_options(po::options_description& desc);
decode::DecoderOptions decoder_options(const po::variables_map& vm);

}  // namespace sfvu::cli
