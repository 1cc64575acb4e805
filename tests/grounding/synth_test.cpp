// The synthetic benchmark (`sfvu synth`): determinism, the annotation/QA schema our
// evaluators read, the event design of Note [Synthetic events], the detail cue's size and
// its invisibility at the fast pathway's resolution, and the encoded videos.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "sfvu/base/error.h"
#include "sfvu/decode/video_reader.h"
#include "sfvu/grounding/mcqa_eval.h"
#include "sfvu/grounding/qvhighlights_eval.h"
#include "sfvu/grounding/synth.h"
#include "support/test_support.h"

namespace sfvu::grounding {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::vector<json> parse_lines(const std::string& text) {
  std::vector<json> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = text.find('\n', pos);
    out.push_back(json::parse(text.substr(pos, end - pos)));
    pos = end == std::string::npos ? text.size() : end + 1;
  }
  return out;
}

std::vector<uint8_t> render(const SynthVideo& v, int64_t frame) {
  std::vector<uint8_t> rgb(size_t(v.size) * v.size * 3);
  SynthRenderer(v).render_frame(frame, rgb.data());
  return rgb;
}

// Mean over f x f blocks (the fast pathway's view when f = size / 32).
std::vector<double> box_downscale(const std::vector<uint8_t>& rgb, int size, int f) {
  const int n = size / f;
  std::vector<double> out(size_t(n) * n * 3, 0.0);
  for (int y = 0; y < size; ++y)
    for (int x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c) out[(size_t(y / f) * n + x / f) * 3 + c] += rgb[(size_t(y) * size + x) * 3 + c];
  for (double& v : out) v /= f * f;
  return out;
}

const SynthActor& actor_with_role(const SynthVideo& v, const std::string& role, int nth = 0) {
  for (const auto& a : v.actors)
    if (a.role == role && nth-- == 0) return a;
  throw std::runtime_error("no actor " + role);
}

int64_t frame_of(double seconds, int fps) { return std::llround(seconds * fps); }

TEST(Synth, SameSeedSameVideoOtherSeedOther) {
  const SynthOptions opt;
  const SynthVideo a = make_synth_video(7, 3, opt), b = make_synth_video(7, 3, opt);
  EXPECT_EQ(a.vid, "synth7_0003");
  EXPECT_EQ(synth_annotation_lines(a), synth_annotation_lines(b));
  EXPECT_EQ(synth_qa_lines(a), synth_qa_lines(b));
  EXPECT_EQ(render(a, 0), render(b, 0));
  const SynthVideo c = make_synth_video(8, 3, opt), d = make_synth_video(7, 4, opt);
  EXPECT_NE(synth_annotation_lines(a), synth_annotation_lines(c));
  EXPECT_NE(render(a, 0), render(c, 0));
  EXPECT_NE(render(a, 0), render(d, 0));
}

TEST(Synth, AnnotationAndQaSchema) {
  const SynthOptions opt;
  for (int64_t index = 0; index < 30; ++index) {
    const SynthVideo v = make_synth_video(11, index, opt);
    SCOPED_TRACE(v.vid);
    EXPECT_EQ(v.n_frames, std::llround(v.duration_seconds * opt.fps));
    EXPECT_GE(v.duration_seconds, opt.min_seconds - 0.5 / opt.fps);
    EXPECT_LE(v.duration_seconds, opt.max_seconds + 0.5 / opt.fps);
    const auto lines = parse_lines(synth_annotation_lines(v));
    ASSERT_EQ(lines.size(), 3u);
    const char* kinds[] = {"motion", "detail", "short"};
    for (int j = 0; j < 3; ++j) {
      const json& q = lines[j];
      EXPECT_EQ(q["qid"].get<int64_t>(), 11 * 100000 + index * 10 + j);
      EXPECT_EQ(q["kind"], kinds[j]);
      EXPECT_EQ(q["vid"], v.vid);
      EXPECT_TRUE(q["query"].is_string());
      EXPECT_EQ(q["duration"].get<double>(), v.duration_seconds);
      ASSERT_EQ(q["relevant_windows"].size(), 1u);
      const double s = q["relevant_windows"][0][0], e = q["relevant_windows"][0][1];
      EXPECT_GE(s, 0.5);
      EXPECT_LE(e, v.duration_seconds - 0.5);
      EXPECT_LE(e, 2 * std::floor(v.duration_seconds / 2));  // only whole clips
      EXPECT_LT(s, e);
      EXPECT_EQ(s, std::round(s * 1000) / 1000);
      const auto& ids = q["relevant_clip_ids"];
      const auto& scores = q["saliency_scores"];
      ASSERT_EQ(ids.size(), scores.size());
      ASSERT_FALSE(ids.empty());
      for (size_t k = 0; k < ids.size(); ++k) {
        const int64_t id = ids[k];
        EXPECT_LT(id, static_cast<int64_t>(v.duration_seconds / 2));
        EXPECT_LT(2.0 * id, e);
        EXPECT_GT(2.0 * id + 2, s);
        ASSERT_EQ(scores[k].size(), 3u);
        const int a = scores[k][0];
        EXPECT_GE(a, 1);
        EXPECT_LE(a, 4);
        EXPECT_EQ(scores[k][1], a);
        EXPECT_EQ(scores[k][2], a);
        if (2.0 * id >= s && 2.0 * id + 2 <= e) {
          EXPECT_EQ(a, 4);  // clip fully inside
        }
      }
    }
    const auto qa = parse_lines(synth_qa_lines(v));
    ASSERT_EQ(qa.size(), 2u);
    for (int j = 0; j < 2; ++j) {
      EXPECT_EQ(qa[j]["qid"].get<int64_t>(), 11 * 100000 + index * 10 + 5 + j);
      EXPECT_EQ(qa[j]["video"], v.vid);
      EXPECT_EQ(qa[j]["vid"], v.vid);
      ASSERT_EQ(qa[j]["options"].size(), 4u);
      const int answer = qa[j]["answer"];
      EXPECT_GE(answer, 0);
      EXPECT_LT(answer, 4);
      ASSERT_EQ(qa[j]["relevant_windows"].size(), 1u);  // grounded QA: when the asked event happens
      EXPECT_LT(qa[j]["relevant_windows"][0][0].get<double>(), qa[j]["relevant_windows"][0][1].get<double>());
    }
    EXPECT_EQ(qa[0]["type"], "motion");
    EXPECT_EQ(qa[1]["type"], "detail");
    std::set<std::string> dirs(qa[0]["options"].begin(), qa[0]["options"].end());
    EXPECT_EQ(dirs, (std::set<std::string>{"left", "right", "up", "down"}));
    std::set<std::string> colours(qa[1]["options"].begin(), qa[1]["options"].end());
    EXPECT_EQ(colours, (std::set<std::string>{"red", "green", "blue", "yellow"}));
  }
}

std::string direction_of(const SynthMove& m) {
  if (m.dx < 0) return "left";
  if (m.dx > 0) return "right";
  return m.dy < 0 ? "up" : "down";
}

TEST(Synth, EventsFollowTheDesign) {
  SynthOptions opt;
  for (int size : {128, 256}) {
    opt.size = size;
    for (int64_t index = 0; index < 40; ++index) {
      const SynthVideo v = make_synth_video(3, index, opt);
      SCOPED_TRACE(v.vid);
      const int fps = v.fps;
      ASSERT_EQ(v.actors.size(), 9u);
      // Motion: the window is one of M's two moves, named by its direction; the other is the way back.
      const SynthActor& m = actor_with_role(v, "motion");
      ASSERT_EQ(m.moves.size(), 2u);
      EXPECT_EQ(m.moves[0].dx, -m.moves[1].dx);
      EXPECT_EQ(m.moves[0].dy, -m.moves[1].dy);
      EXPECT_GE(m.moves[1].start_frame - m.moves[0].end_frame, 2 * fps);
      const SynthQuery& qm = v.queries[0];
      const SynthMove& queried = frame_of(qm.start_seconds, fps) == m.moves[0].start_frame ? m.moves[0] : m.moves[1];
      EXPECT_EQ(frame_of(qm.start_seconds, fps), queried.start_frame);
      EXPECT_EQ(frame_of(qm.end_seconds, fps), queried.end_frame);
      EXPECT_EQ(qm.text, std::string("the ") + to_string(m.colour) + " " + to_string(m.shape) + " moves " +
                             direction_of(queried));
      EXPECT_EQ(std::abs(queried.dx + queried.dy), std::lround(0.35 * size));
      // Detail: dot on the target, bars on two same-shape distractors at disjoint times.
      const SynthActor& t = actor_with_role(v, "detail_target");
      const SynthActor& da = actor_with_role(v, "detail_distractor", 0);
      const SynthActor& db = actor_with_role(v, "detail_distractor", 1);
      EXPECT_EQ(t.mark, SynthMark::kDot);
      EXPECT_EQ(da.mark, SynthMark::kBar);
      EXPECT_EQ(db.mark, SynthMark::kBar);
      EXPECT_TRUE(da.shape == t.shape && db.shape == t.shape);
      EXPECT_TRUE(da.colour == t.colour || da.colour == db.colour);
      EXPECT_NE(db.colour, t.colour);
      EXPECT_EQ(frame_of(v.queries[1].start_seconds, fps), t.appear_frame);
      EXPECT_EQ(frame_of(v.queries[1].end_seconds, fps), t.disappear_frame);
      EXPECT_EQ(v.qa[1].options[v.qa[1].answer], to_string(t.colour));
      EXPECT_EQ(frame_of(v.qa[1].start_seconds, fps), t.appear_frame);
      EXPECT_EQ(frame_of(v.qa[1].end_seconds, fps), t.disappear_frame);
      // Short: the flash, another colour's flash, and the flash's look shown for long.
      const SynthActor& f = actor_with_role(v, "short_target");
      const SynthActor& f2 = actor_with_role(v, "short_distractor_colour");
      const SynthActor& fl = actor_with_role(v, "short_distractor_long");
      EXPECT_LE(f.disappear_frame - f.appear_frame, std::llround(1.5 * fps));
      EXPECT_LE(f2.disappear_frame - f2.appear_frame, std::llround(1.5 * fps));
      EXPECT_GE(fl.disappear_frame - fl.appear_frame, 4 * fps);
      EXPECT_TRUE(f2.shape == f.shape && f2.colour != f.colour && fl.shape == f.shape && fl.colour == f.colour);
      EXPECT_EQ(v.queries[2].text, std::string("the ") + to_string(f.colour) + " " + to_string(f.shape) + " flashes");
      // QA motion: one move, answered by its direction.
      const SynthActor& q = actor_with_role(v, "qa_motion");
      ASSERT_EQ(q.moves.size(), 1u);
      EXPECT_EQ(v.qa[0].options[v.qa[0].answer], direction_of(q.moves[0]));
      EXPECT_EQ(frame_of(v.qa[0].start_seconds, fps), q.moves[0].start_frame);
      EXPECT_EQ(frame_of(v.qa[0].end_seconds, fps), q.moves[0].end_frame);
      EXPECT_TRUE(q.colour != m.colour || q.shape != m.shape);
      // Actors visible together never share a look (texts stay unambiguous) nor overlap.
      for (int64_t k = 0; k < v.n_frames; k += 3) {
        std::vector<const SynthActor*> seen;
        for (const auto& a : v.actors)
          if (a.visible_at(k)) seen.push_back(&a);
        for (size_t i = 0; i < seen.size(); ++i) {
          const auto pi = seen[i]->position_at(k);
          const int xi = static_cast<int>(std::lround(pi[0])), yi = static_cast<int>(std::lround(pi[1]));
          EXPECT_TRUE(xi >= 0 && yi >= 0 && xi + seen[i]->side_pixels <= size && yi + seen[i]->side_pixels <= size);
          for (size_t j = i + 1; j < seen.size(); ++j) {
            EXPECT_FALSE(seen[i]->colour == seen[j]->colour && seen[i]->shape == seen[j]->shape) << "frame " << k;
            const auto pj = seen[j]->position_at(k);
            const int xj = static_cast<int>(std::lround(pj[0])), yj = static_cast<int>(std::lround(pj[1]));
            const bool overlap = xi < xj + seen[j]->side_pixels && xj < xi + seen[i]->side_pixels &&
                                 yi < yj + seen[j]->side_pixels && yj < yi + seen[i]->side_pixels;
            EXPECT_FALSE(overlap) << seen[i]->role << " and " << seen[j]->role << " at frame " << k;
          }
        }
      }
    }
  }
}

TEST(Synth, DetailCueIsTinyAndAlignedToTheFastGrid) {
  for (int size : {128, 256, 512}) {
    SynthOptions opt;
    opt.size = size;
    const int cell = size / 32;
    for (int64_t index = 0; index < 20; ++index) {
      const SynthVideo v = make_synth_video(5, index, opt);
      SCOPED_TRACE(v.vid);
      for (const auto& a : v.actors) {
        if (a.mark == SynthMark::kNone) continue;
        if (size == 128) {  // the dot is 2x2, the bar 1x4: same white area, at most 3 px tall
          EXPECT_EQ(a.mark_width, a.mark == SynthMark::kDot ? 2 : 4);
          EXPECT_EQ(a.mark_height, a.mark == SynthMark::kDot ? 2 : 1);
        }
        EXPECT_LE(a.mark == SynthMark::kDot ? a.mark_width : a.mark_height, std::max(3, size / 64));
        EXPECT_TRUE(a.moves.empty());
        // Near the shape's centre, inside the shape's box, within one fast-pathway cell.
        const double cy = a.shape == SynthShape::kTriangle ? 2.0 * a.side_pixels / 3 : a.side_pixels / 2.0;
        EXPECT_LE(std::abs(a.mark_x + a.mark_width / 2.0 - a.side_pixels / 2.0), 3.0);
        EXPECT_LE(std::abs(a.mark_y + a.mark_height / 2.0 - cy), 3.0);
        const int x0 = a.x + a.mark_x, y0 = a.y + a.mark_y;
        EXPECT_EQ(x0 / cell, (x0 + a.mark_width - 1) / cell);
        EXPECT_EQ(y0 / cell, (y0 + a.mark_height - 1) / cell);
      }
    }
  }
}

TEST(Synth, DotAndBarDifferAtFullSizeButNotAtAQuarter) {
  const SynthOptions opt;  // 128 px: the fast pathway's 32 px is a 4x box
  for (int64_t index = 0; index < 10; ++index) {
    const SynthVideo v = make_synth_video(9, index, opt);
    SCOPED_TRACE(v.vid);
    size_t ti = 0;
    while (v.actors[ti].role != "detail_target") ++ti;
    const SynthActor& bar = actor_with_role(v, "detail_distractor");
    SynthVideo with_bar = v;  // the same scene, with the target's dot swapped for a bar in its cell
    SynthActor& t = with_bar.actors[ti];
    t.mark = SynthMark::kBar;
    t.mark_x -= (bar.mark_width - t.mark_width) / 2;
    t.mark_y += (t.mark_height - bar.mark_height) / 2;
    t.mark_width = bar.mark_width;
    t.mark_height = bar.mark_height;
    const int64_t k = v.actors[ti].appear_frame;
    const auto dot_rgb = render(v, k), bar_rgb = render(with_bar, k);
    int white_dot = 0, white_bar = 0, differ = 0;
    for (size_t i = 0; i < dot_rgb.size(); i += 3) {
      white_dot += dot_rgb[i] == 255 && dot_rgb[i + 1] == 255 && dot_rgb[i + 2] == 255;
      white_bar += bar_rgb[i] == 255 && bar_rgb[i + 1] == 255 && bar_rgb[i + 2] == 255;
      int d = 0;
      for (int c = 0; c < 3; ++c) d += std::abs(int(dot_rgb[i + c]) - int(bar_rgb[i + c]));
      differ += d > 60;
    }
    EXPECT_EQ(white_dot, 4);  // 2x2 dot, nothing else is white
    EXPECT_EQ(white_bar, 4);  // 1x4 bar
    EXPECT_GE(differ, 4);     // at full size they are plainly different
    const auto dot_small = box_downscale(dot_rgb, v.size, 4), bar_small = box_downscale(bar_rgb, v.size, 4);
    double max_diff = 0;
    for (size_t i = 0; i < dot_small.size(); ++i) max_diff = std::max(max_diff, std::abs(dot_small[i] - bar_small[i]));
    EXPECT_LE(max_diff, 4.0);  // only the shape-noise pixels under the marks differ
  }
}

TEST(Synth, RenderAtTimeMatchesFrames) {
  const SynthOptions opt;
  const SynthVideo v = make_synth_video(2, 0, opt);
  std::vector<uint8_t> rgb(size_t(v.size) * v.size * 3);
  render_synth_frame(v, 50.0 / v.fps, opt, rgb.data());
  EXPECT_EQ(rgb, render(v, 50));
  SynthOptions other = opt;
  other.size = 64;
  test::expect_error<UsageError>([&] { render_synth_frame(v, 0, other, rgb.data()); }, {v.vid});
  test::expect_error<UsageError>([&] { render_synth_frame(v, v.duration_seconds, opt, rgb.data()); }, {"frame"});
}

TEST(Synth, RejectsBadOptions) {
  SynthOptions odd;
  odd.size = 127;
  test::expect_error<UsageError>([&] { make_synth_video(1, 0, odd); }, {"size", "127"});
  SynthOptions short_videos;
  short_videos.min_seconds = 5;
  test::expect_error<UsageError>([&] { make_synth_video(1, 0, short_videos); }, {"20"});
  test::expect_error<UsageError>([&] { make_synth_video(-1, 0, SynthOptions{}); }, {"seed"});
  test::expect_error<UsageError>([&] { make_synth_video(1, kSynthMaxVideos, SynthOptions{}); }, {"index"});
}

TEST(Synth, DatasetDecodesAndOurEvaluatorsReadIt) {
  const std::string dir = test::scratch_dir("synth_dataset");
  SynthOptions opt;
  opt.min_seconds = 20;
  opt.max_seconds = 21;
  SynthDatasetOptions ds;
  ds.n_videos = 3;
  ds.seed = 4;
  ds.jobs = 2;
  int64_t last_done = 0, total = 0;
  const SynthSummary s = write_synth_dataset(dir, ds, opt, [&](const Progress& p) {
    EXPECT_GE(p.done, last_done);
    last_done = p.done;
    total = p.total;
    return true;
  });
  EXPECT_EQ(s.videos, 3);
  EXPECT_EQ(s.queries, 9);
  EXPECT_EQ(s.qa, 6);
  EXPECT_EQ(last_done, total);
  EXPECT_EQ(total, s.frames);

  // Lines ordered by video index, as the per-video generators write them.
  std::string expected_annotations, expected_qa;
  for (int64_t i = 0; i < 3; ++i) {
    const SynthVideo v = make_synth_video(4, i, opt);
    expected_annotations += synth_annotation_lines(v);
    expected_qa += synth_qa_lines(v);
  }
  EXPECT_EQ(test::read_text_file(dir + "/annotations.jsonl"), expected_annotations);
  EXPECT_EQ(test::read_text_file(dir + "/qa.jsonl"), expected_qa);
  const json meta = json::parse(test::read_text_file(dir + "/synth.json"));
  EXPECT_EQ(meta["version"], kSynthVersion);
  EXPECT_EQ(meta["options"]["size"], 128);

  const QvGroundTruthFile gt = load_qvhighlights_gt(dir + "/annotations.jsonl");
  EXPECT_EQ(gt.queries.size(), 9u);
  const McqaGroundTruth mcqa = load_mcqa_gt(dir + "/qa.jsonl");
  EXPECT_EQ(mcqa.questions.size(), 6u);
  for (const auto& q : mcqa.questions) EXPECT_EQ(q.windows.size(), 1u) << q.id;

  for (const auto& e : fs::directory_iterator(dir + "/videos"))
    EXPECT_EQ(e.path().extension(), ".mp4") << e.path();  // no .part left behind
  const SynthVideo v = make_synth_video(4, 1, opt);
  decode::VideoReader reader(decode::Source::path(dir + "/videos/" + v.vid + ".mp4"));
  EXPECT_EQ(reader.info().video.n_frames, v.n_frames);
  EXPECT_NEAR(reader.info().duration_seconds, v.duration_seconds, 1e-6);
  EXPECT_EQ(reader.info().video.width, 128);
  const auto r = reader.read({{decode::SamplingPlan::at_fps(1), decode::FrameFormat::native()}});
  ASSERT_GE(r.streams[0].size(), 20);
  for (int64_t i = 0; i < r.streams[0].size(); i += 5) {
    const auto expected = render(v, r.streams[0].indices[i]);
    EXPECT_LT(test::mean_abs_diff(expected.data(), r.streams[0].frame(i), expected.size()), 3.0) << "frame " << i;
  }

  // An existing dataset is kept unless overwriting is asked for.
  test::expect_error<UsageError>([&] { write_synth_dataset(dir, ds, opt); }, {dir, "annotations.jsonl"});
  ds.overwrite = true;
  ds.n_videos = 1;
  EXPECT_EQ(write_synth_dataset(dir, ds, opt).videos, 1);
}

TEST(Synth, CancelledDatasetLeavesNoPartialFiles) {
  const std::string dir = test::scratch_dir("synth_cancel");
  SynthDatasetOptions ds;
  ds.n_videos = 2;
  ds.jobs = 1;
  EXPECT_THROW(write_synth_dataset(dir, ds, SynthOptions{}, [](const Progress& p) { return p.done < 200; }), Cancelled);
  EXPECT_FALSE(fs::exists(dir + "/annotations.jsonl"));
  for (const auto& e : fs::directory_iterator(dir + "/videos")) ADD_FAILURE() << "left behind: " << e.path();
}

}  // namespace
}  // namespace sfvu::grounding
