// lrem add-tokens --model DIR -o OUT [--prompt-preset NAME]: prepares a plain LLM for LREM
// training. Writes a copy with the LREM special tokens added where missing (tokens the
// tokenizer already has, like Qwen3's <think>, keep their ids) and, when asked, a prompt
// preset in its lrem_config.json.
#include <iostream>

#include "cli/commands.h"
#include "cli/embedder_options.h"
#include "lrem/model.h"

namespace lrem::cli {

void add_add_tokens(CLI::App& app) {
  struct Args {
    std::string model, output;
    LoadArgs load;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("add-tokens", "Add the LREM tokens (<think>, </think>, <emb>) and a prompt preset to a model");
  cmd->add_option("--model", args->model, "Model directory (Hugging Face layout)")->required();
  cmd->add_option("-o,--output", args->output, "Directory to write the prepared model to")->required();
  args->load.add_to(cmd);
  cmd->callback([args] {
    const Model base = args->load.load(args->model);
    const Model model = base.with_lrem_tokens();
    model.save(args->output);
    const PromptConfig& prompt = model.prompt_config();
    std::cout << "vocabulary " << base.tokenizer().vocab_size() << " -> " << model.tokenizer().vocab_size()
              << " tokens; rows " << base.config().vocab_size << " -> " << model.config().vocab_size << "\n";
    for (const std::string& token : {prompt.think_open, prompt.think_close, prompt.emb}) {
      const int id = model.tokenizer().piece_to_id(token);
      if (id >= 0) std::cout << "  " << token << " = " << id << (base.tokenizer().piece_to_id(token) >= 0 ? " (kept)" : " (added)") << "\n";
    }
    std::cout << "wrote " << args->output << "\n";
  });
}

}  // namespace lrem::cli
