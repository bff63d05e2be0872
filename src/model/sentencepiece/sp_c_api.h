/* The plain C interface of liblrem_sp.so, the only binary that links SentencePiece.
 *
 * liblrem loads it with dlmopen(LM_ID_NEWLM) (src/sentencepiece_library.cc), so it lives in
 * its own dynamic-linker namespace with its own libstdc++ and protobuf. That is why nothing
 * but C types crosses this interface: no C++ objects, no exceptions, no memory allocated on
 * one side and freed on the other. A model is an opaque handle released by lrem_sp_free.
 *
 * Conventions:
 * - Errors: functions that can fail copy a NUL-terminated message into the caller's
 *   `err` buffer (`err_len` bytes, truncated if needed) and return -1 (or NULL).
 * - Variable-size results use the caller's buffer: the function writes at most `capacity`
 *   elements and returns the full size of the result. If that exceeds `capacity`, nothing
 *   useful was written; call again with a buffer of at least that size.
 */
#ifndef LREM_SENTENCEPIECE_SP_C_API_H_
#define LREM_SENTENCEPIECE_SP_C_API_H_

#include <stddef.h>  // NOLINT(modernize-deprecated-headers): this header is a C interface

#ifdef __cplusplus
extern "C" {
#endif

#define LREM_SP_API __attribute__((visibility("default")))

typedef struct lrem_sp_model lrem_sp_model;

/* Sets SentencePiece's minimum log level (0 info, 1 warning, 2 error, 3 fatal). */
LREM_SP_API void lrem_sp_set_min_log_level(int level);

/* Parses a serialized ModelProto (the contents of a tokenizer.model file). */
LREM_SP_API lrem_sp_model* lrem_sp_load_from_bytes(const char* data, size_t size, char* err, size_t err_len);

/* Trains a model on `corpus_path` (one sentence per line) with Llama's conventions: unk 0,
 * bos 1, eos 2, no pad, identity normalization, whitespace kept, digits split.
 * `model_type` is "bpe" or "unigram"; `num_threads` must be positive; an
 * `input_sentence_size` of 0 uses every line. Writes no files: the caller serializes the
 * returned model. */
LREM_SP_API lrem_sp_model* lrem_sp_train(const char* corpus_path, int vocab_size, const char* model_type,
                                         double character_coverage, int byte_fallback, int num_threads,
                                         long long input_sentence_size, unsigned int seed, char* err,
                                         size_t err_len);

LREM_SP_API void lrem_sp_free(lrem_sp_model* model);

LREM_SP_API int lrem_sp_piece_count(const lrem_sp_model* model);
LREM_SP_API int lrem_sp_unk_id(const lrem_sp_model* model);
LREM_SP_API int lrem_sp_bos_id(const lrem_sp_model* model);
LREM_SP_API int lrem_sp_eos_id(const lrem_sp_model* model);
LREM_SP_API int lrem_sp_pad_id(const lrem_sp_model* model); /* -1 if none */

/* Id queries; `id` must be in [0, lrem_sp_piece_count). */
LREM_SP_API int lrem_sp_is_control(const lrem_sp_model* model, int id);
LREM_SP_API int lrem_sp_is_unknown(const lrem_sp_model* model, int id);
LREM_SP_API int lrem_sp_is_byte(const lrem_sp_model* model, int id);
LREM_SP_API float lrem_sp_score(const lrem_sp_model* model, int id);

/* The id of `piece`, or -1 if the vocabulary has no such piece. */
LREM_SP_API int lrem_sp_piece_to_id(const lrem_sp_model* model, const char* piece, size_t piece_len);

/* The piece of `id` (not NUL-terminated); see the buffer convention above. */
LREM_SP_API long long lrem_sp_id_to_piece(const lrem_sp_model* model, int id, char* out, size_t capacity);

/* Encodes UTF-8 text into ids; returns the number of ids, or -1 on error. */
LREM_SP_API long long lrem_sp_encode(const lrem_sp_model* model, const char* text, size_t text_len, int* ids,
                                     size_t capacity, char* err, size_t err_len);

/* Decodes ids into UTF-8 text (not NUL-terminated); returns its length, or -1 on error. */
LREM_SP_API long long lrem_sp_decode(const lrem_sp_model* model, const int* ids, size_t count, char* out,
                                     size_t capacity, char* err, size_t err_len);

/* The serialized ModelProto (what a tokenizer.model file holds); returns its size. */
LREM_SP_API long long lrem_sp_serialize(const lrem_sp_model* model, char* out, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif /* LREM_SENTENCEPIECE_SP_C_API_H_ */
