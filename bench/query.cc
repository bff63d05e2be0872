// Item 3: query embedding through lrem::Embedder.
//   - batch-1 latency p50/p99 in direct and reason mode (CoT cache off, prefix cache on), the
//     same without the prefix cache, and reason mode answered from the CoT cache;
//   - throughput at larger batches;
//   - one decode step (Decoder::append of one token per row + logits) against the floor
//     (bytes of weights read) / (read bandwidth measured at the start of this run).
//
//   bench_query --model DIR --label 0.1b --queries queries.jsonl [--seconds 4]
//               [--batches 8,32,128] [--dtype float32] [--threads 0]
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <numeric>

#include "bench_common.h"
#include "model/generation.h"
#include "lrem/embedder.h"
#include "lrem/runtime.h"
#include "model/model_access.h"

using namespace lrem;

namespace {

struct Setup {
  std::string label, dtype;
  double seconds;
};

void latency(const Model& model, const std::vector<std::string>& queries, QueryMode mode, const std::string& variant,
             EmbedderOptions options, const Setup& setup) {
  options.batch_size = 1;
  const Embedder embedder(model, options);
  // Cache hits cycle through a few queries computed once beforehand; misses use them all.
  const size_t pool = variant == "cot_cache_hit" ? std::min<size_t>(8, queries.size()) : queries.size();
  for (size_t i = 0; i < pool && pool < queries.size(); ++i) (void)embedder.embed_queries({queries[i]}, mode);
  size_t next = 0;
  auto call = [&] { (void)embedder.embed_queries({queries[next++ % pool]}, mode); };
  const auto times = bench::time_calls(call, 1, 10, 100000, setup.seconds);
  bench::emit({{"bench", "query_latency"},
               {"model", setup.label},
               {"dtype", setup.dtype},
               {"mode", to_string(mode)},
               {"variant", variant},
               {"queries", times.size()},
               {"p50_ms", 1e3 * bench::percentile(times, 50)},
               {"p99_ms", 1e3 * bench::percentile(times, 99)},
               {"mean_ms", 1e3 * std::accumulate(times.begin(), times.end(), 0.0) / times.size()},
               {"load_average_1min", bench::load_average_1min()}});
}

void throughput(const Model& model, const std::vector<std::string>& queries, QueryMode mode, int64_t batch,
                const Setup& setup) {
  EmbedderOptions options;
  options.batch_size = static_cast<int>(batch);
  options.cot_cache_capacity = 0;
  const Embedder embedder(model, options);
  size_t next = 0;
  auto call = [&] {
    std::vector<std::string> chunk;
    for (int64_t i = 0; i < batch; ++i) chunk.push_back(queries[next++ % queries.size()]);
    (void)embedder.embed_queries(chunk, mode);
  };
  const auto times = bench::time_calls(call, 0, 2, 100000, setup.seconds);
  const double total = std::accumulate(times.begin(), times.end(), 0.0);
  bench::emit({{"bench", "query_throughput"},
               {"model", setup.label},
               {"dtype", setup.dtype},
               {"mode", to_string(mode)},
               {"batch", batch},
               {"queries", batch * static_cast<int64_t>(times.size())},
               {"queries_per_s", batch * static_cast<double>(times.size()) / total},
               {"load_average_1min", bench::load_average_1min()}});
}

// One greedy decode step, as generate() runs it, after a prompt of `context` tokens.
void decode_step(const Model& model, int64_t batch, int64_t context, double bandwidth_gbs, const Setup& setup) {
  const Transformer& tf = ModelAccess::parts(model).transformer;
  const int steps = 16;
  std::vector<double> times;
  const double start = bench::now_seconds();
  c10::InferenceMode guard;
  while (times.size() < 3 * steps || bench::now_seconds() - start < setup.seconds) {
    Decoder decoder(tf, batch, context + steps);
    decoder.append(std::vector<std::vector<int>>(batch, std::vector<int>(context, 5)));
    at::Tensor logits = decoder.last_logits();
    for (int s = 0; s < steps - 1; ++s) {
      const double t0 = bench::now_seconds();
      const at::Tensor next = logits.argmax(-1).contiguous();
      std::vector<std::vector<int>> feed(batch);
      for (int64_t b = 0; b < batch; ++b) feed[b] = {static_cast<int>(next.data_ptr<int64_t>()[b])};
      decoder.append(feed);
      logits = decoder.last_logits();
      times.push_back(bench::now_seconds() - t0);
    }
  }
  const double floor_ms = 1e3 * bench::decode_weight_bytes(model.config(), setup.dtype) /
                          (bandwidth_gbs * 1e9);
  const double p50 = 1e3 * bench::percentile(times, 50);
  bench::emit({{"bench", "decode_step"},
               {"model", setup.label},
               {"dtype", setup.dtype},
               {"batch", batch},
               {"context", context},
               {"steps", times.size()},
               {"p50_ms", p50},
               {"p99_ms", 1e3 * bench::percentile(times, 99)},
               {"weight_bytes", bench::decode_weight_bytes(model.config(), setup.dtype)},
               {"floor_ms", floor_ms},
               {"ratio_to_floor", p50 / floor_ms},
               {"load_average_1min", bench::load_average_1min()}});
}

}  // namespace

int main(int argc, char** argv) {
  return bench::run_main("bench_query", [&] {
    const bench::Args args(argc, argv, {"model", "label", "queries", "seconds", "batches", "dtype", "threads"});
    LoadOptions load;
    load.dtype = args.str("dtype", "float32");
    set_num_threads(static_cast<int>(args.integer("threads", 0)));
    const Model model = Model::load(args.required("model"), load);
    const Setup setup{args.str("label", args.required("model")), load.dtype, args.number("seconds", 4.0)};
    const auto queries = bench::read_jsonl_strings(args.required("queries"), "text", 512);

    const double bandwidth = bench::measure_read_bandwidth_gbs();
    bench::emit({{"bench", "query_reference"}, {"model", setup.label}, {"read_bandwidth_gbs", bandwidth},
                 {"machine", bench::machine_description()}});

    EmbedderOptions cold;
    cold.cot_cache_capacity = 0;
    EmbedderOptions no_prefix = cold;
    no_prefix.prefix_cache = false;
    for (const QueryMode mode : {QueryMode::Direct, QueryMode::Reason}) {
      latency(model, queries, mode, "cold", cold, setup);
      latency(model, queries, mode, "no_prefix_cache", no_prefix, setup);
    }
    latency(model, queries, QueryMode::Reason, "cot_cache_hit", EmbedderOptions{}, setup);

    for (const int64_t batch : args.integers("batches", {8, 32, 128}))
      for (const QueryMode mode : {QueryMode::Direct, QueryMode::Reason}) throughput(model, queries, mode, batch, setup);

    for (const int64_t batch : {1, 32}) decode_step(model, batch, 32, bandwidth, setup);
  });
}
