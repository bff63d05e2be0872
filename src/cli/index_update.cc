// lrem index add | update | remove | checkpoint: live catalogue updates of an index directory,
// without a rebuild (what the server's admin routes do, from the command line).
#include <iostream>

#include "cli/commands.h"
#include "cli/embedder_options.h"
#include "lrem/error.h"
#include "lrem/retriever.h"

namespace lrem::cli {

void add_index_updates(CLI::App& index) {
  struct Args {
    EmbedderArgs common;
    std::string index, items;
    std::vector<int64_t> ids;
  };
  const auto subcommand = [&index](const char* name, const char* what) {
    auto args = std::make_shared<Args>();
    auto* cmd = index.add_subcommand(name, what);
    args->common.add_to(cmd);
    cmd->add_option("--index", args->index, "Index directory from `lrem index build`")->required();
    return std::make_pair(cmd, args);
  };
  // Each opens the directory's catalogue, applies the change (one transaction, durable on
  // exit) and reports the catalogue's size.
  const auto run = [](const std::shared_ptr<Args>& args, const char* verb,
                      const std::function<size_t(Retriever&)>& change) {
    Retriever retriever = Retriever::open(args->index, args->common.make_embedder());
    const size_t n = change(retriever);
    std::cout << "lrem index " << verb << ": " << n << " items; the catalogue holds " << retriever.items().size()
              << std::endl;
  };

  for (const bool add : {true, false}) {
    auto [cmd, args] = subcommand(add ? "add" : "update",
                                  add ? "Add items (new ids) to an index directory: embed them, update index and catalogue"
                                      : "Replace items (same ids, new title or fields) in an index directory");
    cmd->add_option("--items", args->items, "Items JSONL ({\"id\": int, \"title\": str, ...})")->required();
    cmd->callback([args = args, add, run] {
      const std::vector<Item> items = read_items(args->items);
      run(args, add ? "add" : "update", [&](Retriever& r) {
        add ? r.add_items(items) : r.update_items(items);
        return items.size();
      });
    });
  }
  {
    auto [cmd, args] = subcommand("remove", "Remove items from an index directory's index and catalogue");
    cmd->add_option("--ids", args->ids, "Item ids to remove")->required()->delimiter(',');
    cmd->callback([args = args, run] {
      run(args, "remove", [&](Retriever& r) {
        r.remove_items(args->ids);
        return args->ids.size();
      });
    });
  }
  {
    auto [cmd, args] = subcommand("checkpoint",
                                  "Save the index with the updates so far, so opening it replays no update log");
    cmd->callback([args = args, run] {
      run(args, "checkpoint", [&](Retriever& r) {
        r.checkpoint();
        return r.items().size();
      });
    });
  }
}

}  // namespace lrem::cli
