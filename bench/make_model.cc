// Writes a randomly initialised model in the Hugging Face layout, so every benchmark (and
// the PyTorch baseline) loads the same weights from the same safetensors file.
//
//   bench_make_model --size demo|0.1b|0.1b-qwen2 --corpus corpus.txt --tokenizer-prefix DIR/tok --out DIR
//   bench_make_model --size 0.5b-qwen2 --tokenizer DIR --out DIR
//
// demo: the trainer's default small model (what `lrem train pretrain` builds), vocab 4003.
// 0.1b: hidden 768, 12 layers, 12 heads, vocab 32000: the stand-in for a real deployment.
// 0.1b-qwen2: the same layers shaped as Qwen2 (q/k/v biases, rope_theta 1e6, tied head) with
//   Qwen2's 151,936-row vocabulary, the part of a real Qwen2 model that costs the most at
//   this size; it shares the 0.1b model's 32,000-piece tokenizer.
// 0.5b-qwen2: Qwen2-0.5B's shape (hidden 896, 24 layers, 14 heads over 2 KV heads,
//   intermediate 4864, vocab 151,936, q/k/v biases, tied head), with the tokenizer of --tokenizer
//   (a directory holding a tokenizer.json, e.g. the real Qwen2 one); for the training benchmarks.
// The others get a SentencePiece tokenizer (minus the three LREM tokens) trained on the given
// corpus (once; an existing <prefix>.model is reused), so titles and queries have realistic
// token counts. Every id the model can emit decodes: embedding rows past the tokenizer are
// zero, so their logits are 0 and greedy decoding never picks them (as the untrained padding
// rows of a real Qwen2 checkpoint are never picked).
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <filesystem>

#include "bench_common.h"
#include "lrem/error.h"
#include "lrem/model.h"
#include "lrem/train.h"
#include "model/model_access.h"
#include "model/model_impl.h"

using namespace lrem;

namespace {

// A vocabulary larger than the tokenizer (Qwen2's 151,936 rows over 32,003 pieces here):
// zero rows give logits of 0, below the best real token's, so generation never emits an id
// the tokenizer cannot decode, as a trained checkpoint never emits its padding rows.
void zero_rows_past_the_tokenizer(Model& model) {
  const int64_t pieces = model.tokenizer().vocab_size();
  at::NoGradGuard no_grad;
  for (const char* name : {"model.embed_tokens.weight", "lm_head.weight"}) {
    const auto& params = ModelAccess::trainable_parts(model).transformer.parameters();
    auto it = params.find(name);
    if (it != params.end() && it->second.size(0) > pieces)
      it->second.narrow(0, pieces, it->second.size(0) - pieces).zero_();
  }
}

}  // namespace

int main(int argc, char** argv) {
  return bench::run_main("bench_make_model", [&] {
    const bench::Args args(argc, argv, {"size", "corpus", "tokenizer-prefix", "tokenizer", "out", "seed"});
    const std::string size = args.required("size");
    ModelConfig config = PretrainConfig::small_model();
    if (size == "0.5b-qwen2") {
      config.hidden_size = 896;
      config.intermediate_size = 4864;
      config.num_hidden_layers = 24;
      config.num_attention_heads = 14;
      config.num_key_value_heads = 2;
      config.max_position_embeddings = 32768;
    } else if (size == "0.1b" || size == "0.1b-qwen2") {
      config.hidden_size = 768;
      config.intermediate_size = 2048;
      config.num_hidden_layers = 12;
      config.num_attention_heads = 12;
      config.num_key_value_heads = 12;
      config.vocab_size = 32000;
      config.max_position_embeddings = 2048;
    } else if (size != "demo") {
      throw InvalidArgument("--size must be demo, 0.1b, 0.1b-qwen2 or 0.5b-qwen2, got '" + size + "'");
    }
    TokenizerTrainOptions train;
    train.vocab_size = static_cast<int>(config.vocab_size) - 3;  // <think>, </think>, <emb> follow
    if (size == "0.1b-qwen2" || size == "0.5b-qwen2") {
      config.model_type = "qwen2";
      config.architectures = {"Qwen2ForCausalLM"};
      config.attention_bias = true;
      config.tie_word_embeddings = true;
      config.rope_theta = 1000000.0;
      config.vocab_size = 151936;
    }
    const Tokenizer tokenizer = [&] {
      if (size == "0.5b-qwen2") return Tokenizer::from_directory(args.required("tokenizer"));
      const std::string prefix = args.required("tokenizer-prefix");
      return std::filesystem::exists(prefix + ".model") ? Tokenizer::load(prefix + ".model")
                                                        : Tokenizer::train(args.required("corpus"), prefix, train);
    }();
    const Model plain = Model::random(config, tokenizer, static_cast<uint64_t>(args.integer("seed", 0)));
    const Model lrem = plain.with_lrem_tokens();
    // A deployment prompt: the instruction before {query} is the shared prefix the cache saves.
    PromptConfig prompt = lrem.prompt_config();
    prompt.query_template = "Shopping search. Think about what the customer needs, then embed the query: {query}";
    prompt.item_template = "Product: {title}";
    Model model = lrem.with_prompt_config(prompt);
    zero_rows_past_the_tokenizer(model);
    model.save(args.required("out"));
    bench::emit({{"bench", "make_model"}, {"size", size}, {"parameters", model.config().num_parameters()},
                 {"out", args.required("out")}});
  });
}
