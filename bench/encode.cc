// Item 2: item encoding through lrem::Embedder (length-bucketed batches of `title <emb>`):
// items/s and model FLOPs utilisation = useful FLOP/s (real tokens only, padding is waste)
// over the GEMM peak in the run's dtype, measured at the start of this same run.
//
//   bench_encode --model DIR --label 0.1b --items items.jsonl [--batches 1,16,64,256]
//                [--seconds 3] [--dtype float32]
#include <algorithm>

#include "bench_common.h"
#include "lrem/embedder.h"
#include "lrem/runtime.h"
#include "model/model_access.h"

using namespace lrem;

namespace {

// Forward FLOPs of one causal sequence of t tokens (position i attends to i + 1 keys).
double sequence_flops(const ModelConfig& config, double t) {
  return t * bench::forward_flops_per_token(config, 0) +
         4.0 * config.effective_head_dim() * config.num_attention_heads * config.num_hidden_layers * t * (t + 1) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  return bench::run_main("bench_encode", [&] {
    const bench::Args args(argc, argv, {"model", "label", "items", "batches", "seconds", "dtype", "threads"});
    LoadOptions load;
    load.dtype = args.str("dtype", "float32");
    set_num_threads(static_cast<int>(args.integer("threads", 0)));
    const Model model = Model::load(args.required("model"), load);
    const std::string label = args.str("label", args.required("model"));
    const double seconds = args.number("seconds", 3.0);
    const auto batches = args.integers("batches", {1, 16, 64, 256});
    const int64_t largest = *std::max_element(batches.begin(), batches.end());
    // Enough distinct titles for several calls of the largest batch.
    const auto titles = bench::read_jsonl_strings(args.required("items"), "title", 4 * largest);
    const PromptFormat& prompt = ModelAccess::parts(model).prompt();

    const double peak = bench::measure_gemm_peak_gflops(0.6, load.dtype);
    bench::emit({{"bench", "encode_reference"}, {"model", label}, {"dtype", load.dtype}, {"gemm_peak_gflops", peak},
                 {"machine", bench::machine_description()}});
    for (const int64_t batch : batches) {
      EmbedderOptions options;
      options.batch_size = static_cast<int>(batch);
      const Embedder embedder(model, options);
      // Each call embeds the next `batch` titles, cycling through the pool.
      size_t next = 0, tokens = 0, items = 0;
      double flops = 0;
      auto call = [&] {
        std::vector<std::string> chunk;
        for (int64_t i = 0; i < batch; ++i, next = (next + 1) % titles.size()) chunk.push_back(titles[next]);
        (void)embedder.embed_items(chunk);
        for (const auto& title : chunk) {
          const double t = static_cast<double>(prompt.item(title).ids.size());
          tokens += static_cast<size_t>(t);
          flops += sequence_flops(model.config(), t);
        }
        items += chunk.size();
      };
      call();  // warm-up, not counted
      tokens = items = 0;
      flops = 0;
      const auto times = bench::time_calls(call, 0, 2, 100000, seconds);
      double total = 0;
      for (double t : times) total += t;
      bench::emit({{"bench", "encode"},
                   {"model", label},
                   {"dtype", load.dtype},
                   {"batch", batch},
                   {"items", items},
                   {"mean_tokens_per_item", double(tokens) / double(items)},
                   {"items_per_s", double(items) / total},
                   {"tokens_per_s", double(tokens) / total},
                   {"achieved_gflops", flops / total / 1e9},
                   {"mfu", flops / total / 1e9 / peak},
                   {"load_average_1min", bench::load_average_1min()}});
    }
  });
}
