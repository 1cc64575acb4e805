#include "report_html.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace sfvu::cli {
namespace {

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return "\u2013";  // en dash
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

std::string plural(int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// The file name of a path (for headings), the whole text when it has no '/'.
std::string file_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos || slash + 1 == path.size() ? path : path.substr(slash + 1);
}

// Note [Report page without JavaScript]: the page must read the same when mailed, archived or
// opened with scripts off, so everything is static: anchors for navigation, <title> elements
// in the SVG for hover details, CSS for layout. The palette matches the PNG plots (amber top-1
// band, blue other bands, dark curve).
constexpr const char* kCss = R"(
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2937;background:#f3f4f6;margin:0}
.page{max-width:1180px;margin:0 auto;padding:20px 24px 48px}
header{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:16px 20px}
h1{font-size:22px;margin:0 0 6px}
h2{font-size:19px;margin:0 0 4px;word-break:break-all}
h3{font-size:16px;margin:0 0 4px;word-break:break-word}
.meta{color:#6b7280;font-size:13px;margin:2px 0}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace;word-break:break-all}
.counts{display:flex;flex-wrap:wrap;gap:10px;list-style:none;padding:0;margin:12px 0 0}
.counts li{background:#eef2ff;border-radius:8px;padding:6px 12px}
.counts b{font-size:18px;margin-right:4px}
.counts li.bad{background:#fee2e2}
.note{background:#fef3c7;border:1px solid #fcd34d;border-radius:8px;padding:8px 12px;margin:12px 0 0}
nav{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:10px 20px;margin-top:16px}
.tocbox{max-height:320px;overflow-y:auto}
nav ol{columns:3 260px;margin:6px 0;padding-left:30px;font-size:14px}
nav li{break-inside:avoid;word-break:break-all}
nav .n{color:#6b7280;font-size:12px}
a{color:#1d4ed8;text-decoration:none}
a:hover{text-decoration:underline}
section{background:#fff;border:1px solid #e5e7eb;border-radius:10px;padding:14px 20px;margin-top:16px}
.top{float:right;font-size:13px}
article{border-top:1px solid #e5e7eb;padding-top:12px;margin-top:12px}
.tag{display:inline-block;background:#1f2937;color:#fff;border-radius:5px;padding:0 6px;font-size:13px;margin-right:6px}
.row{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start;margin-top:8px}
.row svg{flex:3 1 520px;min-width:0;height:auto;background:#fafafa;border:1px solid #e5e7eb;border-radius:6px}
.row .tablebox{flex:1 1 300px;max-height:320px;overflow:auto}
table{border-collapse:collapse;font-size:13.5px;width:100%}
th,td{padding:3px 8px;text-align:left;border-bottom:1px solid #e5e7eb;vertical-align:top}
th{background:#f9fafb;font-weight:600;position:sticky;top:0}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.best td{background:#fffbeb;font-weight:600}
figure{margin:10px 0 0}
figure img{max-width:100%;height:auto;border:1px solid #e5e7eb;border-radius:6px;display:block}
figcaption{color:#6b7280;font-size:12px}
.missing{color:#b91c1c;background:#fef2f2;border-radius:6px;padding:4px 10px;margin:10px 0 0;font-size:13px}
.opt{display:flex;align-items:center;gap:6px;margin:1px 0}
.bar{display:inline-block;height:8px;background:#93c5fd;border-radius:2px}
.chosen{font-weight:600}
.chosen .bar{background:#f59e0b}
.ok{color:#047857;font-weight:600}
.wrong{color:#b91c1c;font-weight:600}
.err{color:#991b1b;word-break:break-word}
footer{color:#9ca3af;font-size:12px;margin-top:18px;text-align:center}
)";

// SVG geometry (viewBox units).
constexpr double kSvgWidth = 760, kSvgHeight = 236;
constexpr double kPlotLeft = 46, kPlotRight = 748, kPlotTop = 8, kPlotBottom = 200;
constexpr double kCurveTop = kPlotTop + 56;  // the rank labels live above it

// A tick step giving at most ~10 labels over `duration` seconds.
double tick_step(double duration) {
  for (double s : {0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0})
    if (duration / s <= 10) return s;
  return 3600.0 * std::ceil(duration / 36000.0);
}

std::string svg_number(double v) { return fixed(v, 1); }

// The time span the SVG shows: the duration, widened to cover every clip and moment.
double svg_span(const ReportGrounding& g) {
  double span = std::isfinite(g.duration_seconds) ? g.duration_seconds : 0;
  if (g.clip_seconds > 0) span = std::max(span, g.clip_seconds * double(g.saliency.size()));
  for (const auto& m : g.moments)
    if (std::isfinite(m.end_seconds)) span = std::max(span, m.end_seconds);
  return span > 0 ? span : 1;
}

std::string moment_label(size_t rank, const ReportMoment& m) {
  return "#" + std::to_string(rank + 1) + ": " + format_clock(m.start_seconds) + " to " + format_clock(m.end_seconds) +
         ", score " + fixed(m.score, 3);
}

void write_moment_bands(std::ostringstream& o, const ReportGrounding& g, double span) {
  auto x_of = [&](double t) { return kPlotLeft + std::clamp(t / span, 0.0, 1.0) * (kPlotRight - kPlotLeft); };
  // Worst first, so the top-1 band is drawn last, on top.
  for (size_t k = g.moments.size(); k-- > 0;) {
    const ReportMoment& m = g.moments[k];
    if (!std::isfinite(m.start_seconds) || !std::isfinite(m.end_seconds)) continue;
    const double x0 = x_of(m.start_seconds), w = std::max(2.0, x_of(m.end_seconds) - x0);
    const bool best = k == 0;
    o << "<rect class=\"moment\" x=\"" << svg_number(x0) << "\" y=\"" << kPlotTop << "\" width=\"" << svg_number(w)
      << "\" height=\"" << kPlotBottom - kPlotTop << "\" fill=\"" << (best ? "#f97316" : "#9ca3af") << "\" fill-opacity=\""
      << (best ? "0.35" : "0.22") << "\"><title>" << html_escape(moment_label(k, m)) << "</title></rect>";
  }
  // Rank labels best first, each in the first of three rows where it overlaps no other label;
  // a label that fits nowhere is left out (the band keeps its hover title and table row).
  std::vector<std::vector<std::pair<double, double>>> rows(3);
  for (size_t k = 0; k < g.moments.size(); ++k) {
    const ReportMoment& m = g.moments[k];
    if (!std::isfinite(m.start_seconds) || !std::isfinite(m.end_seconds)) continue;
    const std::string text = std::to_string(k + 1);
    const double w = 8.0 * double(text.size()) + 8;
    const double x = std::min(x_of(m.start_seconds), kPlotRight - w);
    for (size_t r = 0; r < rows.size(); ++r) {
      bool free = true;
      for (const auto& [a, b] : rows[r]) free = free && (x + w <= a || x >= b);
      if (!free) continue;
      rows[r].push_back({x, x + w});
      const double y = kPlotTop + 2 + 17 * double(r);
      o << "<rect x=\"" << svg_number(x) << "\" y=\"" << y << "\" width=\"" << w << "\" height=\"15\" rx=\"3\" fill=\""
        << (k == 0 ? "#ea580c" : "#6b7280") << "\"/><text x=\"" << svg_number(x + w / 2) << "\" y=\"" << y + 12
        << "\" text-anchor=\"middle\" font-size=\"12\" font-weight=\"600\" fill=\"#fff\">" << text << "</text>";
      break;
    }
  }
}

void write_saliency_curve(std::ostringstream& o, const ReportGrounding& g, double span) {
  double lo = INFINITY, hi = -INFINITY;
  for (double v : g.saliency)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(lo <= hi)) {
    o << "<text x=\"" << (kPlotLeft + kPlotRight) / 2 << "\" y=\"" << (kPlotTop + kPlotBottom) / 2
      << "\" text-anchor=\"middle\" font-size=\"14\" fill=\"#9ca3af\">no saliency</text>";
    return;
  }
  if (hi - lo < 1e-12) lo -= 1, hi += 1;  // a flat curve sits in the middle
  const double pad = 8;
  auto x_of = [&](size_t i) {
    const double t = std::min((double(i) + 0.5) * g.clip_seconds, span);
    return kPlotLeft + t / span * (kPlotRight - kPlotLeft);
  };
  auto y_of = [&](double v) { return kPlotBottom - pad - (v - lo) / (hi - lo) * (kPlotBottom - kCurveTop - 2 * pad); };
  // One area + line per run of finite values (a null in the line is a gap).
  for (size_t i = 0; i < g.saliency.size();) {
    if (!std::isfinite(g.saliency[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    std::string points;
    for (; j < g.saliency.size() && std::isfinite(g.saliency[j]); ++j)
      points += svg_number(x_of(j)) + "," + svg_number(y_of(g.saliency[j])) + " ";
    if (j - i == 1) {
      o << "<circle cx=\"" << svg_number(x_of(i)) << "\" cy=\"" << svg_number(y_of(g.saliency[i]))
        << "\" r=\"3\" fill=\"#1d4ed8\"/>";
    } else {
      o << "<polygon points=\"" << svg_number(x_of(i)) << "," << kPlotBottom << " " << points << svg_number(x_of(j - 1))
        << "," << kPlotBottom << "\" fill=\"#1d4ed8\" fill-opacity=\"0.1\"/>";
      o << "<polyline class=\"saliency\" points=\"" << points << "\" fill=\"none\" stroke=\"#1d4ed8\" stroke-width=\"2\" "
        << "stroke-linejoin=\"round\"/>";
    }
    i = j;
  }
  o << "<text x=\"" << kPlotLeft - 4 << "\" y=\"" << svg_number(y_of(hi) + 4)
    << "\" text-anchor=\"end\" font-size=\"12\" fill=\"#6b7280\">" << fixed(hi, 2) << "</text>";
  o << "<text x=\"" << kPlotLeft - 4 << "\" y=\"" << svg_number(y_of(lo) + 4)
    << "\" text-anchor=\"end\" font-size=\"12\" fill=\"#6b7280\">" << fixed(lo, 2) << "</text>";
}

void write_time_axis(std::ostringstream& o, double span) {
  o << "<line x1=\"" << kPlotLeft << "\" y1=\"" << kPlotBottom << "\" x2=\"" << kPlotRight << "\" y2=\"" << kPlotBottom
    << "\" stroke=\"#6b7280\"/>";
  const double step = tick_step(span);
  for (int64_t k = 0; double(k) * step <= span + 1e-9; ++k) {
    const double t = double(k) * step, x = kPlotLeft + t / span * (kPlotRight - kPlotLeft);
    o << "<line x1=\"" << svg_number(x) << "\" y1=\"" << kPlotBottom << "\" x2=\"" << svg_number(x) << "\" y2=\""
      << kPlotBottom + 4 << "\" stroke=\"#6b7280\"/><text x=\"" << svg_number(x) << "\" y=\"" << kPlotBottom + 18
      << "\" text-anchor=\"middle\" font-size=\"13\" fill=\"#374151\">" << (step < 1 ? fixed(t, 1) : fixed(t, 0))
      << "</text>";
  }
  o << "<text x=\"" << kPlotRight << "\" y=\"" << kSvgHeight - 2
    << "\" text-anchor=\"end\" font-size=\"12\" fill=\"#6b7280\">time (s)</text>";
}

void write_moments_table(std::ostringstream& o, const ReportGrounding& g) {
  o << "<div class=\"tablebox\"><table class=\"moments\"><thead><tr><th class=\"num\">rank</th><th class=\"num\">start</th>"
       "<th class=\"num\">end</th><th class=\"num\">length</th><th class=\"num\">score</th></tr></thead><tbody>";
  if (g.moments.empty()) o << "<tr><td colspan=\"5\" class=\"meta\">no moments</td></tr>";
  for (size_t k = 0; k < g.moments.size(); ++k) {
    const ReportMoment& m = g.moments[k];
    o << "<tr" << (k == 0 ? " class=\"best\"" : "") << "><td class=\"num\">" << k + 1 << "</td><td class=\"num\" title=\""
      << fixed(m.start_seconds, 3) << " s\">" << format_clock(m.start_seconds) << "</td><td class=\"num\" title=\""
      << fixed(m.end_seconds, 3) << " s\">" << format_clock(m.end_seconds) << "</td><td class=\"num\">"
      << fixed(m.end_seconds - m.start_seconds, 1) << " s</td><td class=\"num\">" << fixed(m.score, 3) << "</td></tr>";
  }
  o << "</tbody></table></div>";
}

void write_plot(std::ostringstream& o, const ReportImage& plot) {
  if (plot.path.empty()) return;
  if (plot.src.empty()) {
    o << "<p class=\"missing\">plot missing: " << html_escape(plot.path)
      << (plot.missing_reason.empty() ? "" : " (" + html_escape(plot.missing_reason) + ")") << "</p>";
    return;
  }
  o << "<figure class=\"plot\"><img src=\"" << html_escape(plot.src) << "\" alt=\"plot " << html_escape(plot.path)
    << "\" loading=\"lazy\"><figcaption>" << html_escape(plot.path) << "</figcaption></figure>";
}

void write_query(std::ostringstream& o, const ReportGrounding& g, const std::string& id, size_t index) {
  o << "<article class=\"query\" id=\"" << id << "\"><h3><span class=\"tag\">q" << index + 1 << "</span>"
    << html_escape(g.query.empty() ? "(no query text)" : g.query) << "</h3><p class=\"meta\">"
    << (g.qid.empty() ? "" : "qid " + html_escape(g.qid) + " &middot; ") << "duration "
    << (g.duration_inferred ? "&ge; " : "") << format_clock(g.duration_seconds) << (g.duration_inferred ? " (inferred)" : "")
    << " &middot; clips of " << fixed(g.clip_seconds, 1) << " s &middot; " << plural(int64_t(g.moments.size()), "moment", "moments")
    << " &middot; " << html_escape(g.where) << "</p><div class=\"row\">" << render_saliency_svg(g);
  write_moments_table(o, g);
  o << "</div>";
  write_plot(o, g.plot);
  o << "</article>";
}

void write_qa_table(std::ostringstream& o, const std::vector<ReportQa>& questions) {
  o << "<article class=\"qa\"><h3>Questions</h3><table class=\"qa\"><thead><tr><th>question</th><th>options</th>"
       "<th>answer</th><th>gt</th></tr></thead><tbody>";
  for (const ReportQa& q : questions) {
    const size_t n = std::max(q.options.size(), q.probabilities.size());
    o << "<tr><td>" << (q.qid.empty() ? "" : "<span class=\"tag\">" + html_escape(q.qid) + "</span>")
      << html_escape(q.question.empty() && q.qid.empty() ? "(no question text)" : q.question) << "<div class=\"meta\">"
      << html_escape(q.where) << "</div></td><td>";
    for (size_t k = 0; k < n; ++k) {
      const double p = k < q.probabilities.size() ? q.probabilities[k] : NAN;
      const std::string text = k < q.options.size() ? q.options[k] : "option " + std::to_string(k);
      o << "<div class=\"opt" << (int64_t(k) == q.answer_index ? " chosen" : "") << "\"><span class=\"bar\" style=\"width:"
        << (std::isfinite(p) ? fixed(std::clamp(p, 0.0, 1.0) * 80, 1) : "0") << "px\"></span>" << k << ". "
        << html_escape(text) << " <span class=\"meta\">" << (std::isfinite(p) ? fixed(100 * p, 1) + "%" : "") << "</span>"
        << (int64_t(k) == q.gt_answer_index ? " <span class=\"ok\" title=\"ground truth\">(gt)</span>" : "") << "</div>";
    }
    o << "</td><td class=\"num\">" << (q.answer_index >= 0 ? std::to_string(q.answer_index) : "&ndash;") << "</td><td>";
    if (q.gt_answer_index < 0) o << "&ndash;";
    else if (q.gt_answer_index == q.answer_index) o << "<span class=\"ok\">" << q.gt_answer_index << " correct</span>";
    else o << "<span class=\"wrong\">" << q.gt_answer_index << " wrong</span>";
    o << "</td></tr>";
  }
  o << "</tbody></table></article>";
}

void write_header(std::ostringstream& o, const ReportData& d, const ReportOptions& options, const std::string& title) {
  o << "<header><h1>" << html_escape(title) << "</h1><p class=\"meta\">source <code>" << html_escape(d.source_path)
    << "</code> &middot; generated " << html_escape(d.generated_time) << "</p><ul class=\"counts\">";
  auto item = [&](int64_t n, const char* one, const char* many, bool bad) {
    o << "<li" << (bad && n ? " class=\"bad\"" : "") << "><b>" << n << "</b>" << (n == 1 ? one : many) << "</li>";
  };
  item(d.n_videos, "video", "videos", false);
  item(d.n_queries, "query", "queries", false);
  if (d.n_questions) item(d.n_questions, "question", "questions", false);
  item(int64_t(d.failures.size()) + d.n_failures_dropped, "failure", "failures", true);
  const int64_t n_skipped = int64_t(d.skipped.size()) + d.n_skipped_dropped;
  if (n_skipped) item(n_skipped, "skipped line", "skipped lines", true);
  o << "</ul>";
  if (d.n_results_dropped > 0) {
    const int64_t total = d.n_queries + d.n_questions;
    o << "<p class=\"note\">Truncated: showing the first " << total - d.n_results_dropped << " of " << total
      << " results (" << d.videos.size() << " of " << d.n_videos << " videos; --max-items " << options.max_items << "); "
      << d.n_results_dropped << " not shown. <code>--max-items 0</code> shows all.</p>";
  }
  o << "</header>";
}

void write_toc(std::ostringstream& o, const ReportData& d) {
  o << "<nav><strong>Contents</strong><div class=\"tocbox\"><ol>";
  for (size_t v = 0; v < d.videos.size(); ++v) {
    const ReportVideo& video = d.videos[v];
    o << "<li><a href=\"#v" << v + 1 << "\">" << html_escape(file_name(video.video)) << "</a> <span class=\"n\">";
    if (!video.queries.empty()) o << plural(int64_t(video.queries.size()), "query", "queries");
    if (!video.queries.empty() && !video.questions.empty()) o << ", ";
    if (!video.questions.empty()) o << plural(int64_t(video.questions.size()), "question", "questions");
    o << "</span></li>";
  }
  const int64_t n_failures = int64_t(d.failures.size()) + d.n_failures_dropped;
  const int64_t n_skipped = int64_t(d.skipped.size()) + d.n_skipped_dropped;
  if (n_failures || n_skipped)
    o << "<li><a href=\"#failures\">Failures</a> <span class=\"n\">"
      << (n_failures ? plural(n_failures, "video", "videos") : "") << (n_failures && n_skipped ? ", " : "")
      << (n_skipped ? plural(n_skipped, "skipped line", "skipped lines") : "") << "</span></li>";
  o << "</ol></div></nav>";
}

void write_failures(std::ostringstream& o, const ReportData& d) {
  if (d.failures.empty() && d.skipped.empty()) return;
  o << "<section id=\"failures\"><a class=\"top\" href=\"#top\">&uarr; top</a><h2>Failures</h2>";
  if (!d.failures.empty()) {
    o << "<table class=\"failures\"><thead><tr><th>video</th><th>queries</th><th>error</th><th>line</th></tr></thead><tbody>";
    for (const ReportFailure& f : d.failures)
      o << "<tr><td><code>" << html_escape(f.video) << "</code></td><td><code>" << html_escape(f.qids)
        << "</code></td><td class=\"err\">" << html_escape(f.error) << "</td><td class=\"meta\">" << html_escape(f.where)
        << "</td></tr>";
    o << "</tbody></table>";
    if (d.n_failures_dropped) o << "<p class=\"note\">" << d.n_failures_dropped << " more failures not shown.</p>";
  }
  if (!d.skipped.empty()) {
    o << "<h3 style=\"margin-top:14px\">Skipped lines</h3><table class=\"skipped\"><thead><tr><th>line</th><th>reason</th>"
         "</tr></thead><tbody>";
    for (const ReportSkippedLine& s : d.skipped)
      o << "<tr><td class=\"meta\">" << html_escape(s.where) << "</td><td class=\"err\">" << html_escape(s.reason)
        << "</td></tr>";
    o << "</tbody></table>";
    if (d.n_skipped_dropped) o << "<p class=\"note\">" << d.n_skipped_dropped << " more skipped lines not shown.</p>";
  }
  o << "</section>";
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string format_clock(double seconds) {
  if (!std::isfinite(seconds)) return "?";
  const bool negative = seconds < 0;
  const long long tenths = std::llround(std::fabs(seconds) * 10);
  const long long hours = tenths / 36000, minutes = tenths / 600 % 60;
  const double secs = double(tenths % 600) / 10;
  char buf[48];
  if (hours) std::snprintf(buf, sizeof(buf), "%s%lld:%02lld:%04.1f", negative ? "-" : "", hours, minutes, secs);
  else std::snprintf(buf, sizeof(buf), "%s%02lld:%04.1f", negative ? "-" : "", minutes, secs);
  return buf;
}

std::string base64_encode(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | uint32_t(uint8_t(bytes[i + 1])) << 8 | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[v >> shift & 63];
  }
  if (i < bytes.size()) {
    const bool two = i + 1 < bytes.size();
    const uint32_t v = uint32_t(uint8_t(bytes[i])) << 16 | (two ? uint32_t(uint8_t(bytes[i + 1])) << 8 : 0);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += two ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::string image_data_uri(const std::string& bytes, const std::string& path) {
  std::string ext = path.substr(std::min(path.size(), path.find_last_of('.') + 1));
  if (path.find_last_of('.') == std::string::npos) ext.clear();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  std::string mime = "image/png";
  if (ext == "jpg" || ext == "jpeg") mime = "image/jpeg";
  else if (ext == "gif" || ext == "webp") mime = "image/" + ext;
  else if (ext == "svg") mime = "image/svg+xml";
  return "data:" + mime + ";base64," + base64_encode(bytes);
}

std::string url_encode_path(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += char(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string render_saliency_svg(const ReportGrounding& g) {
  const double span = svg_span(g);
  std::ostringstream o;
  o << "<svg class=\"saliency\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " << kSvgWidth << " " << kSvgHeight
    << "\" role=\"img\" aria-label=\"saliency and moments of " << html_escape(g.query) << "\">";
  write_moment_bands(o, g, span);
  write_saliency_curve(o, g, span);
  write_time_axis(o, span);
  o << "</svg>";
  return o.str();
}

std::string render_report_html(const ReportData& d, const ReportOptions& options) {
  const std::string title = options.title.empty() ? "sfvu report: " + file_name(d.source_path) : options.title;
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"generator\" content=\"sfvu report\">"
       "<title>"
    << html_escape(title) << "</title><style>" << kCss << "</style></head>\n<body><div class=\"page\" id=\"top\">";
  write_header(o, d, options, title);
  write_toc(o, d);
  for (size_t v = 0; v < d.videos.size(); ++v) {
    const ReportVideo& video = d.videos[v];
    const std::string id = "v" + std::to_string(v + 1);
    o << "\n<section class=\"video\" id=\"" << id << "\"><a class=\"top\" href=\"#top\">&uarr; top</a><h2>"
      << html_escape(file_name(video.video)) << "</h2><p class=\"meta\"><code>" << html_escape(video.video) << "</code></p>";
    for (size_t q = 0; q < video.queries.size(); ++q) write_query(o, video.queries[q], id + "-q" + std::to_string(q + 1), q);
    if (!video.questions.empty()) write_qa_table(o, video.questions);
    o << "</section>";
  }
  if (d.videos.empty()) o << "<section><p class=\"meta\">No results in this file.</p></section>";
  write_failures(o, d);
  o << "\n<footer>sfvu report &middot; " << html_escape(d.source_path) << "</footer></div></body></html>\n";
  return o.str();
}

}  // namespace sfvu::cli
