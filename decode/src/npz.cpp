#include "sfvu/base/npz.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include "atomic_file.h"
#include "sfvu/base/error.h"

namespace sfvu {
namespace {

using detail::get_le;
using detail::put_le;

// Zip record signatures and fixed sizes (PKWARE APPNOTE 4.3.7, 4.3.12, 4.3.16).
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr size_t kLocalSize = 30;
constexpr size_t kCentralSize = 46;
constexpr size_t kEndSize = 22;
constexpr uint16_t kMethodStored = 0;
constexpr uint16_t kMethodDeflate = 8;
constexpr uint16_t kVersionNeeded = 20;        // 2.0: deflate, folders
constexpr uint16_t kDosDate1980 = (1 << 5) | 1;  // 1980-01-01: fixed, so archives are reproducible
constexpr uint32_t kMax32 = 0xffffffffu;
// Deflate cannot expand data more than ~1032:1; a larger claimed size is a corrupt entry.
constexpr uint64_t kMaxDeflateRatio = 1032;

uint32_t crc_of(const void* data, size_t n, uint32_t crc = 0) {
  return static_cast<uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), n));
}

// ---- zip reading ----

struct Entry {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed = 0;
  uint64_t uncompressed = 0;
  uint64_t local_offset = 0;
};

/// ZIP64 extended information (APPNOTE 4.5.3): Python's zipfile (hence numpy) may add it.
void apply_zip64_extra(Entry& e, const uint8_t* extra, size_t len, const std::string& where) {
  for (size_t i = 0; i + 4 <= len;) {
    uint16_t id = static_cast<uint16_t>(get_le(extra + i, 2));
    size_t size = get_le(extra + i + 2, 2);
    if (i + 4 + size > len) break;
    if (id == 0x0001) {
      const uint8_t* q = extra + i + 4;
      size_t left = size;
      for (uint64_t* field : {&e.uncompressed, &e.compressed, &e.local_offset}) {
        if (*field != kMax32) continue;
        if (left < 8) throw FormatError(where + ": truncated ZIP64 extra field");
        *field = get_le(q, 8);
        q += 8;
        left -= 8;
      }
    }
    i += 4 + size;
  }
}

std::vector<Entry> read_central_directory(const std::vector<uint8_t>& zip, const std::string& path) {
  const size_t n = zip.size();
  size_t end = std::string::npos;
  // The end record is last, followed only by a comment of at most 65535 bytes.
  for (size_t i = n >= kEndSize ? n - kEndSize + 1 : 0; i-- > 0 && n - i <= kEndSize + 0xffff;) {
    if (get_le(&zip[i], 4) == kEndSig && i + kEndSize + get_le(&zip[i + 20], 2) <= n) {
      end = i;
      break;
    }
  }
  if (end == std::string::npos)
    throw FormatError(path + ": not a zip archive (no end-of-central-directory record)");
  const uint8_t* e = &zip[end];
  uint64_t count = get_le(e + 10, 2), cd_size = get_le(e + 12, 4), cd_offset = get_le(e + 16, 4);
  if (get_le(e + 4, 2) != 0 || get_le(e + 6, 2) != 0)
    throw FormatError(path + ": multi-disk zip archives are not supported");
  if (count == 0xffff || cd_size == kMax32 || cd_offset == kMax32)
    throw FormatError(path + ": ZIP64 archives are not supported");
  if (cd_offset + cd_size > end) throw FormatError(path + ": central directory lies outside the file");

  std::vector<Entry> entries;
  size_t pos = cd_offset;
  for (uint64_t k = 0; k < count; ++k) {
    if (pos + kCentralSize > cd_offset + cd_size || get_le(&zip[pos], 4) != kCentralSig)
      throw FormatError(path + ": corrupt central directory (entry " + std::to_string(k) + ")");
    const uint8_t* c = &zip[pos];
    size_t name_len = get_le(c + 28, 2), extra_len = get_le(c + 30, 2), comment_len = get_le(c + 32, 2);
    if (pos + kCentralSize + name_len + extra_len + comment_len > cd_offset + cd_size)
      throw FormatError(path + ": corrupt central directory (entry " + std::to_string(k) + ")");
    Entry entry;
    entry.name.assign(reinterpret_cast<const char*>(c + kCentralSize), name_len);
    entry.flags = static_cast<uint16_t>(get_le(c + 8, 2));
    entry.method = static_cast<uint16_t>(get_le(c + 10, 2));
    entry.crc = static_cast<uint32_t>(get_le(c + 16, 4));
    entry.compressed = get_le(c + 20, 4);
    entry.uncompressed = get_le(c + 24, 4);
    entry.local_offset = get_le(c + 42, 4);
    apply_zip64_extra(entry, c + kCentralSize + name_len, extra_len, path + ": member '" + entry.name + "'");
    entries.push_back(std::move(entry));
    pos += kCentralSize + name_len + extra_len + comment_len;
  }
  return entries;
}

std::vector<uint8_t> inflate_raw(const uint8_t* in, uint64_t in_size, uint64_t out_size,
                                 const std::string& where) {
  if (out_size > in_size * kMaxDeflateRatio + 1024)
    throw FormatError(where + ": implausible uncompressed size " + std::to_string(out_size));
  std::vector<uint8_t> out(std::max<uint64_t>(out_size, 1));  // zlib rejects a null next_out
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw FormatError(where + ": inflateInit failed");
  z.next_in = const_cast<Bytef*>(in);
  z.next_out = out.data();
  int rc = Z_OK;
  uint64_t in_left = in_size, out_left = out_size;
  // avail_in/avail_out are 32-bit: feed large members in chunks.
  while (rc == Z_OK) {
    uInt in_chunk = static_cast<uInt>(std::min<uint64_t>(in_left, 1u << 30));
    uInt out_chunk = static_cast<uInt>(std::min<uint64_t>(out_left, 1u << 30));
    z.avail_in = in_chunk;
    z.avail_out = out_chunk;
    rc = inflate(&z, Z_NO_FLUSH);
    in_left -= in_chunk - z.avail_in;
    out_left -= out_chunk - z.avail_out;
    if (rc == Z_OK && z.avail_in == in_chunk && z.avail_out == out_chunk) rc = Z_BUF_ERROR;  // stuck
  }
  std::string msg = z.msg ? z.msg : "";
  inflateEnd(&z);
  if (rc != Z_STREAM_END || out_left != 0)
    throw FormatError(where + ": corrupt deflate data" + (msg.empty() ? "" : " (" + msg + ")"));
  return out;
}

std::vector<uint8_t> read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open for reading: " + std::strerror(errno));
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw IoError(path + ": read failed");
  return bytes;
}

}  // namespace

std::map<std::string, NpyArray> read_npz(const std::string& path) {
  const std::vector<uint8_t> zip = read_whole_file(path);
  std::map<std::string, NpyArray> out;
  for (const Entry& e : read_central_directory(zip, path)) {
    const std::string where = path + ": member '" + e.name + "'";
    if (!e.name.empty() && e.name.back() == '/') continue;  // a folder entry
    if (e.flags & 1) throw FormatError(where + ": encrypted members are not supported");
    if (e.method != kMethodStored && e.method != kMethodDeflate)
      throw FormatError(where + ": unsupported compression method " + std::to_string(e.method) +
                        " (only stored and deflate)");
    if (e.local_offset > zip.size() || zip.size() - e.local_offset < kLocalSize ||
        get_le(&zip[e.local_offset], 4) != kLocalSig)
      throw FormatError(where + ": bad local header");
    const uint8_t* local = &zip[e.local_offset];
    uint64_t data_offset = e.local_offset + kLocalSize + get_le(local + 26, 2) + get_le(local + 28, 2);
    if (data_offset > zip.size() || e.compressed > zip.size() - data_offset)
      throw FormatError(where + ": data runs past the end of the file");
    const uint8_t* data = zip.data() + data_offset;

    std::vector<uint8_t> inflated;
    if (e.method == kMethodDeflate) {
      inflated = inflate_raw(data, e.compressed, e.uncompressed, where);
      data = inflated.data();
    } else if (e.compressed != e.uncompressed) {
      throw FormatError(where + ": stored member with different compressed and uncompressed sizes");
    }
    uint32_t crc = crc_of(data, e.uncompressed);
    if (crc != e.crc)
      throw FormatError(where + ": CRC mismatch (archive says " + std::to_string(e.crc) +
                        ", data gives " + std::to_string(crc) + ")");
    std::string key = e.name;
    if (key.size() > 4 && key.compare(key.size() - 4, 4, ".npy") == 0) key.resize(key.size() - 4);
    if (out.count(key)) throw FormatError(where + ": duplicate member");
    out.emplace(key, parse_npy_bytes(data, e.uncompressed, where));
  }
  return out;
}

void write_npz(const std::string& path, const std::vector<NpzMember>& members) {
  if (members.size() >= 0xffff) throw UsageError(path + ": too many members for a zip archive without ZIP64");
  std::set<std::string> seen;
  std::string central;
  uint64_t offset = 0;
  detail::AtomicFile out(path);
  for (const NpzMember& m : members) {
    const std::string name = m.name + ".npy";
    const std::string where = path + ": member '" + name + "'";
    if (m.name.empty() || !seen.insert(m.name).second)
      throw UsageError(where + ": empty or duplicate member name");
    uint64_t bytes = npy_item_size(m.dtype);
    for (int64_t d : m.shape)
      if (d < 0 || __builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes))
        throw UsageError(where + ": bad shape entry " + std::to_string(d));
    if (bytes > 0 && !m.data) throw UsageError(where + ": no data");
    const std::string header = npy_header_bytes(m.dtype, m.shape);
    const uint64_t size = header.size() + bytes;
    if (size >= kMax32 || offset >= kMax32 || name.size() > 0xffff)
      throw UsageError(where + ": too large for a zip archive without ZIP64");
    const uint32_t crc = bytes > 0 ? crc_of(m.data, bytes, crc_of(header.data(), header.size()))
                                   : crc_of(header.data(), header.size());

    // Local header and central entry share these fields from "version needed" to "name length".
    std::string common;
    put_le(common, kVersionNeeded, 2);
    put_le(common, 0, 2);  // flags
    put_le(common, kMethodStored, 2);
    put_le(common, 0, 2);  // DOS time 00:00:00
    put_le(common, kDosDate1980, 2);
    put_le(common, crc, 4);
    put_le(common, size, 4);  // compressed
    put_le(common, size, 4);  // uncompressed
    put_le(common, name.size(), 2);
    put_le(common, 0, 2);  // extra length

    std::string local;
    put_le(local, kLocalSig, 4);
    out.write(local + common + name);
    out.write(header);
    if (bytes > 0) out.write(m.data, static_cast<size_t>(bytes));

    put_le(central, kCentralSig, 4);
    put_le(central, (3 << 8) | kVersionNeeded, 2);  // made by: Unix, so the mode bits count
    central += common;
    put_le(central, 0, 2);  // comment length
    put_le(central, 0, 2);  // disk
    put_le(central, 0, 2);  // internal attributes
    put_le(central, uint64_t{0100644} << 16, 4);  // regular file, rw-r--r--
    put_le(central, offset, 4);
    central += name;
    offset += kLocalSize + name.size() + size;
  }
  if (offset >= kMax32) throw UsageError(path + ": too large for a zip archive without ZIP64");
  std::string end;
  put_le(end, kEndSig, 4);
  put_le(end, 0, 2);  // this disk
  put_le(end, 0, 2);  // disk with the central directory
  put_le(end, members.size(), 2);
  put_le(end, members.size(), 2);
  put_le(end, central.size(), 4);
  put_le(end, offset, 4);
  put_le(end, 0, 2);  // comment length
  out.write(central);
  out.write(end);
  out.commit();
}

}  // namespace sfvu
