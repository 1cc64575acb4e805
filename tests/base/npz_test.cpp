#include "sfvu/base/npz.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <fstream>

#include "sfvu/base/error.h"
#include "support/test_support.h"

namespace sfvu {
namespace {

using test::expect_error;


void put(std::string& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

/// A zip member as a zip tool would store it.
struct RawMember {
  std::string name;
  uint16_t method;       ///< 0 stored, 8 deflate
  std::string content;   ///< uncompressed bytes
  std::string payload;   ///< bytes as stored in the archive
};

/// Builds a zip archive by hand (PKWARE APPNOTE layout), independent of write_npz.
std::string make_zip(const std::vector<RawMember>& members) {
  std::string out, central;
  for (const RawMember& m : members) {
    uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(m.content.data()), uInt(m.content.size()));
    std::string common;
    put(common, 20, 2);
    put(common, 0, 2);
    put(common, m.method, 2);
    put(common, 0, 4);  // time, date
    put(common, crc, 4);
    put(common, m.payload.size(), 4);
    put(common, m.content.size(), 4);
    put(common, m.name.size(), 2);
    put(common, 0, 2);
    put(central, 0x02014b50, 4);
    put(central, 20, 2);
    central += common;
    put(central, 0, 8);  // comment length, disk, internal attributes, part of external
    put(central, 0, 2);
    put(central, out.size(), 4);
    central += m.name;
    put(out, 0x04034b50, 4);
    out += common + m.name + m.payload;
  }
  std::string end;
  put(end, 0x06054b50, 4);
  put(end, 0, 4);
  put(end, members.size(), 2);
  put(end, members.size(), 2);
  put(end, central.size(), 4);
  put(end, out.size(), 4);
  put(end, 0, 2);
  return out + central + end;
}

/// Raw deflate (no zlib header: window bits -15), as zip method 8 stores it.
std::string raw_deflate(const std::string& in) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, uLong(in.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = uInt(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = uInt(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

/// The .npy bytes write_npy produces for `data` (an independent .npy writer).
template <typename T>
std::string npy_bytes(const std::string& dir, NpyDtype dtype, const std::vector<int64_t>& shape,
                      const std::vector<T>& data) {
  write_npy(dir + "/tmp.npy", dtype, shape, data.data());
  return test::read_text_file(dir + "/tmp.npy");
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST(Npz, RoundTrip) {
  const std::string path = test::scratch_dir("npz_roundtrip") + "/f.npz";
  std::vector<float> features(15);
  for (size_t i = 0; i < features.size(); ++i) features[i] = 0.5f * float(i) - 3.f;
  std::vector<int64_t> ids{-1, 0, int64_t{1} << 40};
  std::vector<uint8_t> pixels{0, 128, 255, 7, 8, 9};
  double scalar = 3.25;
  write_npz(path, {{"features", NpyDtype::kFloat32, {3, 5}, features.data()},
                   {"ids", NpyDtype::kInt64, {3}, ids.data()},
                   {"pixels", NpyDtype::kUint8, {1, 2, 3}, pixels.data()},
                   {"scale", NpyDtype::kFloat64, {}, &scalar},
                   {"none", NpyDtype::kFloat32, {0, 4}, nullptr}});
  const auto arrays = read_npz(path);
  ASSERT_EQ(arrays.size(), 5u);
  const NpyArray& f = arrays.at("features");
  EXPECT_EQ(f.dtype, NpyDtype::kFloat32);
  EXPECT_EQ(f.shape, (std::vector<int64_t>{3, 5}));
  ASSERT_EQ(f.numel(), 15);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(f.as<float>()[i], features[i]);
  const NpyArray& id = arrays.at("ids");
  EXPECT_EQ(id.dtype, NpyDtype::kInt64);
  EXPECT_EQ(std::vector<int64_t>(id.as<int64_t>(), id.as<int64_t>() + 3), ids);
  const NpyArray& px = arrays.at("pixels");
  EXPECT_EQ(px.dtype, NpyDtype::kUint8);
  EXPECT_EQ(px.shape, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(px.data, pixels);
  EXPECT_TRUE(arrays.at("scale").shape.empty());
  EXPECT_EQ(arrays.at("scale").as<double>()[0], 3.25);
  EXPECT_EQ(arrays.at("none").shape, (std::vector<int64_t>{0, 4}));
  EXPECT_TRUE(arrays.at("none").data.empty());
}

TEST(Npz, ArchiveLayoutIsWhatNumpyWrites) {
  const std::string dir = test::scratch_dir("npz_layout");
  std::vector<float> v{1, 2, 3, 4, 5, 6};
  write_npz(dir + "/a.npz", {{"features", NpyDtype::kFloat32, {2, 3}, v.data()}});
  const std::string zip = test::read_text_file(dir + "/a.npz");
  ASSERT_GT(zip.size(), 30u);
  EXPECT_EQ(zip.substr(0, 4), std::string("PK\x03\x04", 4));
  EXPECT_EQ(zip[8], 0) << "method: stored";
  EXPECT_EQ(zip.substr(30, 12), "features.npy");
  // The member is byte-identical to the .npy that numpy (and write_npy's layout rules) produce:
  // format 1.0, header padded so the data starts 64-byte aligned.
  const std::string npy = zip.substr(42, zip.find("PK\x01\x02") - 42);
  EXPECT_EQ(npy.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(npy.size() % 64, 24u) << "64-byte aligned header + 24 bytes of data";
  EXPECT_NE(npy.find("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"), std::string::npos);
  float back[6];
  std::memcpy(back, npy.data() + npy.size() - 24, 24);
  EXPECT_EQ(back[5], 6.f);
  // And write_npy's own reader accepts the member as an .npy file.
  write_file(dir + "/member.npy", npy);
  EXPECT_EQ(read_npy(dir + "/member.npy").shape, (std::vector<int64_t>{2, 3}));
}

TEST(Npz, ReadsDeflatedMembers) {
  const std::string dir = test::scratch_dir("npz_deflate");
  std::vector<float> features(256);
  for (size_t i = 0; i < features.size(); ++i) features[i] = float(i % 7);
  std::vector<int32_t> labels{4, 5, 6};
  const std::string f_npy = npy_bytes(dir, NpyDtype::kFloat32, {64, 4}, features);
  const std::string l_npy = npy_bytes(dir, NpyDtype::kInt32, {3}, labels);
  const std::string deflated = raw_deflate(f_npy);
  ASSERT_LT(deflated.size(), f_npy.size() / 2) << "the member really is compressed";
  write_file(dir + "/c.npz", make_zip({{"features.npy", 8, f_npy, deflated}, {"labels.npy", 0, l_npy, l_npy}}));

  const auto arrays = read_npz(dir + "/c.npz");
  ASSERT_EQ(arrays.size(), 2u);
  const NpyArray& f = arrays.at("features");
  EXPECT_EQ(f.shape, (std::vector<int64_t>{64, 4}));
  ASSERT_EQ(f.numel(), 256);
  for (int i = 0; i < 256; ++i) ASSERT_EQ(f.as<float>()[i], features[i]) << i;
  EXPECT_EQ(arrays.at("labels").as<int32_t>()[2], 6);

  // A corrupt deflate stream is a FormatError naming the member.
  std::string broken = deflated;
  broken.resize(broken.size() / 2);
  write_file(dir + "/d.npz", make_zip({{"features.npy", 8, f_npy, broken}}));
  expect_error<FormatError>([&] { read_npz(dir + "/d.npz"); }, {dir + "/d.npz", "features.npy", "deflate"});
}

TEST(NpzErrors, BadCrcNamesTheMember) {
  const std::string path = test::scratch_dir("npz_crc") + "/bad.npz";
  std::vector<uint8_t> data(32, 0xab);
  write_npz(path, {{"ok", NpyDtype::kUint8, {1}, data.data()},
                   {"features", NpyDtype::kUint8, {32}, data.data()}});
  std::string zip = test::read_text_file(path);
  size_t run = zip.find(std::string(32, '\xab'));
  ASSERT_NE(run, std::string::npos);
  zip[run + 5] = '\xac';
  write_file(path, zip);
  expect_error<FormatError>([&] { read_npz(path); }, {path, "features.npy", "CRC"});
}

TEST(NpzErrors, NotAZipAndOtherFailures) {
  const std::string dir = test::scratch_dir("npz_errors");
  expect_error<IoError>([&] { read_npz(dir + "/absent.npz"); }, {dir + "/absent.npz"});
  write_file(dir + "/text.npz", "this is not a zip archive at all, just some text");
  expect_error<FormatError>([&] { read_npz(dir + "/text.npz"); }, {dir + "/text.npz", "not a zip"});
  write_file(dir + "/tiny.npz", "PK");
  expect_error<FormatError>([&] { read_npz(dir + "/tiny.npz"); }, {dir + "/tiny.npz", "not a zip"});

  std::vector<int32_t> v{1, 2};
  const std::string npy = npy_bytes(dir, NpyDtype::kInt32, {2}, v);
  write_file(dir + "/bzip2.npz", make_zip({{"x.npy", 12, npy, npy}}));
  expect_error<FormatError>([&] { read_npz(dir + "/bzip2.npz"); }, {"x.npy", "compression method 12"});
  write_file(dir + "/notnpy.npz", make_zip({{"x.npy", 0, "hello", "hello"}}));
  expect_error<FormatError>([&] { read_npz(dir + "/notnpy.npz"); }, {dir + "/notnpy.npz", "x.npy"});
  const std::string short_npy = npy.substr(0, npy.size() - 4);  // shape promises 8 data bytes
  write_file(dir + "/short.npz", make_zip({{"x.npy", 0, short_npy, short_npy}}));
  expect_error<FormatError>([&] { read_npz(dir + "/short.npz"); }, {"x.npy", "needs 8"});
  // A truncated archive loses its end record.
  write_npz(dir + "/cut.npz", {{"x", NpyDtype::kInt32, {2}, v.data()}});
  std::string cut = test::read_text_file(dir + "/cut.npz");
  write_file(dir + "/cut.npz", cut.substr(0, cut.size() - 10));
  expect_error<FormatError>([&] { read_npz(dir + "/cut.npz"); }, {dir + "/cut.npz"});
  expect_error<UsageError>([&] { write_npz(dir + "/dup.npz", {{"x", NpyDtype::kInt32, {2}, v.data()},
                                                             {"x", NpyDtype::kInt32, {2}, v.data()}}); },
                           {dir + "/dup.npz", "x.npy"});
  expect_error<IoError>([&] { write_npz(dir + "/no/dir/x.npz", {}); }, {"no/dir/x.npz"});
}

}  // namespace
}  // namespace sfvu
