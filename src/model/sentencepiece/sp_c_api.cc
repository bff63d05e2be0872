// liblrem_sp.so: SentencePiece behind a C interface (see sp_c_api.h for why).
// Every entry point catches everything: an exception must never unwind into the other
// linker namespace, whose libstdc++ is a different copy.
#include "model/sentencepiece/sp_c_api.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

// Exported by libsentencepiece but declared only in its private common.h.
namespace sentencepiece::logging {
void SetMinLogLevel(int v);
}  // namespace sentencepiece::logging

struct lrem_sp_model {
  sentencepiece::SentencePieceProcessor processor;
};

namespace {

void set_error(char* err, size_t err_len, const char* message) {
  if (!err || err_len == 0) return;
  std::strncpy(err, message, err_len - 1);
  err[err_len - 1] = '\0';
}

bool valid_id(const lrem_sp_model* model, int id) { return id >= 0 && id < model->processor.GetPieceSize(); }

// Copies `size` elements when they fit; returns the full size either way (the buffer convention).
template <typename T>
long long copy_out(const T* data, size_t size, T* out, size_t capacity) {
  if (size <= capacity && size > 0) std::memcpy(out, data, size * sizeof(T));
  return static_cast<long long>(size);
}

// Runs `body`, turning any exception into an error message and `failure`.
template <typename R, typename F>
R guarded(R failure, char* err, size_t err_len, F&& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    set_error(err, err_len, e.what());
  } catch (...) {
    set_error(err, err_len, "unknown error inside SentencePiece");
  }
  return failure;
}

// SentencePiece's random generator seed is process-wide, so trainings take turns.
std::mutex& training_mutex() {
  static std::mutex mutex;
  return mutex;
}

}  // namespace

extern "C" {

void lrem_sp_set_min_log_level(int level) { sentencepiece::logging::SetMinLogLevel(level); }

lrem_sp_model* lrem_sp_load_from_bytes(const char* data, size_t size, char* err, size_t err_len) {
  return guarded<lrem_sp_model*>(nullptr, err, err_len, [&]() -> lrem_sp_model* {
    auto model = std::make_unique<lrem_sp_model>();
    const auto status = model->processor.LoadFromSerializedProto(absl::string_view(data, size));
    if (!status.ok()) {
      set_error(err, err_len, status.ToString().c_str());
      return nullptr;
    }
    if (model->processor.GetPieceSize() <= 0) {
      set_error(err, err_len, "the model has no pieces");
      return nullptr;
    }
    return model.release();
  });
}

lrem_sp_model* lrem_sp_train(const char* corpus_path, int vocab_size, const char* model_type,
                             double character_coverage, int byte_fallback, int num_threads,
                             long long input_sentence_size, unsigned int seed, char* err, size_t err_len) {
  return guarded<lrem_sp_model*>(nullptr, err, err_len, [&]() -> lrem_sp_model* {
    const std::unordered_map<std::string, std::string> args = {
        {"input", corpus_path},
        {"model_type", model_type},
        {"vocab_size", std::to_string(vocab_size)},
        {"character_coverage", std::to_string(character_coverage)},
        {"byte_fallback", byte_fallback ? "true" : "false"},
        {"num_threads", std::to_string(num_threads)},
        {"input_sentence_size", std::to_string(input_sentence_size)},
        {"shuffle_input_sentence", "true"},
        {"unk_id", "0"},
        {"bos_id", "1"},
        {"eos_id", "2"},
        {"pad_id", "-1"},
        // As Llama: text is kept as written, so decode(encode(x)) == x.
        {"normalization_rule_name", "identity"},
        {"remove_extra_whitespaces", "false"},
        {"split_digits", "true"},
        {"allow_whitespace_only_pieces", "true"},
    };
    std::string serialized;  // with an output proto (and no model_prefix), SentencePiece writes no files
    {
      std::lock_guard<std::mutex> lock(training_mutex());
      sentencepiece::SetRandomGeneratorSeed(seed);
      const auto status = sentencepiece::SentencePieceTrainer::Train(args, nullptr, &serialized);
      if (!status.ok()) {
        set_error(err, err_len, status.ToString().c_str());
        return nullptr;
      }
    }
    return lrem_sp_load_from_bytes(serialized.data(), serialized.size(), err, err_len);
  });
}

void lrem_sp_free(lrem_sp_model* model) { delete model; }

int lrem_sp_piece_count(const lrem_sp_model* model) { return model->processor.GetPieceSize(); }
int lrem_sp_unk_id(const lrem_sp_model* model) { return model->processor.unk_id(); }
int lrem_sp_bos_id(const lrem_sp_model* model) { return model->processor.bos_id(); }
int lrem_sp_eos_id(const lrem_sp_model* model) { return model->processor.eos_id(); }
int lrem_sp_pad_id(const lrem_sp_model* model) { return model->processor.pad_id(); }

int lrem_sp_is_control(const lrem_sp_model* model, int id) {
  return valid_id(model, id) && model->processor.IsControl(id);
}
int lrem_sp_is_unknown(const lrem_sp_model* model, int id) {
  return valid_id(model, id) && model->processor.IsUnknown(id);
}
int lrem_sp_is_byte(const lrem_sp_model* model, int id) { return valid_id(model, id) && model->processor.IsByte(id); }
float lrem_sp_score(const lrem_sp_model* model, int id) {
  return valid_id(model, id) ? model->processor.GetScore(id) : 0.0f;
}

int lrem_sp_piece_to_id(const lrem_sp_model* model, const char* piece, size_t piece_len) {
  return guarded<int>(-1, nullptr, 0, [&] {
    const absl::string_view p(piece, piece_len);
    const int id = model->processor.PieceToId(p);
    // SentencePiece answers unk for unknown pieces; tell those apart from the unk piece itself.
    return model->processor.IsUnknown(id) && model->processor.IdToPiece(id) != p ? -1 : id;
  });
}

long long lrem_sp_id_to_piece(const lrem_sp_model* model, int id, char* out, size_t capacity) {
  if (!valid_id(model, id)) return 0;
  const std::string& piece = model->processor.IdToPiece(id);
  return copy_out(piece.data(), piece.size(), out, capacity);
}

long long lrem_sp_encode(const lrem_sp_model* model, const char* text, size_t text_len, int* ids,
                         size_t capacity, char* err, size_t err_len) {
  return guarded<long long>(-1, err, err_len, [&]() -> long long {
    std::vector<int> result;
    const auto status = model->processor.Encode(absl::string_view(text, text_len), &result);
    if (!status.ok()) {
      set_error(err, err_len, status.ToString().c_str());
      return -1;
    }
    return copy_out(result.data(), result.size(), ids, capacity);
  });
}

long long lrem_sp_decode(const lrem_sp_model* model, const int* ids, size_t count, char* out, size_t capacity,
                         char* err, size_t err_len) {
  return guarded<long long>(-1, err, err_len, [&]() -> long long {
    std::string text;
    const auto status = model->processor.Decode(std::vector<int>(ids, ids + count), &text);
    if (!status.ok()) {
      set_error(err, err_len, status.ToString().c_str());
      return -1;
    }
    return copy_out(text.data(), text.size(), out, capacity);
  });
}

long long lrem_sp_serialize(const lrem_sp_model* model, char* out, size_t capacity) {
  return guarded<long long>(-1, nullptr, 0, [&] {
    const std::string bytes = model->processor.serialized_model_proto();
    return copy_out(bytes.data(), bytes.size(), out, capacity);
  });
}

}  // extern "C"
