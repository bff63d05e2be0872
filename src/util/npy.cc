#include "util/npy.h"

#include <cstdio>

#include "util/file_io.h"

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

}  // namespace lrem
