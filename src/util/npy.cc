#include "util/npy.h"

#include <cstring>
#include <regex>

#include "util/file_io.h"
#include "lrem/error.h"

namespace lrem {

namespace {
constexpr char kMagic[] = "\x93NUMPY";
}

void write_npy(const std::string& path, const float* data, int64_t rows, int64_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  // Magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string preamble(kMagic, 6);
  preamble.push_back(1);
  preamble.push_back(0);
  uint16_t len = static_cast<uint16_t>(header.size());
  preamble.push_back(static_cast<char>(len & 0xff));
  preamble.push_back(static_cast<char>(len >> 8));
  write_file_atomic(path, [&](std::FILE* f) {
    write_all(f, preamble.data(), preamble.size(), path);
    write_all(f, header.data(), header.size(), path);
    write_all(f, data, static_cast<size_t>(rows * cols) * sizeof(float), path);
  });
}

NpyMatrix read_npy(const std::string& path) {
  std::string bytes = read_file(path);
  if (bytes.size() < 10 || bytes.compare(0, 6, kMagic, 6) != 0 || bytes[6] != 1)
    throw FormatError(path + ": not a version 1 .npy file");
  size_t len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  if (10 + len > bytes.size()) throw FormatError(path + ": truncated .npy header");
  std::string header = bytes.substr(10, len);
  std::smatch m;
  static const std::regex shape_re(R"(\{'descr': '<f4', 'fortran_order': False, 'shape': \((\d{1,12}), (\d{1,12})\), \})");
  if (!std::regex_search(header, m, shape_re))
    throw FormatError(path + ": expected a 2-D little-endian float32 C-order array, header is " + header);
  NpyMatrix out;
  out.rows = std::stoll(m[1]);
  out.cols = std::stoll(m[2]);
  const size_t have = bytes.size() - 10 - len;
  // Compare by division so a lying shape cannot overflow the product.
  const size_t row_bytes = sizeof(float) * static_cast<size_t>(out.cols);
  const bool fits = row_bytes == 0 ? have == 0
                                   : have % row_bytes == 0 && have / row_bytes == static_cast<size_t>(out.rows);
  if (!fits)
    throw FormatError(path + ": data size " + std::to_string(have) + " does not match shape (" +
                      std::to_string(out.rows) + ", " + std::to_string(out.cols) + ")");
  out.data.resize(static_cast<size_t>(out.rows * out.cols));
  std::memcpy(out.data.data(), bytes.data() + 10 + len, have);
  return out;
}

}  // namespace lrem
