#include "model/sentencepiece_library.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <thread>
#include <type_traits>

#include "lrem/error.h"
#include "model/sentencepiece/sp_c_api.h"

namespace lrem {

namespace {

constexpr const char* kLibraryName = "liblrem_sp.so";
constexpr const char* kPathVariable = "LREM_SP_LIBRARY";
constexpr const char* kVerboseVariable = "LREM_SP_VERBOSE";

// The entry points of liblrem_sp.so, resolved once.
struct Library {
  decltype(&lrem_sp_set_min_log_level) set_min_log_level;
  decltype(&lrem_sp_load_from_bytes) load_from_bytes;
  decltype(&lrem_sp_train) train;
  decltype(&lrem_sp_free) free;
  decltype(&lrem_sp_piece_count) piece_count;
  decltype(&lrem_sp_unk_id) unk_id;
  decltype(&lrem_sp_bos_id) bos_id;
  decltype(&lrem_sp_eos_id) eos_id;
  decltype(&lrem_sp_pad_id) pad_id;
  decltype(&lrem_sp_is_control) is_control;
  decltype(&lrem_sp_is_unknown) is_unknown;
  decltype(&lrem_sp_is_byte) is_byte;
  decltype(&lrem_sp_score) score;
  decltype(&lrem_sp_piece_to_id) piece_to_id;
  decltype(&lrem_sp_id_to_piece) id_to_piece;
  decltype(&lrem_sp_encode) encode;
  decltype(&lrem_sp_decode) decode;
  decltype(&lrem_sp_serialize) serialize;
};

const Library& library();

// liblrem_sp.so sits next to the binary that holds this code (liblrem.so).
std::string sibling_library_path() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&library), &info) || !info.dli_fname)
    throw IoError(std::string("cannot locate liblrem itself (dladdr failed) to find ") + kLibraryName + "; set " +
                  kPathVariable + " to the path of " + kLibraryName);
  const std::filesystem::path self = std::filesystem::weakly_canonical(info.dli_fname);
  return (self.parent_path() / kLibraryName).string();
}

Library load_library() {
  const char* override_path = std::getenv(kPathVariable);
  const bool overridden = override_path && *override_path;
  const std::string path = overridden ? override_path : sibling_library_path();
  const std::string where = overridden ? std::string(" (from ") + kPathVariable + ")" : " (next to liblrem.so)";

  // A fresh linker namespace: SentencePiece gets its own protobuf and libstdc++ copies.
  // The handle is never closed; the namespace lives as long as the process.
  void* handle = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* reason = dlerror();
    throw IoError("cannot load the SentencePiece library '" + path + "'" + where + ": " +
                  (reason ? reason : "unknown error") + ". Build the lrem_sp target or reinstall lrem, or set " +
                  kPathVariable + " to the path of " + kLibraryName);
  }
  auto resolve = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(handle, name));
    if (!fn)
      throw IoError("the SentencePiece library '" + path + "' lacks the symbol " + name +
                    "; it is not the " + kLibraryName + " of this lrem version: rebuild or reinstall lrem");
  };
  Library lib{};
  resolve(lib.set_min_log_level, "lrem_sp_set_min_log_level");
  resolve(lib.load_from_bytes, "lrem_sp_load_from_bytes");
  resolve(lib.train, "lrem_sp_train");
  resolve(lib.free, "lrem_sp_free");
  resolve(lib.piece_count, "lrem_sp_piece_count");
  resolve(lib.unk_id, "lrem_sp_unk_id");
  resolve(lib.bos_id, "lrem_sp_bos_id");
  resolve(lib.eos_id, "lrem_sp_eos_id");
  resolve(lib.pad_id, "lrem_sp_pad_id");
  resolve(lib.is_control, "lrem_sp_is_control");
  resolve(lib.is_unknown, "lrem_sp_is_unknown");
  resolve(lib.is_byte, "lrem_sp_is_byte");
  resolve(lib.score, "lrem_sp_score");
  resolve(lib.piece_to_id, "lrem_sp_piece_to_id");
  resolve(lib.id_to_piece, "lrem_sp_id_to_piece");
  resolve(lib.encode, "lrem_sp_encode");
  resolve(lib.decode, "lrem_sp_decode");
  resolve(lib.serialize, "lrem_sp_serialize");

  // SentencePiece's trainer logs pages of progress at INFO; keep errors only unless asked.
  const char* verbose = std::getenv(kVerboseVariable);
  lib.set_min_log_level(verbose && *verbose && std::string(verbose) != "0" ? 0 : 2);
  return lib;
}

const Library& library() {
  static const Library lib = load_library();  // thread-safe, once per process
  return lib;
}

// Fills out[offset, ...) by the buffer convention of sp_c_api.h: `call(data, capacity)`
// returns the full size of the result, or -1 on error. Returns false on error.
template <typename Buffer, typename Call>
bool fill(Buffer& out, size_t offset, size_t guess, Call call) {
  out.resize(offset + guess);
  long long n = call(out.data() + offset, guess);
  if (n > static_cast<long long>(guess)) {
    out.resize(offset + static_cast<size_t>(n));
    n = call(out.data() + offset, static_cast<size_t>(n));
  }
  if (n < 0) {
    out.resize(offset);
    return false;
  }
  out.resize(offset + static_cast<size_t>(n));
  return true;
}

// Room for SentencePiece's error messages.
struct ErrorBuffer {
  char text[1024] = "";
};

}  // namespace

SentencePieceModel::SentencePieceModel(lrem_sp_model* handle)
    : handle_(handle),
      size_(library().piece_count(handle)),
      unk_id_(library().unk_id(handle)),
      bos_id_(library().bos_id(handle)),
      eos_id_(library().eos_id(handle)),
      pad_id_(library().pad_id(handle)) {}

SentencePieceModel::~SentencePieceModel() { library().free(handle_); }

std::shared_ptr<const SentencePieceModel> SentencePieceModel::from_serialized(std::string_view bytes,
                                                                              const std::string& origin) {
  const Library& lib = library();
  ErrorBuffer err;
  lrem_sp_model* handle = lib.load_from_bytes(bytes.data(), bytes.size(), err.text, sizeof err.text);
  if (!handle)
    throw FormatError("'" + origin + "' is not a SentencePiece model (" + err.text +
                      "); expected the tokenizer.model of a Llama-family checkpoint");
  return std::shared_ptr<const SentencePieceModel>(new SentencePieceModel(handle));
}

std::shared_ptr<const SentencePieceModel> SentencePieceModel::train(const std::string& corpus_path,
                                                                    const TokenizerTrainOptions& options) {
  const Library& lib = library();
  const int threads =
      options.num_threads > 0 ? options.num_threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  ErrorBuffer err;
  lrem_sp_model* handle = lib.train(corpus_path.c_str(), options.vocab_size, options.model_type.c_str(),
                                    options.character_coverage, options.byte_fallback, threads,
                                    static_cast<long long>(options.input_sentence_size),
                                    static_cast<unsigned int>(options.seed), err.text, sizeof err.text);
  if (!handle)
    throw InvalidArgument("SentencePiece could not train on '" + corpus_path + "': " + err.text +
                          " (check the corpus and the training options, e.g. a smaller vocab_size)");
  return std::shared_ptr<const SentencePieceModel>(new SentencePieceModel(handle));
}

bool SentencePieceModel::is_control(int id) const { return library().is_control(handle_, id); }
bool SentencePieceModel::is_unknown(int id) const { return library().is_unknown(handle_, id); }
bool SentencePieceModel::is_byte(int id) const { return library().is_byte(handle_, id); }
float SentencePieceModel::score(int id) const { return library().score(handle_, id); }

std::string SentencePieceModel::id_to_piece(int id) const {
  std::string piece;
  fill(piece, 0, 32, [&](char* out, size_t capacity) { return library().id_to_piece(handle_, id, out, capacity); });
  return piece;
}

int SentencePieceModel::piece_to_id(std::string_view piece) const {
  return library().piece_to_id(handle_, piece.data(), piece.size());
}

void SentencePieceModel::encode(std::string_view text, std::vector<int>& ids) const {
  ErrorBuffer err;
  // Pieces rarely outnumber bytes; the buffer convention covers the exceptions.
  const bool ok = fill(ids, ids.size(), text.size() + 8, [&](int* out, size_t capacity) {
    return library().encode(handle_, text.data(), text.size(), out, capacity, err.text, sizeof err.text);
  });
  if (!ok) throw InvalidArgument(std::string("SentencePiece could not encode the text: ") + err.text);
}

std::string SentencePieceModel::decode(const int* ids, size_t count) const {
  ErrorBuffer err;
  std::string text;
  const bool ok = fill(text, 0, count * 8 + 16, [&](char* out, size_t capacity) {
    return library().decode(handle_, ids, count, out, capacity, err.text, sizeof err.text);
  });
  if (!ok) throw InvalidArgument(std::string("SentencePiece could not decode the ids: ") + err.text);
  return text;
}

std::string SentencePieceModel::serialized() const {
  std::string bytes;
  if (!fill(bytes, 0, 1 << 16, [&](char* out, size_t capacity) { return library().serialize(handle_, out, capacity); }))
    throw Error("SentencePiece could not serialize its model (out of memory?)");
  return bytes;
}

}  // namespace lrem
