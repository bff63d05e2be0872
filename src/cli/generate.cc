// lrem generate --model DIR --prompt TEXT: prints the model's continuation.
#include <iostream>

#include "cli/commands.h"
#include "cli/embedder_options.h"
#include "lrem/model.h"
#include "lrem/runtime.h"

namespace lrem::cli {

void add_generate(CLI::App& app) {
  struct Args {
    std::string model, prompt;
    GenerationOptions gen;
    LoadArgs load;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("generate", "Continue a prompt with a model (greedy unless --temperature > 0)");
  cmd->add_option("--model", args->model, "Model directory (Hugging Face layout)")->required();
  cmd->add_option("--prompt", args->prompt, "Text to continue")->required();
  cmd->add_option("--max-new-tokens", args->gen.max_new_tokens, "Maximum number of new tokens")->capture_default_str();
  cmd->add_option("--temperature", args->gen.temperature, "Sampling temperature; 0 = greedy")->capture_default_str();
  cmd->add_option("--top-k", args->gen.top_k, "Sample among the k most likely tokens; 0 = all")->capture_default_str();
  cmd->add_option("--top-p", args->gen.top_p, "Nucleus sampling mass; 1 = off")->capture_default_str();
  cmd->add_option("--seed", args->gen.seed, "Random seed for sampling")->capture_default_str();
  args->load.add_to(cmd);
  cmd->callback([args] {
    const Model model = args->load.load(args->model);
    Generation g = model.generate(args->prompt, args->gen);
    std::cout << args->prompt << g.text << std::endl;
  });
}

}  // namespace lrem::cli
