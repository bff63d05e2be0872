// Shared pieces of lrem's benchmark programs: argument parsing, timing, percentiles, the
// machine's measured limits, model cost formulas and the JSON-lines output every program
// prints (one object per line on stdout; bench/report.py turns them into docs/BENCHMARKS.md).
//
// Each figure a program reports as a ratio is measured against a reference taken in the
// same process, so the ratio survives a noisy shared machine better than absolute numbers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include "lrem/config.h"

namespace lrem::bench {

// "--key value" pairs; a bare "--flag" means "true". Unknown keys are an error so a typo
// never silently runs the default.
class Args {
 public:
  Args(int argc, char** argv, std::vector<std::string> known);
  std::string str(const std::string& key, const std::string& fallback) const;
  std::string required(const std::string& key) const;
  int64_t integer(const std::string& key, int64_t fallback) const;
  double number(const std::string& key, double fallback) const;
  std::vector<int64_t> integers(const std::string& key, const std::vector<int64_t>& fallback) const;
  bool flag(const std::string& key) const;

 private:
  std::map<std::string, std::string> values_;
};

inline double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Calls fn repeatedly (after `warmup` untimed calls) until both min_reps calls and
// min_seconds have passed, or max_reps calls; returns each call's duration in seconds.
std::vector<double> time_calls(const std::function<void()>& fn, int warmup, int min_reps, int max_reps,
                               double min_seconds);

// Percentile p in [0, 100] by linear interpolation between order statistics.
double percentile(std::vector<double> values, double p);
double median(const std::vector<double>& values);

// Prints one JSON object as a line on stdout (flushed, so partial runs keep their output).
void emit(const nlohmann::json& record);

// CPU model, logical cores, intra-op threads in use, load average and the CPU flags that
// decide which GEMM kernels run (AVX2, AVX-512, AVX512-BF16/VNNI, AMX): stamped on each run.
nlohmann::json machine_description();
double load_average_1min();

// Best GEMM rate over square sizes (all threads) in a LoadOptions dtype name, in GFLOP/s.
// bfloat16 runs in oneDNN, whose speed depends on the CPU having AVX512-BF16 or AMX; int8
// times libtorch's dynamic int8 linear (float32 in and out), VNNI where the CPU has it.
double measure_gemm_peak_gflops(double seconds_per_size = 0.6, const std::string& dtype = "float32");
// Best streaming read rate (a reduction over a buffer far larger than the caches), in GB/s.
double measure_read_bandwidth_gbs(double seconds = 1.0);

// Model costs, for utilisation figures.
// Parameters of the decoder layers (attention + MLP + norms), the part every token pays.
int64_t layer_parameters(const ModelConfig& config);
// Forward FLOPs of one token attending to `context` positions, without the LM head.
double forward_flops_per_token(const ModelConfig& config, double context);
// Bytes of weights one decode step reads at batch 1: every layer plus the LM head (which
// an int8 model keeps in float32).
double decode_weight_bytes(const ModelConfig& config, const std::string& dtype);

// The "field" value of each line of a JSON Lines file, up to `limit` lines (0 = all).
std::vector<std::string> read_jsonl_strings(const std::string& path, const std::string& field, size_t limit = 0);

// Runs a benchmark's body; an exception becomes a one-line message on stderr and exit code 1.
int run_main(const char* program, const std::function<void()>& body);

// Resident set size of this process, in bytes, now and at its peak (getrusage).
int64_t resident_bytes();
int64_t peak_rss_bytes();

// Times the progress reports of one training run: (steps, seconds) between the first and
// the last, so start-up, tokenisation and the final checkpoint are excluded.
struct StepClock {
  int64_t first_step = -1, last_step = -1;
  double first_time = 0, last_time = 0;
  std::function<void(int64_t step)> callback();
  double steps_per_second() const { return double(last_step - first_step) / (last_time - first_time); }
};

// Vectors shaped like real embedding sets. Those are clustered and have a low intrinsic
// dimension (a few tens of directions carry almost all the variance, whatever the ambient
// dim), and the difficulty of approximate search depends on that intrinsic dimension, not on
// the ambient one. Isotropic Gaussian noise in all 768 dims would instead make every point's
// neighbours almost equidistant, a worst case no real model produces. So the vectors are a
// Gaussian mixture (2,048 centres, within-cluster spread 0.5 of the centre spread) in an
// `intrinsic_dim` subspace, mapped into `dim` by a random orthonormal basis, plus isotropic
// noise carrying 10% of the energy, then L2-normalised. Queries are fresh draws.
class EmbeddingLikeData {
 public:
  EmbeddingLikeData(int64_t dim, int64_t intrinsic_dim, at::Generator& gen);
  // n unit rows (n x dim float32), generated in chunks so the temporaries stay small.
  at::Tensor sample(int64_t n, at::Generator& gen) const;

 private:
  at::Tensor centres_;  // cluster centres in the latent space
  at::Tensor basis_;    // intrinsic_dim x dim, orthonormal rows
  double noise_;        // per-dimension standard deviation of the isotropic noise
};

}  // namespace lrem::bench
