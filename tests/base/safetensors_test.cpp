#include "sfvu/base/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "sfvu/base/error.h"
#include "support/test_support.h"

namespace sfvu {
namespace {

using test::expect_error;

namespace fs = std::filesystem;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

/// A raw safetensors file: 8-byte length (`declared_len`, default the real one), header, data.
std::string raw_file(const std::string& header, const std::string& data, int64_t declared_len = -1) {
  uint64_t n = declared_len < 0 ? header.size() : static_cast<uint64_t>(declared_len);
  std::string out;
  for (int i = 0; i < 8; ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}


void expect_open_fails(const std::string& path, const std::vector<std::string>& parts) {
  std::vector<std::string> all{path};
  all.insert(all.end(), parts.begin(), parts.end());
  expect_error<FormatError>([&] { SafetensorsFile::open(path); }, all);
}

TEST(Safetensors, DtypeNamesAndSizes) {
  EXPECT_EQ(to_string(TensorDtype::kBF16), "BF16");
  EXPECT_EQ(dtype_size(TensorDtype::kBF16), 2u);
  EXPECT_EQ(dtype_size(TensorDtype::kF64), 8u);
  EXPECT_EQ(dtype_size(TensorDtype::kBool), 1u);
  for (const char* name : {"F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"})
    EXPECT_EQ(to_string(parse_tensor_dtype(name, "ctx")), name);
  expect_error<FormatError>([] { parse_tensor_dtype("F8_E4M3", "somewhere"); }, {"somewhere", "F8_E4M3"});
}

TEST(Safetensors, RealClipTinyCheckpointOpens) {
  const std::string path = test::fixture("clip_tiny/model.safetensors");
  auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->tensors().size(), 94u);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  for (size_t i = 1; i < file->tensors().size(); ++i)
    EXPECT_LT(file->tensors()[i - 1].name, file->tensors()[i].name);

  const TensorView& scale = file->tensor("logit_scale");
  EXPECT_EQ(scale.dtype, TensorDtype::kF32);
  EXPECT_TRUE(scale.shape.empty());
  EXPECT_EQ(scale.numel(), 1);
  ASSERT_EQ(scale.bytes, 4u);
  float value;
  std::memcpy(&value, scale.data, 4);
  EXPECT_EQ(value, 2.6592600345611572f);

  const TensorView& patch = file->tensor("vision_model.embeddings.patch_embedding.weight");
  EXPECT_EQ(patch.shape, (std::vector<int64_t>{64, 3, 8, 8}));
  EXPECT_EQ(patch.bytes, 64u * 3 * 8 * 8 * 4);
  for (const TensorView& t : file->tensors()) EXPECT_EQ(t.bytes, size_t(t.numel()) * 4) << t.name;

  // The directory opens as a checkpoint with the same tensors, pointing into the same map.
  auto ckpt = SafetensorsCheckpoint::open(test::fixture("clip_tiny"));
  EXPECT_EQ(ckpt.names().size(), 94u);
  ASSERT_EQ(ckpt.files().size(), 1u);
  EXPECT_EQ(ckpt.tensor("logit_scale").shape, std::vector<int64_t>{});
  EXPECT_EQ(ckpt.file_of("logit_scale")->path(), test::fixture("clip_tiny") + "/model.safetensors");
}

struct Sample {
  std::string name;
  TensorDtype dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

template <typename T>
std::vector<uint8_t> bytes_of(const std::vector<T>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::vector<Sample> samples() {
  return {
      {"f64", TensorDtype::kF64, {2}, bytes_of(std::vector<double>{1.0 / 3, -1e300})},
      {"f32", TensorDtype::kF32, {2, 3}, bytes_of(std::vector<float>{1, 2, 3, -4.5f, 1e-30f, 6})},
      // Raw half / bfloat16 bits, including inf and NaN patterns, must come back untouched.
      {"f16", TensorDtype::kF16, {4}, bytes_of(std::vector<uint16_t>{0x3c00, 0x7c00, 0x7e01, 0x8001})},
      {"bf16", TensorDtype::kBF16, {1, 3}, bytes_of(std::vector<uint16_t>{0x3f80, 0xff81, 0x0001})},
      {"i64", TensorDtype::kI64, {2}, bytes_of(std::vector<int64_t>{-1, int64_t{1} << 62})},
      {"i32", TensorDtype::kI32, {1}, bytes_of(std::vector<int32_t>{-7})},
      {"i16", TensorDtype::kI16, {2}, bytes_of(std::vector<int16_t>{-2, 3})},
      {"i8", TensorDtype::kI8, {3}, bytes_of(std::vector<int8_t>{-128, 0, 127})},
      {"u8", TensorDtype::kU8, {5}, bytes_of(std::vector<uint8_t>{0, 1, 2, 254, 255})},
      {"bool", TensorDtype::kBool, {2}, bytes_of(std::vector<uint8_t>{1, 0})},
      {"scalar", TensorDtype::kF32, {}, bytes_of(std::vector<float>{2.5f})},
      {"empty", TensorDtype::kF32, {2, 0}, {}},
  };
}

std::vector<TensorToWrite> to_write(const std::vector<Sample>& s) {
  std::vector<TensorToWrite> out;
  for (const auto& x : s) out.push_back({x.name, x.dtype, x.shape, x.bytes.data()});
  return out;
}

TEST(Safetensors, RoundTripEveryDtype) {
  const std::string path = test::scratch_dir("st_roundtrip") + "/all.safetensors";
  const std::vector<Sample> s = samples();
  write_safetensors(path, to_write(s));
  auto file = SafetensorsFile::open(path);
  ASSERT_EQ(file->tensors().size(), s.size());
  EXPECT_TRUE(file->metadata().empty());
  for (const Sample& x : s) {
    SCOPED_TRACE(x.name);
    ASSERT_TRUE(file->contains(x.name));
    const TensorView& t = file->tensor(x.name);
    EXPECT_EQ(t.name, x.name);
    EXPECT_EQ(t.dtype, x.dtype);
    EXPECT_EQ(t.shape, x.shape);
    ASSERT_EQ(t.bytes, x.bytes.size());
    EXPECT_EQ(std::memcmp(t.data, x.bytes.data(), t.bytes), 0);
  }
  EXPECT_EQ(file->tensor("scalar").numel(), 1);
  EXPECT_EQ(file->tensor("empty").numel(), 0);
  // Zero-copy: views point into one mapping, at their offsets.
  EXPECT_EQ(file->tensor("bool").data - file->tensor("bf16").data, 6);
}

TEST(Safetensors, MetadataRoundTrip) {
  const std::string path = test::scratch_dir("st_meta") + "/m.safetensors";
  const std::map<std::string, std::string> meta{
      {"format", "pt"}, {"note", "quotes \" and ünïcode"}, {"", "empty key"}};
  float x = 1;
  write_safetensors(path, {{"x", TensorDtype::kF32, {1}, &x}}, meta);
  EXPECT_EQ(SafetensorsFile::open(path)->metadata(), meta);
}

TEST(Safetensors, NamesSortedAndFileLayoutIsCanonical) {
  const std::string path = test::scratch_dir("st_layout") + "/l.safetensors";
  uint8_t a[3] = {1, 2, 3}, b[1] = {4}, c[5] = {5, 6, 7, 8, 9};
  // Given out of order: the file must list and store them sorted by name.
  write_safetensors(path, {{"zeta", TensorDtype::kU8, {5}, c}, {"alpha", TensorDtype::kU8, {3}, a},
                           {"mid", TensorDtype::kU8, {1}, b}},
                    {{"k", "v"}});
  auto file = SafetensorsFile::open(path);
  std::vector<std::string> names;
  for (const auto& t : file->tensors()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"alpha", "mid", "zeta"}));

  const std::vector<uint8_t> bytes = test::read_binary_file(path);
  ASSERT_GE(bytes.size(), 8u);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  EXPECT_EQ(n % 8, 0u) << "header length must be a multiple of 8";
  ASSERT_EQ(bytes.size(), 8 + n + 9) << "data block holds exactly the tensors, no gaps";
  const std::string header(bytes.begin() + 8, bytes.begin() + 8 + n);
  EXPECT_EQ(header.front(), '{');
  const size_t close = header.find_last_of('}');
  EXPECT_EQ(header.find_first_not_of(' ', close + 1), std::string::npos) << "padding must be spaces";
  EXPECT_NE(header.find("\"alpha\":{\"data_offsets\":[0,3]"), std::string::npos) << header;
  EXPECT_NE(header.find("\"mid\":{\"data_offsets\":[3,4]"), std::string::npos) << header;
  EXPECT_NE(header.find("\"zeta\":{\"data_offsets\":[4,9]"), std::string::npos) << header;
  EXPECT_NE(header.find("\"__metadata__\":{\"k\":\"v\"}"), std::string::npos) << header;
  const std::vector<uint8_t> data(bytes.begin() + 8 + n, bytes.end());
  EXPECT_EQ(data, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Safetensors, WriterReplacesAtomicallyAndRejectsBadInput) {
  const std::string dir = test::scratch_dir("st_writer");
  const std::string path = dir + "/w.safetensors";
  float x = 1;
  write_safetensors(path, {{"x", TensorDtype::kF32, {1}, &x}});
  write_safetensors(path, {{"y", TensorDtype::kF32, {1}, &x}});  // overwrite
  EXPECT_TRUE(SafetensorsFile::open(path)->contains("y"));
  const TensorToWrite a{"a", TensorDtype::kF32, {1}, &x};
  expect_error<UsageError>([&] { write_safetensors(path, {a, a}); }, {path, "'a'", "twice"});
  expect_error<UsageError>([&] { write_safetensors(path, {{"n", TensorDtype::kF32, {-1}, &x}}); },
                           {path, "'n'"});
  expect_error<IoError>([&] { write_safetensors(dir + "/no/such/dir/w.safetensors", {}); }, {"no/such/dir"});
  // Failed writes leave the old file and no temporaries behind.
  EXPECT_TRUE(SafetensorsFile::open(path)->contains("y"));
  size_t n_files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) n_files += entry.is_regular_file();
  EXPECT_EQ(n_files, 1u);
}

// ---- failures: each names the file, and the tensor where there is one ----

TEST(SafetensorsErrors, MissingFileIsIoError) {
  const std::string path = test::scratch_dir("st_missing") + "/absent.safetensors";
  expect_error<IoError>([&] { SafetensorsFile::open(path); }, {path});
  expect_error<IoError>([&] { SafetensorsCheckpoint::open(path); }, {path});
}

TEST(SafetensorsErrors, HeaderLength) {
  const std::string dir = test::scratch_dir("st_len");
  write_bytes(dir + "/short.safetensors", "\x02\x00\x00");
  expect_open_fails(dir + "/short.safetensors", {"too short"});
  write_bytes(dir + "/empty.safetensors", "");
  expect_open_fails(dir + "/empty.safetensors", {"too short"});
  write_bytes(dir + "/past.safetensors", raw_file("{}", "", 1000));
  expect_open_fails(dir + "/past.safetensors", {"header length 1000", "past the end"});
  write_bytes(dir + "/huge.safetensors", raw_file("{}", std::string(64, ' '), int64_t{101} << 20));
  expect_open_fails(dir + "/huge.safetensors", {"exceeds the limit"});
  // 2^64 - 1: must not wrap around in the bound checks.
  write_bytes(dir + "/wrap.safetensors", std::string(8, '\xff') + "{}");
  expect_open_fails(dir + "/wrap.safetensors", {"exceeds the limit"});
}

TEST(SafetensorsErrors, BadJson) {
  const std::string dir = test::scratch_dir("st_json");
  write_bytes(dir + "/a.safetensors", raw_file("{\"x\": {\"dtype\": ", ""));
  expect_open_fails(dir + "/a.safetensors", {"not valid JSON"});
  write_bytes(dir + "/b.safetensors", raw_file("[1, 2]", ""));
  expect_open_fails(dir + "/b.safetensors", {"not a JSON object"});
  write_bytes(dir + "/c.safetensors", raw_file(R"({"__metadata__": {"format": 3}})", ""));
  expect_open_fails(dir + "/c.safetensors", {"__metadata__", "format"});
  write_bytes(dir + "/d.safetensors", raw_file(R"({"t": {"dtype": "F32", "shape": [1]}})", "abcd"));
  expect_open_fails(dir + "/d.safetensors", {"'t'", "data_offsets"});
}

TEST(SafetensorsErrors, BadTensorEntries) {
  const std::string dir = test::scratch_dir("st_entries");
  const std::string data(16, '\0');
  struct Case {
    const char* file;
    const char* header;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"dtype", R"({"w": {"dtype": "F8", "shape": [4], "data_offsets": [0, 4]}})",
       {"'w'", "unknown dtype 'F8'"}},
      {"past", R"({"vision_model.x.weight": {"dtype": "F32", "shape": [2], "data_offsets": [8, 4000]}})",
       {"tensor 'vision_model.x.weight': data_offsets [8, 4000] end past the data block (16 bytes)"}},
      {"overlap", R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                      "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}})",
       {"'a'", "'b'", "overlap"}},
      {"contained", R"({"big": {"dtype": "U8", "shape": [16], "data_offsets": [0, 16]},
                        "in": {"dtype": "U8", "shape": [2], "data_offsets": [3, 5]}})",
       {"'big'", "'in'", "overlap"}},
      {"size", R"({"s": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", {"'s'", "need 12 bytes"}},
      {"negative", R"({"n": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}})", {"'n'", "negative"}},
      {"float", R"({"f": {"dtype": "F32", "shape": [2.0], "data_offsets": [0, 8]}})",
       {"'f'", "not an integer"}},
      {"reversed", R"({"r": {"dtype": "U8", "shape": [0], "data_offsets": [8, 4]}})",
       {"'r'", "begin after end"}},
      {"overflow", R"({"o": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]}})",
       {"'o'", "overflow"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    const std::string path = dir + "/" + c.file + ".safetensors";
    write_bytes(path, raw_file(c.header, data));
    expect_open_fails(path, c.parts);
  }
  // Zero-size tensors cover no bytes, so one sitting inside another's range is fine.
  const std::string ok = dir + "/zero.safetensors";
  write_bytes(ok, raw_file(R"({"big": {"dtype": "U8", "shape": [16], "data_offsets": [0, 16]},
                               "z": {"dtype": "F32", "shape": [0, 3], "data_offsets": [4, 4]}})", data));
  EXPECT_EQ(SafetensorsFile::open(ok)->tensor("z").bytes, 0u);
}

TEST(SafetensorsErrors, TruncatedFileNamesTheLastTensor) {
  const std::string path = test::scratch_dir("st_trunc") + "/t.safetensors";
  std::vector<float> a(4, 1.f), b(8, 2.f), c(6, 3.f);
  write_safetensors(path, {{"a", TensorDtype::kF32, {4}, a.data()}, {"b", TensorDtype::kF32, {8}, b.data()},
                           {"c_last", TensorDtype::kF32, {2, 3}, c.data()}});
  fs::resize_file(path, fs::file_size(path) - 10);
  expect_open_fails(path, {"tensor 'c_last'", "end past the data block"});
}

TEST(SafetensorsErrors, MissingTensorLookup) {
  const std::string path = test::scratch_dir("st_lookup") + "/x.safetensors";
  float x = 1;
  write_safetensors(path, {{"x", TensorDtype::kF32, {1}, &x}});
  auto file = SafetensorsFile::open(path);
  EXPECT_FALSE(file->contains("nope"));
  expect_error<FormatError>([&] { file->tensor("nope"); }, {path, "no tensor 'nope'"});
  auto ckpt = SafetensorsCheckpoint::open(path);
  expect_error<FormatError>([&] { ckpt.tensor("nope"); }, {path, "no tensor 'nope'"});
  expect_error<FormatError>([&] { ckpt.file_of("nope"); }, {path, "no tensor 'nope'"});
}

}  // namespace
}  // namespace sfvu
