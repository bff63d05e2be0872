#include "bench_common.h"

#include <sys/resource.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "lrem/error.h"
#include "lrem/runtime.h"
#include "model/int8_linear.h"
#include "model/model_impl.h"

namespace lrem::bench {

Args::Args(int argc, char** argv, std::vector<std::string> known) {
  for (int i = 1; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0) throw InvalidArgument(std::string(argv[0]) + ": unexpected argument '" + key + "'");
    key = key.substr(2);
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string list;
      for (const auto& k : known) list += " --" + k;
      throw InvalidArgument(std::string(argv[0]) + ": unknown option --" + key + " (known:" + list + ")");
    }
    const bool has_value = i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0;
    values_[key] = has_value ? argv[++i] : "true";
  }
}

std::string Args::str(const std::string& key, const std::string& fallback) const {
  const auto it = values_.find(key);
  return it == values_.end() ? fallback : it->second;
}

std::string Args::required(const std::string& key) const {
  const auto it = values_.find(key);
  if (it == values_.end()) throw InvalidArgument("missing required option --" + key);
  return it->second;
}

int64_t Args::integer(const std::string& key, int64_t fallback) const {
  const auto it = values_.find(key);
  return it == values_.end() ? fallback : std::stoll(it->second);
}

double Args::number(const std::string& key, double fallback) const {
  const auto it = values_.find(key);
  return it == values_.end() ? fallback : std::stod(it->second);
}

std::vector<int64_t> Args::integers(const std::string& key, const std::vector<int64_t>& fallback) const {
  const auto it = values_.find(key);
  if (it == values_.end()) return fallback;
  std::vector<int64_t> out;
  std::stringstream in(it->second);
  for (std::string part; std::getline(in, part, ',');) out.push_back(std::stoll(part));
  return out;
}

bool Args::flag(const std::string& key) const { return str(key, "false") == "true"; }

std::vector<double> time_calls(const std::function<void()>& fn, int warmup, int min_reps, int max_reps,
                               double min_seconds) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> times;
  const double start = now_seconds();
  while (static_cast<int>(times.size()) < max_reps &&
         (static_cast<int>(times.size()) < min_reps || now_seconds() - start < min_seconds)) {
    const double t0 = now_seconds();
    fn();
    times.push_back(now_seconds() - t0);
  }
  return times;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank)), hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (rank - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

double median(const std::vector<double>& values) { return percentile(values, 50); }

void emit(const nlohmann::json& record) { std::cout << record.dump() << std::endl; }

double load_average_1min() {
  std::ifstream in("/proc/loadavg");
  double load = std::nan("");
  in >> load;
  return load;
}

nlohmann::json machine_description() {
  std::string cpu = "unknown";
  std::vector<std::string> flags;
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line) && flags.empty();) {
    if (line.rfind("model name", 0) == 0) cpu = line.substr(line.find(':') + 2);
    if (line.rfind("flags", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      const std::vector<std::string> wanted = {"avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8"};
      for (std::string flag; words >> flag;)
        if (std::find(wanted.begin(), wanted.end(), flag) != wanted.end()) flags.push_back(flag);
      if (flags.empty()) flags.push_back("none of avx2/avx512/amx");
    }
  }
  return {{"cpu", cpu},
          {"cpu_flags", flags},
          {"logical_cores", std::thread::hardware_concurrency()},
          {"threads", lrem::num_threads()},
          {"load_average_1min", load_average_1min()}};
}

double measure_gemm_peak_gflops(double seconds_per_size, const std::string& dtype) {
  c10::InferenceMode guard;
  const bool int8 = dtype == "int8";
  const at::ScalarType type = int8 ? at::kFloat : parse_dtype(dtype);
  double best = 0;
  for (int64_t n : {512, 1024, 2048}) {
    const at::Tensor a = at::randn({n, n}).to(type), b = at::randn({n, n}).to(type);
    at::Tensor c = at::empty({n, n}, type);
    // int8: the product as the model runs it, input quantisation included.
    const Int8Linear b_int8 = int8 ? Int8Linear(b, {}) : Int8Linear();
    const auto times = time_calls([&] { int8 ? (void)b_int8(a) : (void)at::mm_out(c, a, b); }, 1, 3, 1000,
                                  seconds_per_size);
    best = std::max(best, 2.0 * n * n * n / *std::min_element(times.begin(), times.end()) / 1e9);
  }
  return best;
}

double measure_read_bandwidth_gbs(double seconds) {
  c10::InferenceMode guard;
  // 512 MiB: far beyond any last-level cache, so every pass streams from DRAM.
  const int64_t n = int64_t(128) << 20;
  const at::Tensor buffer = at::ones({n});
  const auto times = time_calls([&] { (void)buffer.sum().item<float>(); }, 1, 3, 100, seconds);
  return 4.0 * n / *std::min_element(times.begin(), times.end()) / 1e9;
}

int64_t layer_parameters(const ModelConfig& c) {
  const int64_t hd = c.effective_head_dim();
  const int64_t q = c.num_attention_heads * hd, kv = c.num_key_value_heads * hd;
  const int64_t attention = c.hidden_size * (q + 2 * kv) + q * c.hidden_size + (c.attention_bias ? q + 2 * kv : 0);
  return c.num_hidden_layers * (attention + 3 * c.hidden_size * c.intermediate_size + 2 * c.hidden_size);
}

double forward_flops_per_token(const ModelConfig& c, double context) {
  // 2 FLOPs per weight, plus Q.K and P.V: 2 * 2 * context * head_dim per head and layer.
  const double attention = 4.0 * context * c.effective_head_dim() * c.num_attention_heads * c.num_hidden_layers;
  return 2.0 * static_cast<double>(layer_parameters(c)) + attention;
}

double decode_weight_bytes(const ModelConfig& c, const std::string& dtype) {
  const double lm_head = static_cast<double>(c.vocab_size) * c.hidden_size;
  const double layer_bytes = dtype == "float32" ? 4 : dtype == "int8" ? 1 : 2;
  const double head_bytes = dtype == "int8" ? 4 : layer_bytes;
  return static_cast<double>(layer_parameters(c)) * layer_bytes + (lm_head + c.hidden_size) * head_bytes;
}

std::vector<std::string> read_jsonl_strings(const std::string& path, const std::string& field, size_t limit) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot read '" + path + "'");
  std::vector<std::string> out;
  size_t line_no = 0;
  for (std::string line; std::getline(in, line) && (limit == 0 || out.size() < limit);) {
    ++line_no;
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    if (!j.contains(field) || !j[field].is_string())
      throw FormatError(path + ":" + std::to_string(line_no) + ": no string field '" + field + "'");
    out.push_back(j[field].get<std::string>());
  }
  return out;
}

int run_main(const char* program, const std::function<void()>& body) {
  try {
    body();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << std::endl;
    return 1;
  }
}

int64_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  int64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

int64_t peak_rss_bytes() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return int64_t(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

std::function<void(int64_t)> StepClock::callback() {
  return [this](int64_t step) {
    const double now = now_seconds();
    if (first_step < 0) {
      first_step = step;
      first_time = now;
    }
    last_step = step;
    last_time = now;
  };
}

EmbeddingLikeData::EmbeddingLikeData(int64_t dim, int64_t intrinsic_dim, at::Generator& gen)
    : centres_(at::randn({2048, intrinsic_dim}, gen)),
      basis_(std::get<0>(at::linalg_qr(at::randn({dim, intrinsic_dim}, gen))).t().contiguous()),
      // Signal energy per vector is about intrinsic_dim * (1 + 0.5^2); the noise gets 10% of it.
      noise_(std::sqrt(0.1 * 1.25 * static_cast<double>(intrinsic_dim) / static_cast<double>(dim))) {}

at::Tensor EmbeddingLikeData::sample(int64_t n, at::Generator& gen) const {
  constexpr int64_t kChunk = 65536;
  at::Tensor out = at::empty({n, basis_.size(1)});
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t m = std::min(kChunk, n - start);
    const at::Tensor latent =
        centres_.index_select(0, at::randint(centres_.size(0), {m}, gen)) + 0.5 * at::randn({m, centres_.size(1)}, gen);
    at::Tensor x = at::mm(latent, basis_) + noise_ * at::randn({m, basis_.size(1)}, gen);
    out.narrow(0, start, m).copy_(x / x.norm(2, 1, true));
  }
  return out;
}

}  // namespace lrem::bench
