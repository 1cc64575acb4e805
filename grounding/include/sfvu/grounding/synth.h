// sfvu/grounding/synth.h: a synthetic grounding + QA benchmark whose every query needs a
// particular pathway (`sfvu synth`).
//
// Usage:
//   SynthOptions opt;                                  // 128 px, 20-40 s, 24 fps
//   SynthVideo v = make_synth_video(/*seed=*/7, /*index=*/3, opt);   // "synth7_0003", pure
//   SynthRenderer renderer(v);
//   std::vector<uint8_t> rgb(size_t(v.size) * v.size * 3);
//   for (int64_t k = 0; k < v.n_frames; ++k) renderer.render_frame(k, rgb.data());
//   // or the whole dataset: videos/<vid>.mp4, annotations.jsonl, qa.jsonl, synth.json
//   write_synth_dataset("out", {/*n_videos=*/100, /*seed=*/7}, opt, progress);
//
// Every video shows coloured shapes (square, circle, upward triangle) on a static textured
// grey background; nothing but the actors moves. Per video (Note [Synthetic events]):
//   motion  query  "the red square moves left"            -> the movement's window
//   detail  query  "the shape with a small white dot appears" -> the dotted shape's window
//   short   query  "the green circle flashes"              -> the 0.5-1.5 s appearance
//   motion  QA     "which way does the blue triangle move?"   (left/right/up/down)
//   detail  QA     "what colour is the shape with the white dot?" (the four colours)
// The dot and its distractor, a bar, have the same number of white pixels placed in the same
// S/32-pixel cell, so they look alike at the fast pathway's 32 px and differ at full size;
// flashes are shorter than the slow pathway's 1 s sampling step; direction needs frame order.
//
// Units: pixels at the full frame size, frames at SynthOptions::fps (time of frame k is
// k / fps seconds), windows in seconds. Determinism: a video depends only on (seed, index,
// options, kSynthVersion): randomness is std::mt19937_64 (fully specified by the standard)
// seeded from (seed, index), turned into numbers by our own helpers rather than the
// std::*_distribution classes (whose output differs across standard libraries), so scenes
// are identical on every platform, and rendered frames too up to rare +/-1 grey levels where
// libm's exp() rounds differently. The mp4 bytes also depend on the libx264 version (one
// encoder thread per video, so a given build reproduces them exactly).
//
// Thread safety: all functions are reentrant; a SynthRenderer is immutable after
// construction and may render from several threads.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sfvu/base/progress.h"

namespace sfvu::grounding {

/// Bumped whenever the same (seed, index, options) would give a different video.
inline constexpr int kSynthVersion = 1;

enum class SynthColour { kRed, kGreen, kBlue, kYellow };
enum class SynthShape { kSquare, kCircle, kTriangle };
enum class SynthMark { kNone, kDot, kBar };
enum class SynthDirection { kLeft, kRight, kUp, kDown };

const char* to_string(SynthColour colour);   ///< "red", "green", "blue", "yellow"
const char* to_string(SynthShape shape);     ///< "square", "circle", "triangle"
const char* to_string(SynthMark mark);       ///< "none", "dot", "bar"
const char* to_string(SynthDirection dir);   ///< "left", "right", "up", "down"
/// red (220,40,40), green (40,190,60), blue (50,90,230), yellow (230,210,40).
std::array<uint8_t, 3> synth_rgb(SynthColour colour);

struct SynthOptions {
  int size = 128;            ///< frame width = height, pixels; even, 64..512
  double min_seconds = 20;   ///< durations are drawn uniformly in [min_seconds, max_seconds]
  double max_seconds = 40;   ///< ... and rounded to whole frames; 20 <= min <= max <= 150
  int fps = 24;              ///< frames per second, 1..120
  /// Note [Extra training queries]: also annotate events of the same scene that the three
  /// benchmark queries leave out (the motion actor's way back, the QA actor's move, the other
  /// flash, the nameable bar distractor: kinds motion, short, appear), qids +3 +4 +7 +8. The
  /// videos are identical either way; only training splits use it, so a model sees more
  /// supervision per decoded video while test splits keep exactly the benchmark's queries.
  bool extra_queries = false;
};
/// Throws UsageError naming the bad field.
void validate(const SynthOptions& options);

/// One linear movement: the actor's top-left moves by (dx, dy) pixels at constant speed
/// between frame start_frame (still at the old place) and frame end_frame (at the new one).
struct SynthMove {
  int64_t start_frame = 0, end_frame = 0;
  int dx = 0, dy = 0;
};

struct SynthActor {
  /// "motion", "qa_motion", "static", "detail_target", "detail_distractor", "short_target",
  /// "short_distractor_colour", "short_distractor_long".
  std::string role;
  SynthColour colour = SynthColour::kRed;
  SynthShape shape = SynthShape::kSquare;
  int side_pixels = 0;   ///< square side / circle diameter / triangle base and height
  SynthMark mark = SynthMark::kNone;
  /// The white mark's rectangle, relative to the actor's top-left (pixels).
  int mark_x = 0, mark_y = 0, mark_width = 0, mark_height = 0;
  int64_t appear_frame = 0, disappear_frame = 0;  ///< visible in frames [appear, disappear)
  int x = 0, y = 0;                 ///< top-left before any movement, pixels
  std::vector<SynthMove> moves;     ///< in time order, disjoint
  uint64_t texture_seed = 0;        ///< the fill noise (static per actor)

  bool visible_at(int64_t frame) const { return frame >= appear_frame && frame < disappear_frame; }
  /// Top-left at `frame` (sub-pixel during a movement; drawn at the rounded position).
  std::array<double, 2> position_at(int64_t frame) const;
};

struct SynthBlob {
  double cx = 0, cy = 0;     ///< centre, pixels
  double sigma = 0;          ///< Gaussian radius, pixels
  double amplitude = 0;      ///< grey levels at the centre, within [-15, 15]
};

/// Static per video: grey level + soft blobs + per-pixel noise in [-10, 10].
struct SynthBackground {
  int grey = 120;            ///< base level, 90..150
  std::vector<SynthBlob> blobs;
  uint64_t noise_seed = 0;
};

/// One grounding query (a line of annotations.jsonl).
struct SynthQuery {
  int64_t qid = 0;
  std::string kind;                   ///< "motion", "detail" or "short"
  std::string text;
  double start_seconds = 0, end_seconds = 0;  ///< the exact window (frame times)
  std::vector<int64_t> clip_ids;      ///< 2-s clips [2i, 2i+2) overlapping the window
  std::vector<int> saliency;          ///< per clip: 1 + round(3 * overlap / 2 s), 1..4
};

/// One multiple-choice question (a line of qa.jsonl).
struct SynthQa {
  int64_t qid = 0;
  std::string type;                   ///< "motion" or "detail"
  std::string question;
  std::vector<std::string> options;   ///< 4 options
  int answer = 0;                     ///< index into options
  /// When the asked event happens (the qa actor's move, the dotted shape's visibility):
  /// written as "relevant_windows" (grounded QA, as NExT-GQA pairs questions with moments).
  double start_seconds = 0, end_seconds = 0;
};

struct SynthVideo {
  std::string vid;                    ///< "synth<seed>_<index, 4 digits>"
  int64_t seed = 0, index = 0;
  int size = 0, fps = 0;
  int64_t n_frames = 0;
  double duration_seconds = 0;        ///< n_frames / fps
  SynthBackground background;
  std::vector<SynthActor> actors;     ///< in drawing order
  std::vector<SynthQuery> queries;    ///< motion, detail, short (+ extras, SynthOptions::extra_queries)
  std::vector<SynthQa> qa;            ///< motion, detail
};

/// Largest seed whose qids (seed * 100000 + index * 10 + j) fit in int64.
inline constexpr int64_t kSynthMaxSeed = (INT64_MAX - 99999) / 100000;
/// Most videos per dataset (4-digit index, and the qid scheme reserves 10 per video).
inline constexpr int64_t kSynthMaxVideos = 10000;

/// "synth7_0003".
std::string synth_video_id(int64_t seed, int64_t index);

/// The scene of video `index` of dataset `seed`: pure (no I/O), deterministic. Throws
/// UsageError for bad options or seed/index outside [0, kSynthMaxSeed] / [0, kSynthMaxVideos).
SynthVideo make_synth_video(int64_t seed, int64_t index, const SynthOptions& options);

/// Rasterises frames of one video: prepares the background and the actors' sprites once.
class SynthRenderer {
 public:
  explicit SynthRenderer(const SynthVideo& video);
  /// Writes frame `frame` as size*size*3 bytes of packed RGB24 (row-major). Throws
  /// UsageError unless 0 <= frame < n_frames.
  void render_frame(int64_t frame, uint8_t* rgb) const;
  int size() const { return size_; }

 private:
  struct Sprite {
    std::vector<uint8_t> rgb;    ///< side*side*3
    std::vector<uint8_t> mask;   ///< side*side, 1 = inside the shape
  };
  std::vector<SynthActor> actors_;
  int size_;
  int64_t n_frames_;
  std::vector<uint8_t> background_;
  std::vector<Sprite> sprites_;  ///< one per actor
};

/// The frame displayed at `t_seconds` (frame floor(t * fps), t in [0, duration)), for tests
/// and previews; builds a SynthRenderer per call. `options` must be those the video was
/// made with (UsageError otherwise).
void render_synth_frame(const SynthVideo& video, double t_seconds, const SynthOptions& options, uint8_t* rgb);

/// annotations.jsonl lines of one video (QVHighlights schema + "kind"), each ending '\n'.
std::string synth_annotation_lines(const SynthVideo& video);
/// qa.jsonl lines of one video ("qid", "vid", "video", "question", "options", "answer", "type").
std::string synth_qa_lines(const SynthVideo& video);

struct SynthDatasetOptions {
  int64_t n_videos = 1;      ///< 1..kSynthMaxVideos
  int64_t seed = 0;          ///< 0..kSynthMaxSeed
  int jobs = 0;              ///< parallel videos; 0 = hardware threads
  bool overwrite = false;    ///< allow an out_dir that already holds annotations.jsonl
  int crf = 14;              ///< x264 quality of the videos
};

struct SynthSummary {
  std::string out_dir;
  int64_t videos = 0, queries = 0, qa = 0, frames = 0;
  double seconds_of_video = 0;
};

/// Writes out_dir/videos/<vid>.mp4 (H.264), out_dir/annotations.jsonl, out_dir/qa.jsonl and
/// out_dir/synth.json (generator version and options). The jsonl files are written last
/// (lines ordered by video index), each atomically, so their presence means a complete
/// dataset. `progress` (stage "encode", done/total in frames, media_seconds = seconds of video
/// encoded) is called from the worker threads, one call at a time; returning false stops the
/// workers and throws sfvu::Cancelled. Throws UsageError (bad options, out_dir already holds
/// a dataset and !overwrite), IoError, FormatError.
SynthSummary write_synth_dataset(const std::string& out_dir, const SynthDatasetOptions& dataset,
                                 const SynthOptions& options, const ProgressCallback& progress = {});

}  // namespace sfvu::grounding
