// Load a model, embed a catalogue, build an index, search with reasoning, print the CoT and
// the results. Usage: search_catalogue MODEL_DIR ITEMS_JSONL QUERY [K]
#include <lrem/lrem.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: " << argv[0] << " MODEL_DIR ITEMS_JSONL QUERY [K]\n";
    return 2;
  }
  const std::string model_dir = argv[1], items_path = argv[2], query = argv[3];
  const int k = argc > 4 ? std::stoi(argv[4]) : 5;
  try {
    lrem::Model model = lrem::Model::load(model_dir);
    lrem::Embedder embedder(model);
    lrem::ItemStore items = lrem::ItemStore::load(items_path);
    lrem::Index index = lrem::build_index(embedder, items, "Flat");
    lrem::Retriever retriever(embedder, std::move(index), items);

    lrem::SearchResponse res = retriever.search(query, k);
    std::cout << "cot: " << res.cot << "\n";
    for (const lrem::SearchHit& hit : res.hits) std::cout << hit.score << "\t" << hit.id << "\t" << hit.title << "\n";
  } catch (const lrem::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
