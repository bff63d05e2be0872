// NumPy .npy files (format version 1.0): the interchange format for embeddings, readable
// with numpy.load without any other dependency.
#pragma once

#include <cstdint>
#include <string>

namespace lrem {

// Writes a row-major float32 matrix atomically.
void write_npy(const std::string& path, const float* data, int64_t rows, int64_t cols);

}  // namespace lrem
