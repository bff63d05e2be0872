// The safetensors format (https://github.com/huggingface/safetensors), without torch:
//   8 bytes  little-endian u64 N
//   N bytes  JSON object: name -> {"dtype", "shape", "data_offsets": [begin, end]},
//            plus an optional "__metadata__" string -> string map; padded with spaces
//   rest     the data section; offsets are relative to its start
// Reading validates everything a hostile file could get wrong, so a corrupt or malicious
// checkpoint is a FormatError naming the file and tensor, never a crash or an
// out-of-bounds read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lrem {

enum class DType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL };

size_t dtype_size(DType dtype);
// The safetensors spelling: "F32", "BF16", "BOOL"...
const char* dtype_name(DType dtype);
std::optional<DType> dtype_from_name(std::string_view name);

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;  // byte range within the data section

  int64_t numel() const;
  uint64_t nbytes() const { return end - begin; }
};

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;  // sorted by name
  std::map<std::string, std::string> metadata;
  uint64_t data_offset;  // where the data section starts in the file: 8 + N

  // nullptr if there is no tensor of that name.
  const TensorInfo* find(std::string_view name) const;
};

// Largest header accepted, as in the reference implementation.
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

// Parses and validates the header of a whole safetensors file held in [data, data + size):
// header length within bounds, well-formed JSON object, known dtypes, non-negative shapes
// whose byte size does not overflow and matches the offsets, offsets inside the data
// section, tensors tiling it without overlaps or holes (as the format requires), string
// metadata. `source` names the file in FormatError messages. Pure: reads only the buffer.
SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size, const std::string& source);

// A safetensors file mapped read-only; the header is validated on open.
class SafetensorsFile {
 public:
  // IoError if the file cannot be opened or mapped, FormatError if it is not valid safetensors.
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const SafetensorsHeader& header() const { return header_; }
  // The tensor's bytes (little-endian, row-major, possibly unaligned) inside the mapping,
  // valid while this object lives. InvalidArgument if `tensor` does not fit this file.
  const uint8_t* data(const TensorInfo& tensor) const;
  // Gives the pages under [begin, begin + nbytes) back to the OS: a reader that copies each
  // tensor out and then drops its pages keeps one copy of the weights resident, not two.
  // The bytes stay readable (the kernel maps them in again from the page cache).
  // InvalidArgument if the range is not inside the mapping.
  void drop_pages(const uint8_t* begin, size_t nbytes) const;

 private:
  void release() noexcept;

  std::string path_;
  const uint8_t* map_ = nullptr;
  size_t size_ = 0;
  SafetensorsHeader header_;
};

// A tensor to write: `nbytes` must equal the product of `shape` times dtype_size(dtype).
struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void* data;
  size_t nbytes;
};

// Writes a safetensors file atomically (a failed write leaves any previous file intact).
// Tensors are laid out sorted by name; the header is padded with spaces to a multiple of
// 8 bytes like the reference writer. InvalidArgument for duplicate or empty names, negative
// dims or a byte count that does not match the shape; IoError if writing fails.
void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace lrem
