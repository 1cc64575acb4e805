// The synthetic benchmark's scenes: actors, their times and places, and the queries (pure).
//
// Note [Synthetic events]
// Each query is built so that one pathway is needed (slow: 1 fps at full size; fast: 8 fps
// at 32 px):
//  - motion: the motion actor M moves in direction d and later (or earlier) back the
//    opposite way; only the order of frames tells the two windows apart.
//  - detail: three shapes of the same shape s, visible at disjoint times; the target has a
//    white dot, the two distractors a white bar with the same number of white pixels, in the
//    same cell of the S/32 grid (Note [Mark alignment]), so only full size separates them.
//    Distractor A has the target's colour with probability 1/2, B the other colour, so the
//    majority colour says nothing.
//  - short: F is visible 0.5-1.5 s (it may fall between two 1 fps samples); the same shape
//    in another colour flashes at another time, and F's own colour+shape stays for 4-8 s at
//    yet another time, so a single frame of a red circle does not identify the flash.
// All (colour, shape) combinations of M, the QA actor Q, the static distractor and the
// event actors are distinct, so every text names one actor (F and its long double, the
// target and a same-coloured distractor, share one at disjoint times by design).
//
// Note [Event range]
// Event intervals lie in [0.5 s, min(D - 0.5 s, 2 * floor(D / 2))]: the QVHighlights
// evaluator counts floor(D / 2) whole 2-s clips and rejects clip ids past them, so windows
// stay where every overlapped clip exists. Times are whole frames: a window [a, b] means
// frames k with a <= k / fps < b show (or move) the actor.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "sfvu/base/error.h"
#include "sfvu/grounding/synth.h"
#include "synth_layout.h"

namespace sfvu::grounding {
namespace {

using synth_detail::SynthRng;

// Starts for intervals of `lengths` frames inside [lo, hi), in random order, at least `gap`
// frames apart; false when they cannot fit.
bool place_intervals(SynthRng& rng, const std::vector<int64_t>& lengths, int64_t lo, int64_t hi, int64_t gap,
                     std::vector<int64_t>& starts) {
  const size_t n = lengths.size();
  int64_t need = gap * static_cast<int64_t>(n - 1);
  for (int64_t l : lengths) need += l;
  const int64_t slack = (hi - lo) - need;
  if (slack < 0) return false;
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  rng.shuffle(order);
  std::vector<int64_t> cuts(n);  // the slack before each interval, cumulative
  for (auto& c : cuts) c = rng.uniform_int(0, slack);
  std::sort(cuts.begin(), cuts.end());
  starts.assign(n, 0);
  int64_t used = 0;
  for (size_t k = 0; k < n; ++k) {
    starts[order[k]] = lo + cuts[k] + used;
    used += lengths[order[k]] + gap;
  }
  return true;
}

SynthDirection opposite(SynthDirection d) {
  switch (d) {
    case SynthDirection::kLeft: return SynthDirection::kRight;
    case SynthDirection::kRight: return SynthDirection::kLeft;
    case SynthDirection::kUp: return SynthDirection::kDown;
    case SynthDirection::kDown: return SynthDirection::kUp;
  }
  return d;
}

SynthMove make_move(int64_t start, int64_t length, SynthDirection d, int travel) {
  SynthMove m;
  m.start_frame = start;
  m.end_frame = start + length;
  m.dx = d == SynthDirection::kLeft ? -travel : d == SynthDirection::kRight ? travel : 0;
  m.dy = d == SynthDirection::kUp ? -travel : d == SynthDirection::kDown ? travel : 0;
  return m;
}


int64_t frames_of(double seconds, int fps) { return std::max<int64_t>(1, std::llround(seconds * fps)); }

SynthQuery make_query(int64_t qid, const char* kind, std::string text, int64_t start, int64_t end, const SynthVideo& v) {
  SynthQuery q;
  q.qid = qid;
  q.kind = kind;
  q.text = std::move(text);
  q.start_seconds = static_cast<double>(start) / v.fps;
  q.end_seconds = static_cast<double>(end) / v.fps;
  const int64_t n_clips = v.n_frames / (2 * int64_t(v.fps));  // floor(D / 2), Note [Event range]
  for (int64_t i = 0; i < n_clips; ++i) {
    const double overlap = std::min(q.end_seconds, 2.0 * i + 2) - std::max(q.start_seconds, 2.0 * i);
    if (overlap <= 0) continue;
    q.clip_ids.push_back(i);
    q.saliency.push_back(std::min(4, 1 + static_cast<int>(std::lround(3 * overlap / 2))));
  }
  return q;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string name(SynthColour c, SynthShape s) { return std::string(to_string(c)) + " " + to_string(s); }

}  // namespace

const char* to_string(SynthColour c) {
  switch (c) {
    case SynthColour::kRed: return "red";
    case SynthColour::kGreen: return "green";
    case SynthColour::kBlue: return "blue";
    case SynthColour::kYellow: return "yellow";
  }
  return "?";
}
const char* to_string(SynthShape s) {
  switch (s) {
    case SynthShape::kSquare: return "square";
    case SynthShape::kCircle: return "circle";
    case SynthShape::kTriangle: return "triangle";
  }
  return "?";
}
const char* to_string(SynthMark m) {
  switch (m) {
    case SynthMark::kNone: return "none";
    case SynthMark::kDot: return "dot";
    case SynthMark::kBar: return "bar";
  }
  return "?";
}
const char* to_string(SynthDirection d) {
  switch (d) {
    case SynthDirection::kLeft: return "left";
    case SynthDirection::kRight: return "right";
    case SynthDirection::kUp: return "up";
    case SynthDirection::kDown: return "down";
  }
  return "?";
}

std::array<uint8_t, 3> synth_rgb(SynthColour c) {
  switch (c) {
    case SynthColour::kRed: return {220, 40, 40};
    case SynthColour::kGreen: return {40, 190, 60};
    case SynthColour::kBlue: return {50, 90, 230};
    case SynthColour::kYellow: return {230, 210, 40};
  }
  return {0, 0, 0};
}

void validate(const SynthOptions& o) {
  if (o.size < 64 || o.size > 512 || o.size % 2)
    throw UsageError("synth: size must be even and in [64, 512] pixels, got " + std::to_string(o.size));
  if (o.fps < 1 || o.fps > 120) throw UsageError("synth: fps must be in [1, 120], got " + std::to_string(o.fps));
  // 20 s: the detail event alone needs up to 3 x 6 s plus gaps inside [0.5, D - 0.5].
  if (!(o.min_seconds >= 20 && o.min_seconds <= o.max_seconds && o.max_seconds <= 150))
    throw UsageError("synth: durations must satisfy 20 <= min <= max <= 150 seconds, got " + number(o.min_seconds) +
                     "-" + number(o.max_seconds));
}

std::array<double, 2> SynthActor::position_at(int64_t frame) const {
  double px = x, py = y;
  for (const SynthMove& m : moves) {
    if (frame >= m.end_frame) {
      px += m.dx;
      py += m.dy;
    } else {
      if (frame > m.start_frame) {
        const double f = static_cast<double>(frame - m.start_frame) / static_cast<double>(m.end_frame - m.start_frame);
        px += m.dx * f;
        py += m.dy * f;
      }
      break;
    }
  }
  return {px, py};
}

std::string synth_video_id(int64_t seed, int64_t index) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "synth%lld_%04lld", static_cast<long long>(seed), static_cast<long long>(index));
  return buf;
}

SynthVideo make_synth_video(int64_t seed, int64_t index, const SynthOptions& options) {
  validate(options);
  if (seed < 0 || seed > kSynthMaxSeed) throw UsageError("synth: seed must be in [0, " + std::to_string(kSynthMaxSeed) + "]");
  if (index < 0 || index >= kSynthMaxVideos)
    throw UsageError("synth: video index must be in [0, " + std::to_string(kSynthMaxVideos) + ")");
  SynthRng rng(static_cast<uint64_t>(seed), static_cast<uint64_t>(index) ^ (uint64_t(kSynthVersion) << 48));
  SynthVideo v;
  v.vid = synth_video_id(seed, index);
  v.seed = seed;
  v.index = index;
  v.size = options.size;
  v.fps = options.fps;
  const int fps = options.fps, size = options.size;
  v.n_frames = frames_of(rng.uniform(options.min_seconds, options.max_seconds), fps);
  v.duration_seconds = static_cast<double>(v.n_frames) / fps;
  const int64_t margin = static_cast<int64_t>(std::ceil(0.5 * fps));
  const int64_t lo = margin, hi = std::min(v.n_frames - margin, v.n_frames / (2 * fps) * 2 * fps);
  const int side = static_cast<int>(std::lround(0.18 * size));
  const int travel = static_cast<int>(std::lround(0.35 * size));
  const int mark_side = std::max(2, static_cast<int>(std::lround(size / 64.0)));
  auto length = [&](double a, double b) { return frames_of(rng.uniform(a, b), fps); };

  // Background.
  v.background.grey = static_cast<int>(rng.uniform_int(90, 150));
  for (int64_t i = 0, n = rng.uniform_int(3, 6); i < n; ++i)
    v.background.blobs.push_back(
        {rng.uniform(0, size), rng.uniform(0, size), rng.uniform(0.15, 0.35) * size, rng.uniform(-15, 15)});
  v.background.noise_seed = rng.next();

  // Colour/shape combinations (Note [Synthetic events]).
  auto colour = [&] { return static_cast<SynthColour>(rng.uniform_int(0, 3)); };
  auto shape = [&] { return static_cast<SynthShape>(rng.uniform_int(0, 2)); };
  auto other_colour = [&](SynthColour c) { return static_cast<SynthColour>((int(c) + rng.uniform_int(1, 3)) % 4); };
  const SynthShape s_detail = shape();
  const SynthColour c1 = colour(), c2 = other_colour(c1);
  SynthShape s_short;
  SynthColour c_flash, c_flash2;
  do {
    s_short = shape();
    c_flash = colour();
    c_flash2 = other_colour(c_flash);
  } while (s_short == s_detail && (c_flash == c1 || c_flash == c2 || c_flash2 == c1 || c_flash2 == c2));
  std::vector<std::pair<SynthColour, SynthShape>> free_combos;
  for (int c = 0; c < 4; ++c)
    for (int s = 0; s < 3; ++s) {
      const auto cs = std::make_pair(static_cast<SynthColour>(c), static_cast<SynthShape>(s));
      const bool used = (cs.second == s_detail && (cs.first == c1 || cs.first == c2)) ||
                        (cs.second == s_short && (cs.first == c_flash || cs.first == c_flash2));
      if (!used) free_combos.push_back(cs);
    }
  rng.shuffle(free_combos);
  const auto [c_motion, s_motion] = free_combos[0];
  const auto [c_qa, s_qa] = free_combos[1];
  const auto [c_static, s_static] = free_combos[2];

  auto actor = [&](const char* role, SynthColour c, SynthShape s, int64_t appear, int64_t disappear) {
    SynthActor a;
    a.role = role;
    a.colour = c;
    a.shape = s;
    a.side_pixels = side + static_cast<int>(rng.uniform_int(-1, 1));
    a.appear_frame = appear;
    a.disappear_frame = disappear;
    a.texture_seed = rng.next();
    return a;
  };
  std::vector<int64_t> starts;

  // 1. Motion actor: the queried movement and the way back, >= 2 s apart, in random order.
  const auto d_motion = static_cast<SynthDirection>(rng.uniform_int(0, 3));
  const std::vector<int64_t> motion_len = {length(2, 4), length(2, 4)};  // queried, return
  place_intervals(rng, motion_len, lo, hi, 2 * fps, starts);  // always fits: D >= 20 s
  SynthActor m = actor("motion", c_motion, s_motion, 0, v.n_frames);
  const bool queried_first = starts[0] < starts[1];
  const SynthMove queried = make_move(starts[0], motion_len[0], d_motion, travel);
  const SynthMove back = make_move(starts[1], motion_len[1], opposite(d_motion), travel);
  m.moves = queried_first ? std::vector<SynthMove>{queried, back} : std::vector<SynthMove>{back, queried};
  v.actors.push_back(m);

  // 4. QA motion actor: one movement.
  const auto d_qa = static_cast<SynthDirection>(rng.uniform_int(0, 3));
  const int64_t qa_len = length(2, 4);
  SynthActor q = actor("qa_motion", c_qa, s_qa, 0, v.n_frames);
  q.moves = {make_move(rng.uniform_int(lo, hi - qa_len), qa_len, d_qa, travel)};
  v.actors.push_back(q);

  // 6. Static distractor.
  v.actors.push_back(actor("static", c_static, s_static, 0, v.n_frames));

  // 2. Detail: target (dot) and two distractors (bar) at disjoint times.
  std::vector<int64_t> detail_len;
  do detail_len = {length(3, 6), length(3, 6), length(3, 6)};
  while (!place_intervals(rng, detail_len, lo, hi, margin, starts));
  const SynthColour c_a = rng.chance(0.5) ? c1 : c2;
  const SynthColour detail_colours[3] = {c1, c_a, c2};
  const char* detail_roles[3] = {"detail_target", "detail_distractor", "detail_distractor"};
  const size_t target_actor = v.actors.size();
  for (int i = 0; i < 3; ++i) {
    SynthActor a = actor(detail_roles[i], detail_colours[i], s_detail, starts[i], starts[i] + detail_len[i]);
    a.mark = i == 0 ? SynthMark::kDot : SynthMark::kBar;
    const int rows = (mark_side + 1) / 2;
    a.mark_width = i == 0 ? mark_side : static_cast<int>(std::lround(double(mark_side) * mark_side / rows));
    a.mark_height = i == 0 ? mark_side : rows;
    v.actors.push_back(a);
  }

  // 3. Short: the flash, another colour's flash, and F's combination shown for long.
  std::vector<int64_t> short_len;
  do short_len = {length(0.5, 1.5), length(0.5, 1.5), length(4, 8)};
  while (!place_intervals(rng, short_len, lo, hi, margin, starts));
  const size_t flash_actor = v.actors.size();
  v.actors.push_back(actor("short_target", c_flash, s_short, starts[0], starts[0] + short_len[0]));
  v.actors.push_back(actor("short_distractor_colour", c_flash2, s_short, starts[1], starts[1] + short_len[1]));
  v.actors.push_back(actor("short_distractor_long", c_flash, s_short, starts[2], starts[2] + short_len[2]));

  synth_detail::lay_out_actors(v.actors, size, rng, v.vid);

  const int64_t qid0 = seed * 100000 + index * 10;
  const SynthActor& target = v.actors[target_actor];
  const SynthActor& flash = v.actors[flash_actor];
  v.queries.push_back(make_query(qid0, "motion", "the " + name(c_motion, s_motion) + " moves " + to_string(d_motion),
                                 queried.start_frame, queried.end_frame, v));
  v.queries.push_back(make_query(qid0 + 1, "detail", "the shape with a small white dot appears", target.appear_frame,
                                 target.disappear_frame, v));
  v.queries.push_back(make_query(qid0 + 2, "short", "the " + name(c_flash, s_short) + " flashes", flash.appear_frame,
                                 flash.disappear_frame, v));
  if (options.extra_queries) {
    // More annotations of the same scene for training splits (Note [Extra training queries]).
    const SynthMove& q_move = v.actors[1].moves.front();
    const SynthActor& flash2 = v.actors[flash_actor + 1];
    v.queries.push_back(make_query(qid0 + 3, "motion",
                                   "the " + name(c_motion, s_motion) + " moves " + to_string(opposite(d_motion)),
                                   back.start_frame, back.end_frame, v));
    v.queries.push_back(make_query(qid0 + 4, "motion", "the " + name(c_qa, s_qa) + " moves " + to_string(d_qa),
                                   q_move.start_frame, q_move.end_frame, v));
    v.queries.push_back(make_query(qid0 + 7, "short", "the " + name(c_flash2, s_short) + " flashes",
                                   flash2.appear_frame, flash2.disappear_frame, v));
    if (c_a == c1) {  // then the c2 distractor is the only c2 shape of its kind: nameable
      const SynthActor& b = v.actors[target_actor + 2];
      v.queries.push_back(make_query(qid0 + 8, "appear", "the " + name(c2, s_detail) + " appears", b.appear_frame,
                                     b.disappear_frame, v));
    }
  }

  SynthQa qa_motion;
  qa_motion.qid = qid0 + 5;
  qa_motion.type = "motion";
  qa_motion.question = "which way does the " + name(c_qa, s_qa) + " move?";
  qa_motion.start_seconds = static_cast<double>(v.actors[1].moves.front().start_frame) / fps;
  qa_motion.end_seconds = static_cast<double>(v.actors[1].moves.front().end_frame) / fps;
  std::vector<SynthDirection> dirs = {SynthDirection::kLeft, SynthDirection::kRight, SynthDirection::kUp,
                                      SynthDirection::kDown};
  rng.shuffle(dirs);
  for (size_t i = 0; i < dirs.size(); ++i) {
    qa_motion.options.push_back(to_string(dirs[i]));
    if (dirs[i] == d_qa) qa_motion.answer = static_cast<int>(i);
  }
  SynthQa qa_detail;
  qa_detail.qid = qid0 + 6;
  qa_detail.type = "detail";
  qa_detail.question = "what colour is the shape with the white dot?";
  qa_detail.start_seconds = static_cast<double>(target.appear_frame) / fps;
  qa_detail.end_seconds = static_cast<double>(target.disappear_frame) / fps;
  std::vector<SynthColour> colours = {SynthColour::kRed, SynthColour::kGreen, SynthColour::kBlue, SynthColour::kYellow};
  rng.shuffle(colours);
  for (size_t i = 0; i < colours.size(); ++i) {
    qa_detail.options.push_back(to_string(colours[i]));
    if (colours[i] == c1) qa_detail.answer = static_cast<int>(i);
  }
  v.qa = {qa_motion, qa_detail};
  return v;
}

}  // namespace sfvu::grounding
