// Options shared by every subcommand that loads a model and embeds (embed, index build,
// search, serve), so they are spelled and documented the same way everywhere.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "lrem/embedder.h"
#include "lrem/model.h"

namespace lrem::cli {

// --threads and --dtype: how every subcommand that loads a model loads it.
void add_load_options(CLI::App* cmd, LoadOptions& load);

struct EmbedderArgs {
  std::string model;
  LoadOptions load;
  EmbedderOptions embedder;
  bool quiet = false;

  // Adds --model, --threads, --dtype, --batch-size, --max-cot-tokens, --output-dim,
  // --temperature, --seed, --pooling and --quiet to `cmd`.
  void add_to(CLI::App* cmd);
  // Loads the model; unless quiet, progress on long runs goes to stderr.
  Embedder make_embedder() const;
};

}  // namespace lrem::cli
