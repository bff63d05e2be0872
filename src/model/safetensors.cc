#include "lrem/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <set>

#include "util/file_io.h"
#include "lrem/error.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader assumes a little-endian host"
#endif

namespace lrem {

namespace {

using nlohmann::json;

struct DTypeEntry {
  DType dtype;
  const char* name;
  size_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2}, {DType::F64, "F64", 8},
    {DType::I64, "I64", 8}, {DType::I32, "I32", 4}, {DType::I16, "I16", 2},   {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},   {DType::BOOL, "BOOL", 1},
};

const DTypeEntry& entry(DType dtype) {
  for (const DTypeEntry& e : kDTypes)
    if (e.dtype == dtype) return e;
  throw InvalidArgument("invalid DType value " + std::to_string(int(dtype)));
}

// Rejects duplicate keys, which nlohmann would otherwise resolve silently (last one wins):
// two readers of the same file must never disagree about which bytes a tensor is.
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(const std::string& source) : source_(source) {}

  bool operator()(int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects_.emplace_back();
        break;
      case json::parse_event_t::object_end:
        open_objects_.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects_.back().insert(parsed.get<std::string>()).second)
          throw FormatError(source_ + ": safetensors header has the key '" + parsed.get<std::string>() + "' twice");
        break;
      default:
        break;
    }
    return true;
  }

 private:
  const std::string& source_;
  std::vector<std::set<std::string>> open_objects_;
};

class HeaderParser {
 public:
  HeaderParser(const std::string& source, uint64_t data_size) : source_(source), data_size_(data_size) {}

  [[noreturn]] void fail(const std::string& problem) const { throw FormatError(source_ + ": " + problem); }
  [[noreturn]] void fail(const std::string& tensor, const std::string& problem) const {
    fail("tensor '" + tensor + "': " + problem + " (corrupt or not a safetensors file)");
  }

  std::map<std::string, std::string> metadata(const json& value) const {
    std::map<std::string, std::string> out;
    if (value.is_null()) return out;
    if (!value.is_object()) fail("__metadata__ must be an object of strings, got " + std::string(value.type_name()));
    for (const auto& [key, v] : value.items()) {
      if (!v.is_string())
        fail("__metadata__ value for '" + key + "' must be a string, got " + std::string(v.type_name()));
      out.emplace(key, v.get<std::string>());
    }
    return out;
  }

  TensorInfo tensor(const std::string& name, const json& value) const {
    if (!value.is_object()) fail(name, "entry must be an object, got " + std::string(value.type_name()));
    TensorInfo t;
    t.name = name;

    auto dtype_it = value.find("dtype");
    if (dtype_it == value.end() || !dtype_it->is_string()) fail(name, "missing or non-string 'dtype'");
    std::optional<DType> dtype = dtype_from_name(dtype_it->get<std::string>());
    if (!dtype) fail(name, "unsupported dtype '" + dtype_it->get<std::string>() + "'");
    t.dtype = *dtype;

    auto shape_it = value.find("shape");
    if (shape_it == value.end() || !shape_it->is_array()) fail(name, "missing or non-list 'shape'");
    uint64_t numel = 1;
    for (const json& d : *shape_it) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
        fail(name, "shape " + shape_it->dump() + " must hold non-negative integers");
      const uint64_t dim = d.get<uint64_t>();
      if (__builtin_mul_overflow(numel, dim, &numel)) fail(name, "shape " + shape_it->dump() + " overflows 64 bits");
      t.shape.push_back(int64_t(dim));
    }
    uint64_t nbytes;
    if (__builtin_mul_overflow(numel, uint64_t(dtype_size(t.dtype)), &nbytes) ||
        numel > uint64_t(std::numeric_limits<int64_t>::max()))
      fail(name, "shape " + shape_it->dump() + " overflows 64 bits");

    auto offsets_it = value.find("data_offsets");
    if (offsets_it == value.end() || !offsets_it->is_array() || offsets_it->size() != 2 ||
        !(*offsets_it)[0].is_number_unsigned() || !(*offsets_it)[1].is_number_unsigned())
      fail(name, "'data_offsets' must be [begin, end] with non-negative integers");
    t.begin = (*offsets_it)[0].get<uint64_t>();
    t.end = (*offsets_it)[1].get<uint64_t>();
    if (t.begin > t.end) fail(name, "data_offsets " + offsets_it->dump() + " has begin > end");
    if (t.end > data_size_)
      fail(name, "data_offsets " + offsets_it->dump() + " extend beyond the data section of " +
                     std::to_string(data_size_) + " bytes (file truncated?)");
    if (t.end - t.begin != nbytes)
      fail(name, "data_offsets " + offsets_it->dump() + " span " + std::to_string(t.end - t.begin) + " bytes but " +
                     dtype_name(t.dtype) + " shape " + shape_it->dump() + " needs " + std::to_string(nbytes));
    return t;
  }

  // The format requires the tensors to tile the data section exactly: no overlap (two
  // tensors aliasing bytes) and no holes (room for smuggled content).
  void check_tiling(const std::vector<TensorInfo>& tensors) const {
    std::vector<const TensorInfo*> by_offset;
    by_offset.reserve(tensors.size());
    for (const TensorInfo& t : tensors) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](const TensorInfo* a, const TensorInfo* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    uint64_t covered = 0;
    const TensorInfo* previous = nullptr;
    for (const TensorInfo* t : by_offset) {
      if (t->begin < covered)
        fail(t->name, "bytes [" + std::to_string(t->begin) + ", " + std::to_string(t->end) + ") overlap tensor '" +
                          previous->name + "' (bytes [" + std::to_string(previous->begin) + ", " +
                          std::to_string(previous->end) + "))");
      if (t->begin > covered)
        fail(t->name, "starts at byte " + std::to_string(t->begin) + " leaving a hole after byte " +
                          std::to_string(covered) + " of the data section");
      covered = t->end;
      previous = t;
    }
    if (covered != data_size_)
      fail("the data section has " + std::to_string(data_size_ - covered) +
           " trailing bytes not covered by any tensor (corrupt or not a safetensors file)");
  }

 private:
  const std::string& source_;
  const uint64_t data_size_;
};

}  // namespace

size_t dtype_size(DType dtype) { return entry(dtype).size; }
const char* dtype_name(DType dtype) { return entry(dtype).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const DTypeEntry& e : kDTypes)
    if (name == e.name) return e.dtype;
  return std::nullopt;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

const TensorInfo* SafetensorsHeader::find(std::string_view name) const {
  auto it = std::lower_bound(tensors.begin(), tensors.end(), name,
                             [](const TensorInfo& t, std::string_view n) { return t.name < n; });
  return it != tensors.end() && it->name == name ? &*it : nullptr;
}

SafetensorsHeader parse_safetensors_header(const uint8_t* data, size_t size, const std::string& source) {
  if (size < 8)
    throw FormatError(source + ": " + (size == 0 ? "file is empty" : "file has only " + std::to_string(size) + " bytes") +
                      "; a safetensors file starts with an 8-byte header length (truncated or not safetensors)");
  uint64_t header_size;
  std::memcpy(&header_size, data, 8);
  if (header_size > kMaxSafetensorsHeaderBytes)
    throw FormatError(source + ": header length " + std::to_string(header_size) + " exceeds the limit of " +
                      std::to_string(kMaxSafetensorsHeaderBytes) + " bytes (corrupt or not a safetensors file)");
  if (header_size > size - 8)
    throw FormatError(source + ": header length " + std::to_string(header_size) + " is larger than the " +
                      std::to_string(size - 8) + " bytes that follow it (truncated or not a safetensors file)");

  const char* text = reinterpret_cast<const char*>(data + 8);
  json root;
  try {
    root = json::parse(text, text + header_size, DuplicateKeyCheck(source));
  } catch (const json::exception& e) {
    throw FormatError(source + ": safetensors header is not valid JSON (" + e.what() + ")");
  }
  if (!root.is_object())
    throw FormatError(source + ": safetensors header must be a JSON object, got " + std::string(root.type_name()));

  SafetensorsHeader header;
  header.data_offset = 8 + header_size;
  const HeaderParser parser(source, size - header.data_offset);
  for (const auto& [key, value] : root.items()) {
    if (key == "__metadata__")
      header.metadata = parser.metadata(value);
    else
      header.tensors.push_back(parser.tensor(key, value));  // object iteration is sorted by key
  }
  parser.check_tiling(header.tensors);
  return header;
}

// --- SafetensorsFile ---------------------------------------------------------------------

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError("'" + path + "' is not a readable regular file");
  }
  size_ = size_t(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    const int mmap_errno = errno;
    ::close(fd);
    if (p == MAP_FAILED) throw IoError("cannot map '" + path + "': " + std::strerror(mmap_errno));
    map_ = static_cast<const uint8_t*>(p);
  } else {
    ::close(fd);
  }
  try {
    header_ = parse_safetensors_header(map_, size_, path);
  } catch (...) {
    release();
    throw;
  }
}

SafetensorsFile::~SafetensorsFile() { release(); }

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)), map_(other.map_), size_(other.size_), header_(std::move(other.header_)) {
  other.map_ = nullptr;
  other.size_ = 0;
}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    header_ = std::move(other.header_);
    map_ = other.map_;
    size_ = other.size_;
    other.map_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

void SafetensorsFile::release() noexcept {
  if (map_) ::munmap(const_cast<uint8_t*>(map_), size_);
  map_ = nullptr;
  size_ = 0;
}

const uint8_t* SafetensorsFile::data(const TensorInfo& tensor) const {
  if (tensor.begin > tensor.end || tensor.end > size_ - std::min<uint64_t>(size_, header_.data_offset))
    throw InvalidArgument("tensor '" + tensor.name + "' does not lie inside '" + path_ + "'");
  return map_ + header_.data_offset + tensor.begin;
}

void SafetensorsFile::drop_pages(const uint8_t* begin, size_t nbytes) const {
  if (nbytes == 0) return;
  if (begin < map_ || begin > map_ + size_ || nbytes > size_t(map_ + size_ - begin))
    throw InvalidArgument("drop_pages: the byte range does not lie inside '" + path_ + "'");
  // Whole pages only; the ones shared with neighbouring tensors go too, which is harmless
  // (a private read-only file mapping re-reads them on the next touch).
  const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = reinterpret_cast<uintptr_t>(begin) / page * page;
  const uintptr_t last = (reinterpret_cast<uintptr_t>(begin) + nbytes + page - 1) / page * page;
  ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);  // a failure only costs memory
}

// --- writing -----------------------------------------------------------------------------

void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<const TensorView*> sorted;
  sorted.reserve(tensors.size());
  for (const TensorView& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](const TensorView* a, const TensorView* b) { return a->name < b->name; });

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const TensorView& t = *sorted[i];
    const std::string where = "cannot write tensor '" + t.name + "' to '" + path + "': ";
    if (t.name.empty() || t.name == "__metadata__") throw InvalidArgument(where + "invalid tensor name");
    if (i > 0 && sorted[i - 1]->name == t.name) throw InvalidArgument(where + "the name appears twice");
    uint64_t expected = dtype_size(t.dtype);
    for (int64_t d : t.shape) {
      if (d < 0) throw InvalidArgument(where + "negative dimension " + std::to_string(d));
      if (__builtin_mul_overflow(expected, uint64_t(d), &expected)) throw InvalidArgument(where + "shape overflows");
    }
    if (expected != t.nbytes)
      throw InvalidArgument(where + std::to_string(t.nbytes) + " bytes given, shape and dtype " + dtype_name(t.dtype) +
                            " need " + std::to_string(expected));
    if (t.nbytes > 0 && !t.data) throw InvalidArgument(where + "no data");
    header[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.nbytes}}};
    offset += t.nbytes;
  }

  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgument("cannot write '" + path + "': a tensor name or metadata string is not valid UTF-8 (" +
                          e.what() + ")");
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t header_size = text.size();

  write_file_atomic(path, [&](std::FILE* f) {
    write_all(f, &header_size, 8, path);
    write_all(f, text.data(), text.size(), path);
    for (const TensorView* t : sorted) write_all(f, t->data, t->nbytes, path);
  });
}

}  // namespace lrem
