// Loading a checkpoint at real size: peak resident memory and wall time of Model::load.
//
//   bench_load_model --write DIR --tokenizer tokenizer.model [--layers 16]
//   bench_load_model --model DIR --dtype bfloat16|float32
//
// --write makes a synthetic Qwen2-shaped bfloat16 checkpoint with random weights: vocab
// 151,936, hidden 1536, 12 heads over 2 KV heads, intermediate 8960, q/k/v biases, tied head
// (Qwen2.5-1.5B's shape with 16 of its 28 layers by default: 0.98B parameters, 2 GB),
// sharded in 1 GB files with model.safetensors.index.json, as Hugging Face publishes them.
// --model loads it once in a fresh process, so the process's peak RSS (getrusage) is the
// load's, and reports it against the size of the weights in the compute dtype.
#include <filesystem>

#include "bench_common.h"
#include "lrem/model.h"
#include "model/checkpoint.h"
#include "model/model_access.h"
#include "model/model_impl.h"
#include "util/file_io.h"

using namespace lrem;

namespace {

// Qwen2.5-1.5B's config.json, with `layers` of its 28 layers.
ModelConfig qwen2_shape(int64_t layers) {
  nlohmann::json config = nlohmann::json::parse(R"({
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 151936, "hidden_size": 1536,
    "intermediate_size": 8960, "num_attention_heads": 12, "num_key_value_heads": 2, "max_position_embeddings": 32768,
    "rope_theta": 1000000.0, "rms_norm_eps": 1e-06, "tie_word_embeddings": true, "use_sliding_window": false,
    "sliding_window": 32768, "max_window_layers": 21, "bos_token_id": 151643, "eos_token_id": 151643,
    "torch_dtype": "bfloat16"})");
  config["num_hidden_layers"] = layers;
  return ModelConfig::from_json(config.dump(), "the bench's Qwen2 config");
}

void write_checkpoint(const std::string& dir, const std::string& tokenizer_path, int64_t layers) {
  const ModelConfig config = qwen2_shape(layers);
  const Tokenizer tokenizer = Tokenizer::load(tokenizer_path);
  const Model model = Model::random(config, tokenizer, /*seed=*/1, LoadOptions{"cpu", "bfloat16"});
  ensure_directory(dir);
  save_checkpoint_tensors(dir, ModelAccess::parts(model).transformer.parameters(), at::kBFloat16, size_t(1) << 30);
  tokenizer.save(dir);
  write_file_atomic(dir + "/config.json", config.to_json());
  bench::emit({{"bench", "load_write"}, {"parameters", config.num_parameters()}, {"out", dir}});
}

void load_checkpoint(const std::string& dir, const std::string& dtype) {
  const int64_t before = bench::resident_bytes();
  const double start = bench::now_seconds();
  const Model model = Model::load(dir, LoadOptions{"cpu", dtype});
  const double seconds = bench::now_seconds() - start;
  const int64_t parameters = model.config().num_parameters();
  const int64_t weight_bytes = parameters * (dtype == "float32" ? 4 : 2);
  int64_t checkpoint_bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().extension() == ".safetensors") checkpoint_bytes += int64_t(entry.file_size());
  const int64_t peak = bench::peak_rss_bytes();
  bench::emit({{"bench", "load"},
               {"dtype", dtype},
               {"parameters", parameters},
               {"checkpoint_bytes", checkpoint_bytes},
               {"weight_bytes", weight_bytes},
               {"rss_before_bytes", before},
               {"peak_rss_bytes", peak},
               {"peak_over_weights", double(peak) / double(weight_bytes)},
               {"seconds", seconds},
               {"machine", bench::machine_description()}});
}

}  // namespace

int main(int argc, char** argv) {
  return bench::run_main("bench_load_model", [&] {
    const bench::Args args(argc, argv, {"write", "tokenizer", "layers", "model", "dtype"});
    const std::string out = args.str("write", "");
    if (!out.empty())
      write_checkpoint(out, args.required("tokenizer"), args.integer("layers", 16));
    else
      load_checkpoint(args.required("model"), args.str("dtype", "bfloat16"));
  });
}
