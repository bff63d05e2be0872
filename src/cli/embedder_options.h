// Options shared by every subcommand that loads a model and embeds (embed, index build,
// search, serve), so they are spelled and documented the same way everywhere.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "lrem/embedder.h"
#include "lrem/model.h"

namespace lrem::cli {

// "\r  done/total (rate/s, ETA)" on stderr, timed from its creation.
std::function<void(size_t, size_t)> progress_printer();

struct EmbedderArgs {
  std::string model;
  LoadOptions load;
  int threads = 0;  // the process's compute threads (lrem::set_num_threads)
  EmbedderOptions embedder;
  bool quiet = false;

  // Adds --model, --threads, --dtype, --batch-size, --max-cot-tokens, --output-dim,
  // --temperature, --seed, --pooling and --quiet to `cmd`.
  void add_to(CLI::App* cmd);
  // Sets the compute threads and loads the model; unless quiet, progress on long runs goes to stderr.
  Embedder make_embedder() const;
};

}  // namespace lrem::cli
