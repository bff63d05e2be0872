// The `lrem` command line: one file per job, each adding its subcommand to the app.
#pragma once

#include <CLI/CLI.hpp>

namespace lrem::cli {

// Each registers a subcommand whose callback does the work; errors propagate as lrem::Error.
void add_generate(CLI::App& app);
void add_add_tokens(CLI::App& app);
void add_train(CLI::App& app);
void add_embed(CLI::App& app);
void add_index(CLI::App& app);
void add_index_updates(CLI::App& index);  // lrem index add|update|remove|checkpoint (index_update.cc)
void add_search(CLI::App& app);
void add_serve(CLI::App& app);
void add_eval(CLI::App& app);
void add_curate(CLI::App& app);

}  // namespace lrem::cli
