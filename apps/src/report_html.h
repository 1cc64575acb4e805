// The page of `sfvu report PRED.jsonl`: a batch of grounding / QA results as ONE
// self-contained HTML file (inline CSS, inline SVG, images as data URIs unless linked, no
// JavaScript), viewable in any browser, mailable and archivable.
//
//   ReportData data;                         // filled by the JSON-lines reader (cmd_report.cpp)
//   data.videos.push_back({"a.mp4", {grounding...}, {qa...}});
//   std::string html = render_report_html(data, ReportOptions{});
//
// Layout: header (title, source file, counts, generation time, a truncation note), a table of
// contents with anchors (#v<k>, #failures), one section per video in first-appearance order
// (per query: an SVG of the saliency curve and the ranked moments drawn from the numbers, the
// moments table, the plot image or "plot missing: PATH"; then a QA table), then "Failures"
// (failed videos and skipped input lines). Every text from the input is HTML-escaped.
//
// Pure string building: no I/O, no Boost, no libtorch (unit-testable on its own).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace sfvu::cli {

/// Options of `sfvu report`; the CLI prints these defaults in --help.
struct ReportOptions {
  std::string title;         ///< page title; empty: "sfvu report: <source file name>"
  bool link_images = false;  ///< plots referenced by relative URL instead of embedded as data URIs
  int64_t max_items = 500;   ///< results shown (queries + questions, file order); 0: all
};

/// The plot image named by a line's "plot" key.
struct ReportImage {
  std::string path;  ///< the file looked for (relative paths resolved against the input's folder); empty: no plot
  std::string src;   ///< the <img src>: a data URI or a URL; empty: missing (see `missing_reason`)
  std::string missing_reason;  ///< e.g. "no such file"
};

struct ReportMoment {
  double start_seconds = 0, end_seconds = 0;
  double score = std::numeric_limits<double>::quiet_NaN();  ///< NaN: the window had no score
};

/// One grounding result: a `sfvu ground` line or a `sfvu predict --task grounding` line.
struct ReportGrounding {
  std::string query;
  std::string qid;  ///< predict lines: the qid as text; empty for ground lines
  double duration_seconds = 0;
  bool duration_inferred = false;  ///< no "duration" key: from the last window and the saliency length
  double clip_seconds = 2;
  std::vector<ReportMoment> moments;  ///< ranked best first
  std::vector<double> saliency;       ///< one per clip (clip i is [i*clip, (i+1)*clip)); NaN for null
  ReportImage plot;
  std::string where;  ///< "FILE:LINE" of the source line
};

/// One multiple-choice answer: a `sfvu qa` line or a `sfvu predict --task qa` line.
struct ReportQa {
  std::string qid;       ///< empty when the line has none
  std::string question;  ///< empty when the line has none (predict lines with a qid)
  std::vector<std::string> options;   ///< empty when the line has none
  std::vector<double> probabilities;  ///< per option; may be empty
  int64_t answer_index = -1;          ///< the predicted option; -1: none
  int64_t gt_answer_index = -1;       ///< the line's "answer" (ground truth); -1: none
  std::string where;
};

/// All results of one video, in file order.
struct ReportVideo {
  std::string video;
  std::vector<ReportGrounding> queries;
  std::vector<ReportQa> questions;
};

/// A failed video: a `{"video", "error"}` line or a line of predict's PRED.jsonl.errors.jsonl.
struct ReportFailure {
  std::string video;
  std::string qids;  ///< the queries it took with it (JSON text); empty when unknown
  std::string error;
  std::string where;
};

/// An input line that could not be used (the report skips it and lists it).
struct ReportSkippedLine {
  std::string where, reason;
};

struct ReportData {
  std::string source_path;     ///< the JSON-lines file, as given
  std::string generated_time;  ///< shown as is
  std::vector<ReportVideo> videos;  ///< first-appearance order; only the results kept (max_items)
  std::vector<ReportFailure> failures;
  std::vector<ReportSkippedLine> skipped;
  /// Whole-input counts (also what was not kept).
  int64_t n_videos = 0, n_queries = 0, n_questions = 0;
  int64_t n_results_dropped = 0;  ///< results beyond max_items, not shown
  int64_t n_failures_dropped = 0, n_skipped_dropped = 0;  ///< list entries beyond max_items, not shown
};

/// The whole page.
std::string render_report_html(const ReportData& data, const ReportOptions& options);

/// The inline SVG of one query: saliency curve (area + line, gaps at NaN) over a time axis in
/// seconds, moments as bands labelled with their rank (top-1 highlighted), hover titles.
std::string render_saliency_svg(const ReportGrounding& g);

/// &, <, >, " and ' as entities: safe in text and in quoted attributes.
std::string html_escape(const std::string& text);
/// 75.25 -> "01:15.3"; an hour or more: "1:02:03.4"; non-finite: "?".
std::string format_clock(double seconds);
/// Standard base64 (RFC 4648, padded).
std::string base64_encode(const std::string& bytes);
/// "data:image/png;base64,..." with the MIME type from `path`'s extension (png, jpg/jpeg,
/// gif, webp, svg; otherwise png).
std::string image_data_uri(const std::string& bytes, const std::string& path);
/// A relative file path as a URL path: every byte except A-Z a-z 0-9 - . _ ~ / as %XX.
std::string url_encode_path(const std::string& path);

}  // namespace sfvu::cli
