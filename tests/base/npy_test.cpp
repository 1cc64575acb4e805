#include <gtest/gtest.h>

#include <fstream>

#include "sfvu/base/error.h"
#include "sfvu/base/npy.h"
#include "support/test_support.h"

namespace sfvu {
namespace {

TEST(Npy, WholeArrayRoundTrip) {
  std::string dir = test::scratch_dir("npy_roundtrip");
  std::vector<float> v{1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.0f};
  write_npy(dir + "/a.npy", NpyDtype::kFloat32, {2, 3}, v.data());
  NpyArray a = read_npy(dir + "/a.npy");
  EXPECT_EQ(a.dtype, NpyDtype::kFloat32);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(a.numel(), 6);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(a.as<float>()[i], v[i]);
}

TEST(Npy, HeaderIsNumpyFormat10AndAligned) {
  std::string dir = test::scratch_dir("npy_header");
  uint8_t x = 7;
  write_npy(dir + "/s.npy", NpyDtype::kUint8, {1}, &x);
  std::string bytes = test::read_text_file(dir + "/s.npy");
  ASSERT_GT(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  EXPECT_EQ(bytes[6], '\x01');
  size_t header_len = uint8_t(bytes[8]) | (uint8_t(bytes[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u) << "numpy requires 64-byte alignment of the data";
  EXPECT_NE(bytes.find("'shape': (1,)"), std::string::npos) << bytes.substr(0, 10 + header_len);
  EXPECT_EQ(bytes.back(), '\x07');
}

TEST(Npy, StreamingWriterRewritesCount) {
  std::string dir = test::scratch_dir("npy_stream");
  {
    NpyWriter w(dir + "/f.npy", NpyDtype::kUint8, {2, 2, 3});
    std::vector<uint8_t> rows(3 * 12);
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = uint8_t(i);
    w.append_rows(rows.data(), 3);
    w.append_rows(rows.data(), 1);
    EXPECT_EQ(w.rows(), 4);
  }  // destructor closes
  NpyArray a = read_npy(dir + "/f.npy");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{4, 2, 2, 3}));
  EXPECT_EQ(a.data[12 * 3 + 5], 5);
  EXPECT_EQ(a.data[12 * 2 + 11], 24 + 11);
}

TEST(Npy, ErrorsNameTheFile) {
  std::string dir = test::scratch_dir("npy_errors");
  try {
    read_npy(dir + "/missing.npy");
    FAIL() << "no throw";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.npy"), std::string::npos);
  }
  std::ofstream(dir + "/bad.npy") << "not numpy at all";
  EXPECT_THROW(read_npy(dir + "/bad.npy"), FormatError);
  // Valid header promising more data than the file has.
  std::vector<float> v(4, 1.0f);
  write_npy(dir + "/cut.npy", NpyDtype::kFloat32, {4}, v.data());
  std::string bytes = test::read_text_file(dir + "/cut.npy");
  std::ofstream(dir + "/cut.npy", std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() - 4);
  try {
    read_npy(dir + "/cut.npy");
    FAIL() << "no throw";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("cut.npy"), std::string::npos);
  }
}

}  // namespace
}  // namespace sfvu
