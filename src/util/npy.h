// NumPy .npy files (format version 1.0): the interchange format for embeddings, readable
// with numpy.load without any other dependency.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace lrem {

// Writes a row-major float32 matrix atomically.
void write_npy(const std::string& path, const float* data, int64_t rows, int64_t cols);

struct NpyMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<float> data;
};

// Reads a 2-D little-endian float32 C-order .npy; FormatError naming the file otherwise.
NpyMatrix read_npy(const std::string& path);

}  // namespace lrem
