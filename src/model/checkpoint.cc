#include "model/checkpoint.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "util/file_io.h"
#include "lrem/error.h"
#include "lrem/safetensors.h"

namespace fs = std::filesystem;

namespace lrem {

namespace {

using nlohmann::json;

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

constexpr std::pair<DType, at::ScalarType> kScalarTypes[] = {
    {DType::F32, at::kFloat}, {DType::F16, at::kHalf},  {DType::BF16, at::kBFloat16}, {DType::F64, at::kDouble},
    {DType::I64, at::kLong},  {DType::I32, at::kInt},   {DType::I16, at::kShort},     {DType::I8, at::kChar},
    {DType::U8, at::kByte},   {DType::BOOL, at::kBool},
};

at::ScalarType scalar_type(DType dtype) {
  for (const auto& [d, s] : kScalarTypes)
    if (d == dtype) return s;
  throw InvalidArgument(std::string("no torch type for safetensors dtype ") + dtype_name(dtype));
}

std::optional<DType> safetensors_dtype(at::ScalarType type) {
  for (const auto& [d, s] : kScalarTypes)
    if (s == type) return d;
  return std::nullopt;
}

void require_floating(at::ScalarType type, const char* what) {
  if (!at::isFloatingType(type))
    throw InvalidArgument(std::string(what) + " must be a floating-point type, got " + c10::toString(type));
}

std::string shape_text(at::IntArrayRef shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Shard names come from a file we did not write: only plain names inside the directory.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos && name.find('\0') == std::string::npos;
}

// weight_map of a model.safetensors.index.json: tensor name -> shard file name.
std::map<std::string, std::string> read_weight_map(const fs::path& index_path) {
  const std::string source = index_path.string();
  json root;
  try {
    root = json::parse(read_file(source, size_t(1) << 28));
  } catch (const json::exception& e) {
    throw FormatError(source + ": not valid JSON (" + e.what() + ")");
  }
  auto weight_map = root.is_object() ? root.find("weight_map") : root.end();
  if (!root.is_object() || weight_map == root.end() || !weight_map->is_object())
    throw FormatError(source + ": expected an object with a 'weight_map' object (tensor name -> shard file)");
  std::map<std::string, std::string> out;
  for (const auto& [name, shard] : weight_map->items()) {
    if (!shard.is_string()) throw FormatError(source + ": weight_map entry for tensor '" + name + "' must be a string");
    const std::string file = shard.get<std::string>();
    if (!is_plain_file_name(file))
      throw FormatError(source + ": weight_map entry for tensor '" + name + "' names shard '" + file +
                        "', which is not a plain file name inside the checkpoint directory");
    out.emplace(name, file);
  }
  return out;
}

bool is_aligned(const void* p, size_t alignment) { return reinterpret_cast<uintptr_t>(p) % alignment == 0; }

// The values at `data` (stored as `stored`) as a `wanted` tensor in memory it owns. Aligned
// data converts straight from the mapping; the format does not promise alignment, so
// otherwise the bytes are staged first.
at::Tensor copy_out(const uint8_t* data, at::IntArrayRef shape, at::ScalarType stored, at::ScalarType wanted) {
  const auto options = at::TensorOptions().dtype(stored);
  at::Tensor source;
  if (is_aligned(data, c10::elementSize(stored))) {
    source = at::from_blob(const_cast<uint8_t*>(data), shape, options);  // read from only: the mapping is read-only
  } else {
    source = at::empty(shape, options);
    if (source.nbytes() > 0) std::memcpy(source.data_ptr(), data, source.nbytes());
    if (stored == wanted) return source;
  }
  return stored == wanted ? source.clone() : source.to(wanted);
}

struct SaveTensor {
  std::string name;
  DType dtype;
  at::Tensor data;  // contiguous, on the CPU
};

std::vector<SaveTensor> prepare_for_save(const std::map<std::string, at::Tensor>& tensors, at::ScalarType save_dtype) {
  std::vector<SaveTensor> out;
  for (const auto& [name, tensor] : tensors) {
    if (!tensor.defined()) throw InvalidArgument("cannot save tensor '" + name + "': it is undefined");
    at::Tensor t = tensor.detach().to(at::kCPU);
    if (at::isFloatingType(t.scalar_type())) t = t.to(save_dtype);
    const std::optional<DType> dtype = safetensors_dtype(t.scalar_type());
    if (!dtype)
      throw InvalidArgument("cannot save tensor '" + name + "': safetensors has no type for " +
                            c10::toString(t.scalar_type()));
    out.push_back({name, *dtype, t.contiguous()});
  }
  return out;
}

void write_tensors(const std::string& path, const std::vector<const SaveTensor*>& tensors) {
  std::vector<TensorView> views;
  views.reserve(tensors.size());
  for (const SaveTensor* t : tensors)
    views.push_back({t->name, t->dtype, t->data.sizes().vec(), t->data.data_ptr(), t->data.nbytes()});
  write_safetensors(path, views, {{"format", "pt"}});
}

// Consecutive tensors (in name order) fill a shard until the next would exceed the limit;
// a tensor larger than the limit gets a shard of its own (as Hugging Face shards).
std::vector<std::vector<const SaveTensor*>> assign_shards(const std::vector<SaveTensor>& tensors, size_t max_shard_bytes) {
  std::vector<std::vector<const SaveTensor*>> shards(1);
  size_t shard_bytes = 0;
  for (const SaveTensor& t : tensors) {
    const size_t n = t.data.nbytes();
    if (max_shard_bytes > 0 && !shards.back().empty() && shard_bytes + n > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(&t);
    shard_bytes += n;
  }
  return shards;
}

std::string shard_name(size_t i, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i + 1, n);
  return buf;
}

// The weight files of whatever layout `dir` holds now (for cleanup after a new save).
std::set<std::string> existing_weight_files(const fs::path& dir) {
  std::set<std::string> files;
  if (fs::exists(dir / kSingleFile)) files.insert(kSingleFile);
  if (fs::exists(dir / kIndexFile)) {
    files.insert(kIndexFile);
    try {
      for (const auto& [name, shard] : read_weight_map(dir / kIndexFile)) files.insert(shard);
    } catch (const Error&) {
      // A corrupt old index is replaced regardless; its shards cannot be identified.
    }
  }
  return files;
}

}  // namespace

CheckpointReader::CheckpointReader(const std::string& dir) : dir_(dir) {
  const fs::path root(dir);
  if (fs::exists(root / kIndexFile)) {
    open_sharded((root / kIndexFile).string());
  } else if (fs::exists(root / kSingleFile)) {
    files_.emplace_back((root / kSingleFile).string());
    const auto& tensors = files_.back().header().tensors;
    for (size_t i = 0; i < tensors.size(); ++i) tensors_.emplace(tensors[i].name, Location{0, i});
  } else {
    throw IoError("no " + std::string(kSingleFile) + " or " + kIndexFile + " in '" + dir + "'");
  }
}

void CheckpointReader::open_sharded(const std::string& index) {
  const std::map<std::string, std::string> weight_map = read_weight_map(index);
  std::set<std::string> shards;
  for (const auto& [name, shard] : weight_map) shards.insert(shard);
  for (const std::string& shard : shards) {
    const fs::path shard_path = fs::path(dir_) / shard;
    if (!fs::is_regular_file(shard_path))
      throw FormatError(index + ": lists shard '" + shard + "', which does not exist in '" + dir_ + "'");
    files_.emplace_back(shard_path.string());
    const auto& tensors = files_.back().header().tensors;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const std::string& name = tensors[i].name;
      auto listed = weight_map.find(name);
      if (listed == weight_map.end())
        throw FormatError(shard_path.string() + ": contains tensor '" + name + "', which " + index + " does not list");
      if (listed->second != shard)
        throw FormatError(shard_path.string() + ": contains tensor '" + name + "', which " + index +
                          " places in shard '" + listed->second + "' (a tensor must be in exactly one shard)");
      tensors_.emplace(name, Location{files_.size() - 1, i});
    }
  }
  for (const auto& [name, shard] : weight_map)
    if (!tensors_.count(name))
      throw FormatError(index + ": maps tensor '" + name + "' to shard '" + shard + "', which does not contain it");
}

const CheckpointReader::Location& CheckpointReader::locate(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) throw InvalidArgument("the checkpoint in '" + dir_ + "' has no tensor '" + name + "'");
  return it->second;
}

at::Tensor CheckpointReader::read(const std::string& name, at::ScalarType dtype) const {
  require_floating(dtype, "compute dtype");
  const Location& location = locate(name);
  const SafetensorsFile& file = files_[location.file];
  const TensorInfo& tensor = info(location);
  const at::ScalarType stored = scalar_type(tensor.dtype);
  at::Tensor out = copy_out(file.data(tensor), tensor.shape, stored, at::isFloatingType(stored) ? dtype : stored);
  file.drop_pages(file.data(tensor), tensor.nbytes());
  return out;
}

void CheckpointReader::read_float32_chunks(const std::string& name, const std::function<void(const at::Tensor&)>& visit,
                                           int64_t chunk_elements) const {
  if (chunk_elements <= 0) throw InvalidArgument("read_float32_chunks needs a positive chunk size");
  const Location& location = locate(name);
  const SafetensorsFile& file = files_[location.file];
  const TensorInfo& tensor = info(location);
  const at::ScalarType stored = scalar_type(tensor.dtype);
  require_floating(stored, ("tensor '" + name + "'").c_str());
  const uint8_t* data = file.data(tensor);
  const size_t element = dtype_size(tensor.dtype);
  for (int64_t begin = 0, numel = tensor.numel(); begin < numel; begin += chunk_elements) {
    const int64_t n = std::min(chunk_elements, numel - begin);
    const uint8_t* chunk = data + size_t(begin) * element;
    visit(copy_out(chunk, {n}, stored, at::kFloat));
    file.drop_pages(chunk, size_t(n) * element);
  }
}

std::map<std::string, at::Tensor> CheckpointReader::read_all(at::ScalarType dtype) const {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, location] : tensors_) out.emplace(name, read(name, dtype));
  return out;
}

std::map<std::string, at::Tensor> load_checkpoint_tensors(const std::string& dir, at::ScalarType compute_dtype) {
  return CheckpointReader(dir).read_all(compute_dtype);
}

std::map<std::string, at::Tensor> read_tensor_file(const std::string& path, at::ScalarType dtype) {
  require_floating(dtype, "dtype");
  const SafetensorsFile file(path);
  std::map<std::string, at::Tensor> out;
  for (const TensorInfo& tensor : file.header().tensors) {
    const at::ScalarType stored = scalar_type(tensor.dtype);
    out.emplace(tensor.name,
                copy_out(file.data(tensor), tensor.shape, stored, at::isFloatingType(stored) ? dtype : stored));
  }
  return out;
}

void write_tensor_file(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                       at::ScalarType save_dtype) {
  require_floating(save_dtype, "save dtype");
  const std::vector<SaveTensor> prepared = prepare_for_save(tensors, save_dtype);
  std::vector<const SaveTensor*> all;
  for (const SaveTensor& t : prepared) all.push_back(&t);
  write_tensors(path, all);
}

void save_checkpoint_tensors(const std::string& dir, const std::map<std::string, at::Tensor>& tensors,
                             at::ScalarType save_dtype, size_t max_shard_bytes) {
  require_floating(save_dtype, "save dtype");
  const std::vector<SaveTensor> prepared = prepare_for_save(tensors, save_dtype);
  const auto shards = assign_shards(prepared, max_shard_bytes);

  ensure_directory(dir);
  const fs::path root(dir);
  std::set<std::string> stale = existing_weight_files(root);

  if (shards.size() == 1) {
    write_tensors((root / kSingleFile).string(), shards[0]);
    stale.erase(kSingleFile);
  } else {
    json weight_map = json::object();
    size_t total = 0;
    std::vector<std::string> written;
    try {
      for (size_t i = 0; i < shards.size(); ++i) {
        const std::string name = shard_name(i, shards.size());
        write_tensors((root / name).string(), shards[i]);
        written.push_back(name);
        for (const SaveTensor* t : shards[i]) {
          weight_map[t->name] = name;
          total += t->data.nbytes();
        }
      }
      // The index is what makes the new shards the checkpoint, so it is written last.
      const json index = {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}};
      write_file_atomic((root / kIndexFile).string(), index.dump(2) + "\n");
    } catch (...) {
      // Without an index these shards are not a checkpoint; the previous one still is.
      for (const std::string& name : written) {
        std::error_code ec;
        if (!stale.count(name)) fs::remove(root / name, ec);
      }
      throw;
    }
    for (const std::string& name : written) stale.erase(name);
    stale.erase(kIndexFile);
  }
  // The previous index goes first: until it is gone it still names the old, intact shards.
  if (stale.erase(kIndexFile)) {
    std::error_code ec;
    if (!fs::remove(root / kIndexFile, ec) && ec)
      throw IoError("saved '" + dir + "' but cannot remove the previous " + kIndexFile + ", which would still be loaded: " +
                    ec.message());
  }
  for (const std::string& file : stale) {
    std::error_code ec;
    fs::remove(root / file, ec);  // a leftover unreferenced file is harmless
  }
}

std::map<std::string, std::vector<int64_t>> llama_parameter_shapes(const ModelConfig& config) {
  const int64_t H = config.hidden_size, V = config.vocab_size, I = config.intermediate_size;
  const int64_t q = config.num_attention_heads * config.effective_head_dim();
  const int64_t kv = config.num_key_value_heads * config.effective_head_dim();
  std::map<std::string, std::vector<int64_t>> shapes;
  shapes["model.embed_tokens.weight"] = {V, H};
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    shapes[p + "self_attn.q_proj.weight"] = {q, H};
    shapes[p + "self_attn.k_proj.weight"] = {kv, H};
    shapes[p + "self_attn.v_proj.weight"] = {kv, H};
    shapes[p + "self_attn.o_proj.weight"] = {H, q};
    if (config.attention_bias) {
      shapes[p + "self_attn.q_proj.bias"] = {q};
      shapes[p + "self_attn.k_proj.bias"] = {kv};
      shapes[p + "self_attn.v_proj.bias"] = {kv};
    }
    if (config.has_qk_norm()) {
      shapes[p + "self_attn.q_norm.weight"] = {config.effective_head_dim()};
      shapes[p + "self_attn.k_norm.weight"] = {config.effective_head_dim()};
    }
    shapes[p + "mlp.gate_proj.weight"] = {I, H};
    shapes[p + "mlp.up_proj.weight"] = {I, H};
    shapes[p + "mlp.down_proj.weight"] = {H, I};
    shapes[p + "input_layernorm.weight"] = {H};
    shapes[p + "post_attention_layernorm.weight"] = {H};
  }
  shapes["model.norm.weight"] = {H};
  if (!config.tie_word_embeddings) shapes["lm_head.weight"] = {V, H};
  return shapes;
}

void validate_parameters(std::map<std::string, at::Tensor>& tensors, const ModelConfig& config,
                         const std::string& source) {
  const auto expected = llama_parameter_shapes(config);
  std::vector<std::string> problems;

  // Tolerated extras that Hugging Face itself ignores on load.
  for (auto it = tensors.begin(); it != tensors.end();) {
    const std::string& name = it->first;
    const bool rope_buffer = ends_with(name, ".rotary_emb.inv_freq");
    bool redundant_head = false;
    if (name == "lm_head.weight" && config.tie_word_embeddings) {
      auto embed = tensors.find("model.embed_tokens.weight");
      redundant_head = embed != tensors.end() && embed->second.sizes() == it->second.sizes() &&
                       at::equal(embed->second, it->second);
      if (!redundant_head)
        problems.emplace_back("lm_head.weight differs from model.embed_tokens.weight although tie_word_embeddings is true");
    }
    it = rope_buffer || redundant_head ? tensors.erase(it) : std::next(it);
  }

  for (const auto& [name, shape] : expected) {
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      problems.push_back("missing tensor '" + name + "' (expected shape " + shape_text(shape) + ")");
    } else if (it->second.sizes() != at::IntArrayRef(shape)) {
      problems.push_back("tensor '" + name + "' has shape " + shape_text(it->second.sizes()) + ", expected " +
                         shape_text(shape));
    } else if (!at::isFloatingType(it->second.scalar_type())) {
      problems.push_back("tensor '" + name + "' has non-floating type " + c10::toString(it->second.scalar_type()));
    }
  }
  for (const auto& [name, tensor] : tensors)
    if (!expected.count(name) && !(name == "lm_head.weight" && config.tie_word_embeddings))
      problems.push_back("unexpected tensor '" + name + "'");

  if (problems.empty()) return;
  constexpr size_t kShown = 8;
  std::string message = source + ": the checkpoint does not match its config (" + std::to_string(problems.size()) +
                        " problem" + (problems.size() > 1 ? "s" : "") + "): ";
  for (size_t i = 0; i < problems.size() && i < kShown; ++i) message += (i ? "; " : "") + problems[i];
  if (problems.size() > kShown) message += "; ...";
  throw FormatError(message);
}

}  // namespace lrem
