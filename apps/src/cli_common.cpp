#include "cli_common.h"

#include <unistd.h>

#include <atomic>
#include <csignal>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <algorithm>
#include <sstream>

#include "sfvu/base/error.h"

namespace sfvu::cli {

bool parse_args(const std::string& command, const std::string& synopsis, const std::vector<std::string>& args,
                po::options_description& desc, const po::positional_options_description& positional,
                po::variables_map& vm) {
  desc.add_options()("help,h", "show this help");
  try {
    po::store(po::command_line_parser(args).options(desc).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: sfvu " << command << " " << synopsis << "\n\n" << desc << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(command + ": " + e.what() + " (see sfvu " + command + " --help)");
  }
  return true;
}

std::vector<double> parse_number_list(const std::string& text, const std::string& option) {
  std::vector<double> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      size_t used = 0;
      out.push_back(std::stod(item, &used));
      if (used != item.size()) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      throw UsageError(option + ": '" + item + "' is not a number");
    }
  }
  if (out.empty()) throw UsageError(option + ": expected a comma-separated list of numbers");
  return out;
}

json to_json(const decode::MediaInfo& info) {
  auto opt = [](double v) { return v >= 0 ? json(v) : json(nullptr); };
  const auto& v = info.video;
  return json{{"path", info.path},
              {"format", info.format},
              {"duration_seconds", opt(info.duration_seconds)},
              {"start_seconds", info.start_seconds},
              {"has_audio", info.has_audio},
              {"video",
               {{"codec", v.codec},
                {"width", v.width},
                {"height", v.height},
                {"coded_width", v.coded_width},
                {"coded_height", v.coded_height},
                {"rotation_degrees", v.rotation_degrees},
                {"pix_fmt", v.pix_fmt},
                {"fps", v.fps},
                {"n_frames", v.n_frames},
                {"n_frames_exact", v.n_frames_exact},
                {"stream_index", v.stream_index}}},
              {"container_duration_seconds", opt(info.container_duration_seconds)},
              {"seekable", info.seekable},
              {"indexed", info.indexed}};
}

json to_json(const decode::DecodeStats& s) {
  json j{{"packets_read", s.packets_read},       {"packets_skipped", s.packets_skipped},
         {"frames_decoded", s.frames_decoded},   {"frames_converted", s.frames_converted},
         {"frames_returned", s.frames_returned}, {"seeks", s.seeks},
         {"errors", s.decode_errors},            {"truncated", s.truncated}};
  if (!s.last_error.empty()) j["last_error"] = s.last_error;
  return j;
}

json frames_json(const std::vector<int64_t>& indices, const std::vector<double>& pts) {
  json arr = json::array();
  for (size_t i = 0; i < indices.size(); ++i) arr.push_back({{"index", indices[i]}, {"pts_seconds", pts[i]}});
  return arr;
}

void write_json_file(const std::string& path, const json& j) {
  std::ofstream out(path);
  if (!out) throw IoError(path + ": cannot open for writing");
  out << j.dump(2) << "\n";
  if (!out) throw IoError(path + ": write failed");
}

void make_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir)) throw IoError(dir + ": cannot create directory: " + ec.message());
}

std::string text_bar(double fraction) {
  const int filled = static_cast<int>(std::clamp(fraction, 0.0, 1.0) * 30);
  return "[" + std::string(size_t(filled), '#') + std::string(size_t(30 - filled), '.') + "]";
}

std::string short_number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

ProgressReporter::ProgressReporter(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled), tty_(isatty(STDERR_FILENO) == 1) {}

ProgressReporter::~ProgressReporter() {
  if (enabled_ && tty_ && printed_) std::cerr << "\n";
}

bool ProgressReporter::operator()(const Progress& p) {
  if (!enabled_) return true;
  using clock = std::chrono::steady_clock;
  double now = std::chrono::duration<double>(clock::now().time_since_epoch()).count();
  bool final = p.total > 0 && p.done >= p.total;
  if (start_ < 0) start_ = now;
  if (now - start_ < (tty_ ? 0.5 : 2.0)) return true;  // short jobs stay silent
  if (!final && now - last_print_ < (tty_ ? 0.1 : 5.0)) return true;
  last_print_ = now;
  std::ostringstream line;
  line << label_ << " " << p.stage << " ";
  if (p.total > 0) {
    double f = std::min(1.0, double(p.done) / double(p.total));
    if (tty_) line << text_bar(f) << " ";
    line << std::fixed << std::setprecision(0) << f * 100 << "% (" << p.done << "/" << p.total << " frames, t="
         << std::setprecision(1) << p.media_seconds << " s)";
  } else {
    line << p.done << " frames, t=" << std::fixed << std::setprecision(1) << p.media_seconds << " s";
  }
  if (tty_) std::cerr << "\r" << line.str() << std::flush;
  else std::cerr << line.str() << "\n";
  printed_ = true;
  return true;
}

ProgressCallback ProgressReporter::callback() {
  return [this](const Progress& p) { return (*this)(p); };
}

void write_pngs(const std::string& dir, const uint8_t* rgb, int64_t n, int width, int height, int64_t first_number) {
  cv::Mat bgr;
  for (int64_t i = 0; i < n; ++i) {
    cv::Mat frame(height, width, CV_8UC3, const_cast<uint8_t*>(rgb + i * int64_t(width) * height * 3));
    cv::cvtColor(frame, bgr, cv::COLOR_RGB2BGR);
    char name[32];
    std::snprintf(name, sizeof(name), "/%06lld.png", static_cast<long long>(first_number + i));
    std::string path = dir + name;
    if (!cv::imwrite(path, bgr)) throw IoError(path + ": cannot write PNG");
  }
}

FrameWriter::FrameWriter(std::string dir, std::string npy_name, Format format, int width, int height)
    : dir_(std::move(dir)), format_(format), width_(width), height_(height) {
  if (format_ == Format::kNpy)
    npy_ = std::make_unique<NpyWriter>(dir_ + "/" + npy_name, NpyDtype::kUint8,
                                       std::vector<int64_t>{height_, width_, 3});
}

void FrameWriter::add_frames(const uint8_t* rgb, int64_t n, const int64_t* idx, const double* pts) {
  if (format_ == Format::kNpy) npy_->append_rows(rgb, n);
  else write_pngs(dir_, rgb, n, width_, height_, count());
  indices_.insert(indices_.end(), idx, idx + n);
  pts_.insert(pts_.end(), pts, pts + n);
}

void FrameWriter::add(const decode::FrameChunk& c) {
  add_frames(c.rgb.data(), c.size(), c.indices.data(), c.pts_seconds.data());
}

void FrameWriter::add(const decode::FrameBatch& b) {
  add_frames(b.rgb.data(), b.size(), b.indices.data(), b.pts_seconds.data());
}

void FrameWriter::close() {
  if (npy_) npy_->close();
}

namespace {

std::atomic<decode::VideoReader*> g_signal_reader{nullptr};
std::atomic<bool> g_signal_fired{false};

extern "C" void stop_reader_on_signal(int sig) {
  g_signal_fired = true;
  if (decode::VideoReader* r = g_signal_reader.load()) r->interrupt();  // an atomic store
  std::signal(sig, SIG_DFL);
}

}  // namespace

StopOnSignal::StopOnSignal(decode::VideoReader& reader) {
  g_signal_reader = &reader;
  std::signal(SIGINT, stop_reader_on_signal);
  std::signal(SIGTERM, stop_reader_on_signal);
}

StopOnSignal::~StopOnSignal() {
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  g_signal_reader = nullptr;
}

bool StopOnSignal::fired() { return g_signal_fired.load(); }

void add_decoder_options(po::options_description& desc) {
  decode::DecoderOptions d;
  desc.add_options()
      ("threads", po::value<int>()->default_value(d.threads), "decoder threads (0 = one per core)")
      ("stream", po::value<int>()->default_value(d.stream_index), "video stream index (-1 = best)")
      ("timeout", po::value<double>()->default_value(d.input.timeout_seconds),
       "give up on a stalled input after this many seconds")
      ("input-format", po::value<std::string>()->default_value(d.input.format),
       "force an input format/device (v4l2, mpegts, ...)")
      ("no-seek", "always decode through instead of seeking")
      ("no-skip", "decode every frame, even unneeded non-reference ones")
      ("no-index", "do not build a packet index (forward-only, like a live input)");
}

decode::DecoderOptions decoder_options(const po::variables_map& vm) {
  decode::DecoderOptions d;
  d.threads = vm["threads"].as<int>();
  d.stream_index = vm["stream"].as<int>();
  d.input.timeout_seconds = vm["timeout"].as<double>();
  d.input.format = vm["input-format"].as<std::string>();
  d.allow_seek = !vm.count("no-seek");
  d.skip_unneeded = !vm.count("no-skip");
  if (vm.count("no-index")) d.index = decode::IndexMode::kNever;
  return d;
}

}  // namespace sfvu::cli
