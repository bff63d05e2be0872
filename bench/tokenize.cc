// tokenizer.json encoding speed on one thread: a text file cut into documents of
// --chunk-lines lines (so per-call overhead of the Node binding does not decide the
// comparison), each through Tokenizer::encode, repeated for at least --seconds after one untimed pass (which fills
// the BPE word cache, as a warm server's would be). bench/tokenize_hf.js does the same
// with Hugging Face's `tokenizers` on the same file; report.py puts the two side by side,
// and equal token totals show that both produced the same tokenization.
//
//   bench_tokenize --tokenizer tokenizer.json --text mixed.txt [--chunk-lines 200] [--seconds 5] [--label qwen2]
#include <fstream>

#include "bench_common.h"
#include "lrem/tokenizer.h"

using namespace lrem;

int main(int argc, char** argv) {
  return bench::run_main("bench_tokenize", [&] {
    const bench::Args args(argc, argv, {"tokenizer", "text", "chunk-lines", "seconds", "label"});
    const Tokenizer tok = Tokenizer::load(args.required("tokenizer"));
    const int64_t chunk_lines = args.integer("chunk-lines", 200);
    std::vector<std::string> chunks;
    size_t bytes = 0, line_count = 0;
    std::ifstream in(args.required("text"));
    for (std::string line; std::getline(in, line); ++line_count) {
      if (line_count % chunk_lines == 0) chunks.emplace_back();
      chunks.back() += line + "\n";
      bytes += line.size() + 1;
    }
    size_t tokens = 0;
    for (const std::string& chunk : chunks) tokens += tok.encode(chunk).size();

    const double seconds = args.number("seconds", 5.0);
    int passes = 0;
    const double start = bench::now_seconds();
    double elapsed = 0;
    while (elapsed < seconds || passes < 2) {
      size_t count = 0;
      for (const std::string& chunk : chunks) count += tok.encode(chunk).size();
      if (count != tokens) throw std::runtime_error("encoding is not deterministic");
      ++passes;
      elapsed = bench::now_seconds() - start;
    }
    bench::emit({{"bench", "tokenize"},
                 {"implementation", "lrem"},
                 {"label", args.str("label", "")},
                 {"lines", line_count},
                 {"documents", chunks.size()},
                 {"bytes", bytes},
                 {"tokens", tokens},
                 {"passes", passes},
                 {"tokens_per_s", double(tokens) * passes / elapsed},
                 {"mb_per_s", double(bytes) * passes / elapsed / 1e6},
                 {"machine", bench::machine_description()}});
  });
}
