// `sfvu report`: the page's pieces (escaping, clock format, base64, the SVG) tested directly on
// report_html.cpp, and the CLI contract on the built binary: moments table rows and values,
// escaping of hostile text, embedded vs linked plots, missing plots, failures and predict's
// errors side file, QA tables, malformed lines, truncation, missing input.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "report_html.h"
#include "support/test_support.h"

namespace sfvu {
namespace {

namespace fs = std::filesystem;
using test::shell_quote;

// A valid 2x1 RGB PNG and its base64.
const std::string kPng(
    "\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x02\x00\x00\x00\x01\x08\x02\x00\x00"
    "\x00\x7b\x40\xe8\xdd\x00\x00\x00\x0d\x49\x44\x41\x54\x78\x9c\x63\xf8\xcf\x00\x04\xff\x01\x07\x00\x01\xff\xe2\x23"
    "\x9e\x59\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82",
    70);
const char* kPngBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAIAAAABCAIAAAB7QOjdAAAADUlEQVR4nGP4zwAE/wEHAAH/4iOeWQAAAABJRU5ErkJggg==";
const char* kHostile = "<script>alert(1)</script> & \"quotes\" 'too'";

void write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

bool contains(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

// The rows of every <table class="NAME"> in `html`, each row its cells' text (tags stripped).
std::vector<std::vector<std::string>> table_rows(const std::string& html, const std::string& name) {
  std::vector<std::vector<std::string>> rows;
  const std::regex row("<tr[^>]*>(.*?)</tr>"), cell("<td[^>]*>(.*?)</td>"), tag("<[^>]*>");
  for (size_t at = html.find("<table class=\"" + name + "\""); at != std::string::npos;
       at = html.find("<table class=\"" + name + "\"", at + 1)) {
    const std::string table = html.substr(at, html.find("</table>", at) - at);
    for (std::sregex_iterator r(table.begin(), table.end(), row), end; r != end; ++r) {
      const std::string tr = (*r)[1];
      std::vector<std::string> cells;
      for (std::sregex_iterator c(tr.begin(), tr.end(), cell); c != end; ++c)
        cells.push_back(std::regex_replace((*c)[1].str(), tag, ""));
      if (!cells.empty()) rows.push_back(cells);
    }
  }
  return rows;
}

struct Report {
  test::CommandResult run;
  std::string html;
};

Report report(const std::string& input, const std::string& out, const std::string& extra = "") {
  Report r{test::run_sfvu("report " + shell_quote(input) + " --out " + shell_quote(out) + " " + extra), ""};
  r.html = test::read_text_file(out);
  return r;
}

// ---- report_html.cpp on its own ----

TEST(ReportHtml, EscapesEveryMarkupCharacter) {
  EXPECT_EQ(cli::html_escape(kHostile),
            "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; &#39;too&#39;");
  EXPECT_EQ(cli::html_escape("plain ü"), "plain ü");
}

TEST(ReportHtml, ClockFormatIsMinutesSecondsTenths) {
  EXPECT_EQ(cli::format_clock(0), "00:00.0");
  EXPECT_EQ(cli::format_clock(36), "00:36.0");
  EXPECT_EQ(cli::format_clock(75.26), "01:15.3");
  EXPECT_EQ(cli::format_clock(59.96), "01:00.0");  // rounding carries into the minutes
  EXPECT_EQ(cli::format_clock(3723.4), "1:02:03.4");
  EXPECT_EQ(cli::format_clock(-1.5), "-00:01.5");
  EXPECT_EQ(cli::format_clock(NAN), "?");
}

TEST(ReportHtml, Base64DataUriAndUrlPaths) {
  EXPECT_EQ(cli::base64_encode(""), "");
  EXPECT_EQ(cli::base64_encode("f"), "Zg==");
  EXPECT_EQ(cli::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(cli::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(cli::base64_encode(kPng), kPngBase64);
  EXPECT_EQ(cli::image_data_uri("foo", "a/b.PNG"), "data:image/png;base64,Zm9v");
  EXPECT_EQ(cli::image_data_uri("foo", "b.jpeg"), "data:image/jpeg;base64,Zm9v");
  EXPECT_EQ(cli::url_encode_path("../a b/c#1?&.png"), "../a%20b/c%231%3F%26.png");
}

TEST(ReportHtml, SvgDrawsOneBandPerMomentAndBreaksTheCurveAtNulls) {
  cli::ReportGrounding g;
  g.query = kHostile;
  g.duration_seconds = 20;
  g.moments = {{4, 8, 1.0}, {12, 14, 0.5}, {15, 16, NAN}};
  g.saliency = {0.1, 0.5, NAN, 0.2, 0.9, 0.3, 0.1, NAN, 0.4, 0.2};
  const std::string svg = cli::render_saliency_svg(g);
  EXPECT_EQ(count(svg, "<rect class=\"moment\""), 3u);
  EXPECT_EQ(count(svg, "<polyline"), 3u);  // runs [0,1], [3,6], [8,9]
  EXPECT_TRUE(contains(svg, "<title>#1: 00:04.0 to 00:08.0, score 1.000</title>"));
  EXPECT_FALSE(contains(svg, "<script"));
  for (const char* tick : {">0<", ">10<", ">20<"}) EXPECT_TRUE(contains(svg, tick)) << tick;
  g.saliency.clear();
  EXPECT_TRUE(contains(cli::render_saliency_svg(g), "no saliency"));
}

// ---- the CLI ----

std::string ground_line(const std::string& video, const std::string& query, const std::string& plot_json) {
  return "{\"video\":\"" + video + "\",\"query\":\"" + query +
         "\",\"duration\":60.0,\"clip_seconds\":2.0,\"moments\":[[36.0,44.0,1.83],[12.0,14.5,0.94]],"
         "\"saliency\":[0.1,0.2,0.3,null,0.5,0.4]" +
         (plot_json.empty() ? "" : ",\"plot\":" + plot_json) + ",\"extra_key\":{\"ignored\":true}}\n";
}

TEST(CliReport, GroundLinesGiveMomentTablesEscapedTextAndEmbeddedPlots) {
  const std::string dir = test::scratch_dir("cli_report_ground");
  write_file(dir + "/plots/a-q0.png", kPng);
  write_file(dir + "/g.jsonl", ground_line("/v/a.mp4", "<script>alert(1)</script> & \\\"q\\\"", "\"plots/a-q0.png\"") +
                                   ground_line("/v/b.mp4", "second", ""));
  const Report r = report(dir + "/g.jsonl", dir + "/out/r.html", "--title 'My <batch>'");
  ASSERT_EQ(r.run.exit_code, 0) << r.run.err;
  EXPECT_TRUE(contains(r.run.err, dir + "/out/r.html")) << r.run.err;
  EXPECT_FALSE(fs::exists(dir + "/out/r.html.tmp"));
  const auto rows = table_rows(r.html, "moments");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"1", "00:36.0", "00:44.0", "8.0 s", "1.830"}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"2", "00:12.0", "00:14.5", "2.5 s", "0.940"}));
  EXPECT_EQ(rows[2][1], "00:36.0");
  // Escaping: the query, the title; no live markup from the input anywhere.
  EXPECT_FALSE(contains(r.html, "<script"));
  EXPECT_TRUE(contains(r.html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;"));
  EXPECT_TRUE(contains(r.html, "<title>My &lt;batch&gt;</title>"));
  // The plot is embedded, the other query has none (and is no "missing plot").
  EXPECT_EQ(count(r.html, "src=\"data:image/png;base64," + std::string(kPngBase64) + "\""), 1u);
  EXPECT_FALSE(contains(r.html, "plot missing"));
  EXPECT_EQ(count(r.html, "<svg class=\"saliency\""), 2u);
  // Header counts, table of contents with anchors to both sections.
  EXPECT_TRUE(contains(r.html, "<b>2</b>videos"));
  EXPECT_TRUE(contains(r.html, "<b>2</b>queries"));
  EXPECT_TRUE(contains(r.html, "<b>0</b>failures"));
  EXPECT_TRUE(contains(r.html, "href=\"#v1\">a.mp4</a>"));
  EXPECT_TRUE(contains(r.html, "id=\"v2\""));
}

TEST(CliReport, LinkImagesReferencesPlotsRelativeToThePage) {
  const std::string dir = test::scratch_dir("cli_report_link");
  write_file(dir + "/plots/p x.png", kPng);
  write_file(dir + "/data/g.jsonl", ground_line("a.mp4", "q", "\"../plots/p x.png\""));
  const Report r = report(dir + "/data/g.jsonl", dir + "/html/r.html", "--link-images");
  ASSERT_EQ(r.run.exit_code, 0) << r.run.err;
  EXPECT_FALSE(contains(r.html, "data:image"));
  EXPECT_TRUE(contains(r.html, "src=\"../plots/p%20x.png\"")) << r.html.substr(0, 200);
}

TEST(CliReport, AMissingPlotIsNotedAndIsNoFailure) {
  const std::string dir = test::scratch_dir("cli_report_missing_plot");
  write_file(dir + "/g.jsonl", ground_line("a.mp4", "q", "\"nope.png\""));
  const Report r = report(dir + "/g.jsonl", dir + "/r.html");
  ASSERT_EQ(r.run.exit_code, 0) << r.run.err;
  EXPECT_TRUE(contains(r.html, "plot missing: " + dir + "/nope.png"));
  EXPECT_TRUE(contains(r.html, "<b>0</b>failures"));
  EXPECT_EQ(table_rows(r.html, "moments").size(), 2u);
}

TEST(CliReport, FailureLinesAndPredictErrorsSideFile) {
  const std::string dir = test::scratch_dir("cli_report_failures");
  write_file(dir + "/pred.jsonl",
             "{\"qid\":7,\"query\":\"a dog runs\",\"vid\":\"v1\",\"pred_relevant_windows\":[[10,150,0.9],[0,4,0.2]],"
             "\"pred_saliency_scores\":[0.5,0.1,0.2]}\n"
             "{\"video\":\"/v/<bad>.mp4\",\"error\":\"cannot open '/v/<bad>.mp4': No such file\"}\n");
  write_file(dir + "/pred.jsonl.errors.jsonl", "{\"vid\":\"v9\",\"qids\":[3,4],\"error\":\"decode failed\"}\n");
  const Report r = report(dir + "/pred.jsonl", dir + "/r.html");
  ASSERT_EQ(r.run.exit_code, 0) << r.run.err;
  const auto failures = table_rows(r.html, "failures");
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0][0], "/v/&lt;bad&gt;.mp4");
  EXPECT_EQ(failures[0][2], "cannot open &#39;/v/&lt;bad&gt;.mp4&#39;: No such file");
  EXPECT_EQ(failures[0][3], dir + "/pred.jsonl:2");
  EXPECT_EQ(failures[1], (std::vector<std::string>{"v9", "[3,4]", "decode failed", dir + "/pred.jsonl.errors.jsonl:1"}));
  EXPECT_TRUE(contains(r.html, "<b>2</b>failures"));
  EXPECT_TRUE(contains(r.html, "href=\"#failures\""));
  // The predict line: qid shown, duration inferred from the last window (150 s > 3 clips).
  EXPECT_TRUE(contains(r.html, "qid 7"));
  EXPECT_TRUE(contains(r.html, "duration &ge; 02:30.0 (inferred)"));
  EXPECT_EQ(table_rows(r.html, "moments").at(0), (std::vector<std::string>{"1", "00:10.0", "02:30.0", "140.0 s", "0.900"}));
}

TEST(CliReport, QaLinesGiveAQuestionTable) {
  const std::string dir = test::scratch_dir("cli_report_qa");
  write_file(dir + "/qa.jsonl",
             "{\"video\":\"a.mp4\",\"question\":\"what <moves>?\",\"options\":[\"a cup\",\"a ball\"],\"answer_index\":1,"
             "\"probabilities\":[0.25,0.75]}\n"
             "{\"qid\":\"q12\",\"vid\":\"b\",\"answer_index\":0,\"probabilities\":[0.6,0.3,0.1],\"answer\":2}\n");
  const Report r = report(dir + "/qa.jsonl", dir + "/r.html");
  ASSERT_EQ(r.run.exit_code, 0) << r.run.err;
  const auto rows = table_rows(r.html, "qa");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(contains(rows[0][0], "what &lt;moves&gt;?"));
  EXPECT_TRUE(contains(rows[0][1], "0. a cup 25.0%"));
  EXPECT_TRUE(contains(rows[0][1], "1. a ball 75.0%"));
  EXPECT_EQ(rows[0][2], "1");
  EXPECT_EQ(rows[0][3], "&ndash;");  // no ground truth
  EXPECT_TRUE(contains(rows[1][0], "q12"));
  EXPECT_TRUE(contains(rows[1][1], "2. option 2 10.0%"));
  EXPECT_EQ(rows[1][3], "2 wrong");
  EXPECT_TRUE(contains(r.html, "<b>2</b>questions"));
  EXPECT_TRUE(contains(r.html, "<b>0</b>queries"));
}

TEST(CliReport, MalformedLinesAreSkippedNamedAndListed) {
  const std::string dir = test::scratch_dir("cli_report_malformed");
  const std::string input = dir + "/g.jsonl";
  write_file(input, ground_line("a.mp4", "q", "") + "{not json\n\n[1,2]\n{\"video\":\"a.mp4\",\"moments\":\"x\"}\n" +
                        "{\"video\":\"b.mp4\",\"what\":1}\n{\"video\": \"torn");
  const Report r = report(input, dir + "/r.html");
  ASSERT_EQ(r.run.exit_code, 0) << r.run.err;
  for (const char* line : {":2: not JSON", ":4: not a JSON object", ":5: key 'moments' is not an array", ":6: neither", ":7: not JSON"})
    EXPECT_TRUE(contains(r.run.err, input + line)) << line << "\n" << r.run.err;
  const auto skipped = table_rows(r.html, "skipped");
  ASSERT_EQ(skipped.size(), 5u);
  EXPECT_EQ(skipped[0][0], input + ":2");
  EXPECT_EQ(skipped[2][0], input + ":5");
  EXPECT_EQ(table_rows(r.html, "moments").size(), 2u);  // the good line is still there
  EXPECT_TRUE(contains(r.html, "<b>5</b>skipped lines"));

  // Nothing usable at all: most likely the wrong file; a one-line error naming the line.
  write_file(dir + "/bad.jsonl", "hello\nworld\n");
  auto bad = test::run_sfvu("report " + shell_quote(dir + "/bad.jsonl"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(contains(bad.err, "sfvu: error: report: " + dir + "/bad.jsonl: no usable line (" + dir + "/bad.jsonl:1"))
      << bad.err;
  EXPECT_FALSE(fs::exists(dir + "/bad.html"));
}

TEST(CliReport, MaxItemsTruncatesWithANoteAndDefaultOutputIsNextToTheInput) {
  const std::string dir = test::scratch_dir("cli_report_truncate");
  std::string lines;
  for (int k = 0; k < 5; ++k) lines += ground_line("v" + std::to_string(k) + ".mp4", "q", "");
  write_file(dir + "/many.jsonl", lines);
  auto run = test::run_sfvu("report " + shell_quote(dir + "/many.jsonl") + " --max-items 2");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const std::string html = test::read_text_file(dir + "/many.html");
  EXPECT_EQ(count(html, "<article class=\"query\""), 2u);
  EXPECT_TRUE(contains(html, "showing the first 2 of 5 results (2 of 5 videos; --max-items 2); 3 not shown"));
  EXPECT_TRUE(contains(html, "<b>5</b>videos"));
  EXPECT_FALSE(contains(test::read_text_file(dir + "/many.html"), "id=\"v3\""));
}

TEST(CliReport, MissingInputAndUsageErrors) {
  auto missing = test::run_sfvu("report /no/such/pred.jsonl --out /tmp/never.html");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(test::nonempty_lines(missing.err).size(), 1u) << missing.err;
  EXPECT_TRUE(contains(missing.err, "/no/such/pred.jsonl")) << missing.err;
  EXPECT_EQ(test::run_sfvu("report").exit_code, 2);
  EXPECT_EQ(test::run_sfvu("report x.jsonl --max-items -1").exit_code, 2);
  auto help = test::run_sfvu("report --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(contains(help.out + help.err, "--link-images"));
}

}  // namespace
}  // namespace sfvu
