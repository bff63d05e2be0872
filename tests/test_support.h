// Shared helpers for the GoogleTest suite: where fixtures live, scratch directories.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lrem/model.h"
#include "lrem/train.h"

namespace lrem::testing {

// Whether resident memory says anything about leaks or bounds in this build. The sanitizers'
// allocators keep freed memory on purpose (ASan's quarantine holds up to 256 MiB; TSan's
// allocator and shadow grow with every thread and address touched), so memory assertions
// are skipped there; ASan's leak checker covers leaks instead.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kRssIsMeaningful = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kRssIsMeaningful = false;
#else
inline constexpr bool kRssIsMeaningful = true;
#endif
#else
inline constexpr bool kRssIsMeaningful = true;
#endif

// n x dim standard normal floats (not normalised), the same for the same seed.
std::vector<float> random_vectors(int64_t n, int dim, uint32_t seed);

// The fixtures directory: $LREM_FIXTURES_DIR, else the path configured at build time
// (default ../shared/fixtures next to the source tree).
std::string fixtures_dir();

// Path of a fixture, or "" after printing a loud SKIP notice when it is absent.
// Use with GTEST_SKIP(): `auto dir = fixture("stories260K"); if (dir.empty()) GTEST_SKIP();`
std::string fixture(const std::string& name);

// A small random model (hidden 48, 2 layers, GQA) on the tokenizer found in `tokenizer_dir`,
// with the LREM tokens added and a query template whose prefix is non-empty, so the prefix
// cache is exercised. Its CoTs are untrained but every code path runs for real.
Model small_lrem_model(const std::string& tokenizer_dir, uint64_t seed = 7,
                       const std::string& query_template = "search query: {query} ->", int max_cot_tokens = 16);

// The architecture of the tiny models the training tests pretrain from scratch: the
// pretraining default (PretrainConfig::small_model()) shrunk to hidden 32, 2 layers, 4 heads
// over 2 KV heads and 64 positions, so a run takes seconds on one thread.
ModelConfig tiny_training_architecture();

// A quiet, single-threaded stage-1 config: `steps` steps at `lr` with the paper's loss weights
// (callers change what their test is about).
SftConfig quick_sft(const std::string& model, const std::string& data, const std::string& output_dir, int64_t steps,
                    double lr);

// A fresh, empty directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace lrem::testing
