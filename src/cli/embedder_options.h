// Options shared by every subcommand that loads a model and embeds (embed, index build,
// search, serve), so they are spelled and documented the same way everywhere.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "lrem/embedder.h"
#include "lrem/model.h"

namespace lrem::cli {

// --prompt-preset NAME (LoadOptions::prompt_preset), listing the presets in its help.
void add_prompt_preset(CLI::App* cmd, std::string& preset);

// --threads, --dtype and --prompt-preset: how every subcommand that loads a model loads it. The thread count
// is the process's (lrem::set_num_threads), set just before loading.
struct LoadArgs {
  LoadOptions options;
  int threads = 0;

  void add_to(CLI::App* cmd);
  Model load(const std::string& dir) const;
};

struct EmbedderArgs {
  std::string model;
  LoadArgs load;
  EmbedderOptions embedder;
  bool quiet = false;

  // Adds --model, --threads, --dtype, --prompt-preset, --batch-size, --max-cot-tokens, --output-dim,
  // --temperature, --seed, --pooling and --quiet to `cmd`.
  void add_to(CLI::App* cmd);
  // Sets the compute threads and loads the model; unless quiet, progress on long runs goes to stderr.
  Embedder make_embedder() const;
};

}  // namespace lrem::cli
