#include "retrieval/shard_merge.h"

#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <faiss/invlists/InvertedListsIOHook.h>
#include <faiss/invlists/OnDiskInvertedLists.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <typeinfo>

#include "lrem/error.h"
#include "lrem/index.h"
#include "retrieval/faiss_sink_writer.h"
#include "retrieval/index_directory.h"
#include "util/file_io.h"

namespace lrem {

namespace {

using FaissId = faiss::Index::idx_t;
using index_directory::ByteSink;

constexpr size_t kBlockBytes = size_t(1) << 20;
// Descriptors left for the rest of the process (the output files, the item database, sockets)
// when checking that every shard's file can be open at once.
constexpr rlim_t kOtherFiles = 64;

// The IVF directly under an id map, if it is a kind whose serialisation ends with its inverted
// lists (so the merged lists can be written in their place), else nullptr.
faiss::IndexIVF* streamable_ivf(faiss::Index* index) {
  auto* id_map = dynamic_cast<faiss::IndexIDMap2*>(index);
  if (!id_map) return nullptr;
  faiss::Index* inner = id_map->index;
  const std::type_info& type = typeid(*inner);
  if (type != typeid(faiss::IndexIVFFlat) && type != typeid(faiss::IndexIVFPQ) &&
      type != typeid(faiss::IndexIVFScalarQuantizer))
    return nullptr;
  auto* ivf = static_cast<faiss::IndexIVF*>(inner);
  if (!dynamic_cast<faiss::ArrayInvertedLists*>(ivf->invlists) || ivf->direct_map.type != faiss::DirectMap::NoMap)
    return nullptr;
  return ivf;
}

struct TrainedIndex {
  IndexMeta meta;
  std::unique_ptr<faiss::Index> index;
};

TrainedIndex read_trained(const std::string& dir) {
  TrainedIndex trained;
  trained.meta = index_directory::read_meta(dir, Index::kFormatVersion);
  const index_directory::CommittedFile file =
      index_directory::read_committed(dir, index_directory::kIndexFile, trained.meta.index_sha256, "index_sha256");
  faiss::VectorIOReader reader;
  reader.data.assign(file.bytes.begin(), file.bytes.end());
  try {
    trained.index.reset(faiss::read_index(&reader));
  } catch (const faiss::FaissException& e) {
    throw FormatError("'" + file.path + "': FAISS cannot read it: " + e.what());
  }
  return trained;
}

// One shard's index.faiss, open for reading its lists and id map in blocks. The inverted lists
// are located by FAISS's mapped reader (IO_FLAG_MMAP), which records each list's offset in the
// file; the bytes themselves are read with pread, so no page of the mapping is touched and
// the copy does not count in this process's resident memory. Only the lists' sizes and
// offsets are kept, not the index FAISS read (its quantizer and codebooks, hundreds of KB),
// since a build may merge hundreds of shards.
class ShardFile {
 public:
  ShardFile(const std::string& dir, const IndexMeta& trained, const faiss::IndexIVF& trained_ivf) {
    const IndexMeta meta = index_directory::read_meta(dir, Index::kFormatVersion);
    if (meta.dim != trained.dim || meta.factory != trained.factory ||
        meta.model_fingerprint != trained.model_fingerprint)
      throw FormatError("shard '" + dir + "' is not a copy of the trained index (dim, factory '" + meta.factory +
                        "' or model fingerprint differ); rerun the build");
    count_ = meta.count;
    path_ = index_directory::verify_committed(dir, index_directory::kIndexFile, meta.index_sha256, "index_sha256");
    file_ = std::fopen(path_.c_str(), "rb");
    if (!file_) throw IoError("cannot open '" + path_ + "': " + std::strerror(errno));
    try {
      open_lists(trained_ivf);
    } catch (...) {
      std::fclose(file_);
      throw;
    }
  }
  ~ShardFile() {
    if (file_) std::fclose(file_);
  }
  ShardFile(const ShardFile&) = delete;
  ShardFile& operator=(const ShardFile&) = delete;

  int64_t count() const { return count_; }
  size_t list_size(size_t list) const { return lists_[list].size; }

  // The codes of `list`, then (separately) its ids plus `shift`, as FAISS lays them out.
  void copy_codes(size_t list, const ByteSink& sink) const {
    copy(lists_[list].offset, list_size(list) * code_size_, sink);
  }
  void copy_ids(size_t list, FaissId shift, const ByteSink& sink) const {
    const List& l = lists_[list];
    copy_shifted(l.offset + l.size * code_size_, l.size, shift, sink);
  }
  // The id map: the item id of every internal id, in order.
  void copy_id_map(const ByteSink& sink) const { copy(id_map_offset_, size_t(count_) * sizeof(FaissId), sink); }

 private:
  // IndexIDMap2's serialisation (FAISS 1.7.3, write_index): "IxM2", the index header (d,
  // ntotal, two unused idx_t, is_trained, metric_type), the inner index, then the id map as a
  // size and the ids. The header is skipped here so that FAISS reads the inner index alone:
  // reading the id map through FAISS would build its reverse hash map, tens of bytes per vector.
  void open_lists(const faiss::IndexIVF& trained_ivf) {
    faiss::FileIOReader reader(file_);
    uint32_t magic = 0;
    int d = 0, metric = 0;
    FaissId ntotal = 0, unused[2];
    bool is_trained = false;
    const bool header_read = reader(&magic, sizeof magic, 1) == 1 && reader(&d, sizeof d, 1) == 1 &&
                             reader(&ntotal, sizeof ntotal, 1) == 1 && reader(unused, sizeof unused, 1) == 1 &&
                             reader(&is_trained, sizeof is_trained, 1) == 1 && reader(&metric, sizeof metric, 1) == 1;
    if (!header_read || magic != faiss::fourcc("IxM2") || ntotal != count_ ||
        metric != faiss::METRIC_INNER_PRODUCT)
      throw FormatError("shard '" + path_ + "' is not an id-mapped inner-product index of " +
                        std::to_string(count_) + " vectors; rerun the build");
    std::unique_ptr<faiss::Index> inner;
    try {
      inner.reset(faiss::read_index(&reader, faiss::IO_FLAG_MMAP | faiss::IO_FLAG_READ_ONLY));
    } catch (const faiss::FaissException& e) {
      throw FormatError("shard '" + path_ + "': FAISS cannot read it: " + e.what());
    }
    auto* ivf = dynamic_cast<faiss::IndexIVF*>(inner.get());
    const auto* lists = ivf ? dynamic_cast<const faiss::OnDiskInvertedLists*>(ivf->invlists) : nullptr;
    if (!lists || typeid(*ivf) != typeid(trained_ivf) || ivf->nlist != trained_ivf.nlist ||
        ivf->code_size != trained_ivf.code_size)
      throw FormatError("shard '" + path_ + "' is not a copy of the trained IVF index (type, lists or code size "
                        "differ); rerun the build");
    code_size_ = lists->code_size;
    lists_.reserve(lists->nlist);
    for (const faiss::OnDiskOneList& l : lists->lists) lists_.push_back({l.size, l.offset});
    size_t ids = 0;
    if (reader(&ids, sizeof ids, 1) != 1 || ids != size_t(count_))
      throw FormatError("shard '" + path_ + "': its id map does not hold " + std::to_string(count_) + " ids");
    id_map_offset_ = size_t(std::ftell(file_));
  }

  void read_at(size_t offset, void* into, size_t n) const {
    auto* out = static_cast<char*>(into);
    while (n > 0) {
      const ssize_t got = ::pread(::fileno(file_), out, n, off_t(offset));
      if (got <= 0) throw IoError("cannot read '" + path_ + "' at byte " + std::to_string(offset) +
                                  (got < 0 ? std::string(": ") + std::strerror(errno) : ": the file is truncated"));
      out += got;
      offset += size_t(got);
      n -= size_t(got);
    }
  }
  void copy(size_t offset, size_t n, const ByteSink& sink) const {
    std::vector<char> block(std::min(n, kBlockBytes));
    for (size_t done = 0; done < n; done += block.size()) {
      const size_t part = std::min(block.size(), n - done);
      read_at(offset + done, block.data(), part);
      sink(block.data(), part);
    }
  }
  void copy_shifted(size_t offset, size_t n, FaissId shift, const ByteSink& sink) const {
    std::vector<FaissId> block(std::min(n, kBlockBytes / sizeof(FaissId)));
    for (size_t done = 0; done < n; done += block.size()) {
      const size_t part = std::min(block.size(), n - done);
      read_at(offset + done * sizeof(FaissId), block.data(), part * sizeof(FaissId));
      for (size_t i = 0; i < part; ++i) block[i] += shift;
      sink(block.data(), part * sizeof(FaissId));
    }
  }

  struct List {
    size_t size, offset;
  };

  std::string path_;
  std::FILE* file_ = nullptr;
  int64_t count_ = 0;
  size_t code_size_ = 0;
  std::vector<List> lists_;
  size_t id_map_offset_ = 0;
};

// The shards' inverted lists, concatenated list by list, standing in for the trained index's
// empty lists while FAISS writes it. Only the serialisation reads them (MergedListsHook).
class MergedLists : public faiss::ReadOnlyInvertedLists {
 public:
  MergedLists(const faiss::InvertedLists& trained, const std::vector<std::unique_ptr<ShardFile>>& shards)
      : ReadOnlyInvertedLists(trained.nlist, trained.code_size), shards_(shards) {}

  size_t list_size(size_t list) const override {
    size_t n = 0;
    for (const auto& shard : shards_) n += shard->list_size(list);
    return n;
  }
  const uint8_t* get_codes(size_t) const override { throw faiss::FaissException("MergedLists are only written"); }
  const idx_t* get_ids(size_t) const override { throw faiss::FaissException("MergedLists are only written"); }

  // What FAISS's write_InvertedLists writes for an ArrayInvertedLists holding these lists, so
  // the file reads back as one ("ilar": the list sizes, dense or sparse, then each non-empty
  // list's codes and ids). Shard s's internal ids follow those of the shards before it.
  void write(faiss::IOWriter& f) const {
    const auto put = [&f](const void* data, size_t n) { f(data, 1, n); };
    const uint32_t array = faiss::fourcc("ilar");
    put(&array, sizeof array);
    put(&nlist, sizeof nlist);
    put(&code_size, sizeof code_size);
    std::vector<size_t> sizes(nlist);
    size_t non_empty = 0;
    for (size_t l = 0; l < nlist; ++l) non_empty += (sizes[l] = list_size(l)) > 0;
    std::vector<size_t> table;
    const bool dense = non_empty > nlist / 2;
    if (dense) {
      table = sizes;
    } else {
      for (size_t l = 0; l < nlist; ++l)
        if (sizes[l] > 0) table.insert(table.end(), {l, sizes[l]});
    }
    const uint32_t layout = faiss::fourcc(dense ? "full" : "sprs");
    const size_t entries = table.size();
    put(&layout, sizeof layout);
    put(&entries, sizeof entries);
    put(table.data(), entries * sizeof(size_t));
    const ByteSink sink = put;
    for (size_t l = 0; l < nlist; ++l) {
      if (sizes[l] == 0) continue;
      for (const auto& shard : shards_) shard->copy_codes(l, sink);
      FaissId shift = 0;
      for (const auto& shard : shards_) {
        shard->copy_ids(l, shift, sink);
        shift += shard->count();
      }
    }
  }

 private:
  const std::vector<std::unique_ptr<ShardFile>>& shards_;
};

// FAISS serialises inverted lists of a type it does not know through the hook registered for
// that type. This one writes MergedLists as the ArrayInvertedLists they stand for; it is never
// asked to read, since no file names its key.
struct MergedListsHook : faiss::InvertedListsIOHook {
  MergedListsHook() : InvertedListsIOHook("ilLM", typeid(MergedLists).name()) {}
  void write(const faiss::InvertedLists* lists, faiss::IOWriter* f) const override {
    static_cast<const MergedLists*>(lists)->write(*f);
  }
  faiss::InvertedLists* read(faiss::IOReader*, int) const override {
    throw faiss::FaissException("merged shard lists are written as ArrayInvertedLists and never read back");
  }
};

void register_merged_lists_hook() {
  // FAISS's hook registry is process-wide; the hook holds no state, so registering it once is enough.
  static const bool registered = [] {
    faiss::InvertedListsIOHook::add_callback(new MergedListsHook);
    return true;
  }();
  (void)registered;
}

// Passes everything but the last `held` bytes written to `sink`, and keeps those: FAISS writes
// the id map of an IndexIDMap2 last, and the merged index's (empty in the trained index it
// writes) is replaced by the shards' id maps.
class HoldingBackWriter : public faiss::IOWriter {
 public:
  HoldingBackWriter(const ByteSink& sink, size_t held) : sink_(sink), size_(held) {}
  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    const auto* bytes = static_cast<const char*>(ptr);
    held_.append(bytes, size * nitems);
    if (held_.size() > size_) {
      sink_(held_.data(), held_.size() - size_);
      held_.erase(0, held_.size() - size_);
    }
    return nitems;
  }
  const std::string& held() const { return held_; }

 private:
  const ByteSink& sink_;
  size_t size_;
  std::string held_;
};

}  // namespace

bool shard_merge_streams(const std::string& trained_dir) {
  return streamable_ivf(read_trained(trained_dir).index.get()) != nullptr;
}

void require_open_files_for_merge(size_t shards) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return;
  if (rlim_t(shards) + kOtherFiles > limit.rlim_cur)
    throw LimitExceeded("merging " + std::to_string(shards) + " shards keeps " + std::to_string(shards) +
                        " files open, and this process may open only " + std::to_string(limit.rlim_cur) +
                        " (ulimit -n; " + std::to_string(kOtherFiles) +
                        " kept for the rest): raise the limit, or build fewer, larger shards (lrem index build "
                        "--shard-vectors)");
}

void save_merged_shards(const std::string& trained_dir, const std::vector<std::string>& shard_dirs,
                        const std::string& dir, const std::string& items_path) {
  register_merged_lists_hook();
  TrainedIndex trained = read_trained(trained_dir);
  faiss::IndexIVF* ivf = streamable_ivf(trained.index.get());
  if (!ivf) throw InvalidArgument("save_merged_shards: the index in '" + trained_dir + "' cannot be merged streaming");
  auto& id_map = static_cast<faiss::IndexIDMap2&>(*trained.index);
  if (ivf->ntotal != 0) throw InvalidArgument("save_merged_shards: the index in '" + trained_dir + "' is not empty");
  require_open_files_for_merge(shard_dirs.size());
  std::vector<std::unique_ptr<ShardFile>> shards;
  int64_t total = 0;
  for (const std::string& shard_dir : shard_dirs) {
    shards.push_back(std::make_unique<ShardFile>(shard_dir, trained.meta, *ivf));
    total += shards.back()->count();
  }
  // The trained index, holding the shards' lists, written in place of the empty one.
  // Declared after `trained`, so destroyed first; the index does not own it.
  MergedLists merged(*ivf->invlists, shards);
  ivf->replace_invlists(&merged, /*own=*/false);
  ivf->ntotal = id_map.ntotal = total;

  IndexMeta meta = trained.meta;
  meta.count = total;
  meta.catalogue_id.clear();
  meta.catalogue_version = 0;
  ensure_directory(dir);
  meta.index_sha256 = index_directory::stage(dir, index_directory::kIndexFile, [&](const ByteSink& sink) {
    HoldingBackWriter writer(sink, sizeof(size_t));
    try {
      faiss::write_index(&id_map, &writer);
    } catch (const faiss::FaissException& e) {
      throw IoError("save_merged_shards: FAISS could not serialise the merged index: " + std::string(e.what()));
    }
    const size_t empty = 0;
    if (writer.held() != std::string(reinterpret_cast<const char*>(&empty), sizeof empty))
      throw IoError("save_merged_shards: FAISS did not end the index with its (empty) id map; this FAISS "
                    "version's format is not supported");
    const size_t ids = size_t(total);
    sink(&ids, sizeof ids);
    for (const auto& shard : shards) shard->copy_id_map(sink);
  });
  meta.created = utc_now_iso8601();
  index_directory::stage_items_file(dir, items_path, meta);
  index_directory::commit(dir, meta);
}

}  // namespace lrem
