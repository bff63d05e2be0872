#include <iostream>
#include <string_view>

#include "cli/commands.h"
#include "cli/malloc_settings.h"
#include "lrem/error.h"
#include "util/json_reader.h"

int main(int argc, char** argv) {
  CLI::App app{"lrem: reasoning-augmented embedding retrieval"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lrem " LREM_VERSION);
  lrem::cli::add_generate(app);
  lrem::cli::add_add_tokens(app);
  lrem::cli::add_train(app);
  lrem::cli::add_embed(app);
  lrem::cli::add_index(app);
  lrem::cli::add_search(app);
  lrem::cli::add_serve(app);
  lrem::cli::add_eval(app);
  lrem::cli::add_curate(app);
  // serve chooses its own (in its command); every other command is a batch job.
  if (argc < 2 || std::string_view(argv[1]) != "serve") lrem::cli::tune_malloc_for_batch_jobs();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const lrem::Error& e) {
    std::cerr << "lrem: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    // json_error_text: a JSON library failure should not show the library's error codes.
    std::cerr << "lrem: internal error: " << lrem::json_error_text(e) << "\n";
    return 2;
  }
  return 0;
}
