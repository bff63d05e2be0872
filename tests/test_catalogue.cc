// Live catalogue updates: the index and the item store change together, under one lock,
// without a rebuild, and an index directory's updates survive a SIGKILL at any moment with
// the index and the store agreeing (the same ids, every item searchable).
//
// LREM_UPDATE_KILLS sets the kill trials (default 5).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "lrem/error.h"
#include "lrem/retriever.h"
#include "test_support.h"
#include "util/file_io.h"

namespace lrem {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

const std::vector<std::string> kTitles = {
    "Red Running Shoes", "Navy Wool Cardigan", "Steel Claw Hammer", "Wooden Toy Truck", "Oak Dining Table",
    "Stainless Kettle",  "Leather Hiking Boots", "Plush Teddy Bear", "Cotton Beach Towel", "Glass Flower Vase"};

ItemStore base_items() {
  std::vector<Item> items;
  for (size_t i = 0; i < kTitles.size(); ++i) items.push_back({int64_t(i), kTitles[i], "{}"});
  return ItemStore(std::move(items));
}

Model test_model() { return testing::small_lrem_model(testing::fixture("stories260K"), 21); }

// Every id the index holds, by an exhaustive search (the tests use Flat indexes).
std::set<int64_t> index_ids(const Index& index) {
  std::vector<float> probe(size_t(index.dim()), 1.0f);
  const SearchResult all = index.search(probe.data(), 1, int(std::max<int64_t>(index.size(), 1)));
  std::set<int64_t> out;
  for (int64_t id : all.ids)
    if (id >= 0) out.insert(id);
  return out;
}

std::set<int64_t> store_ids(const ItemStore& items) {
  const std::vector<int64_t> ids = items.ids();
  return {ids.begin(), ids.end()};
}

// The hit for `id` when searching for its own title among all items, or nullptr.
const SearchHit* find_hit(const SearchResponse& response, int64_t id) {
  for (const SearchHit& hit : response.hits)
    if (hit.id == id) return &hit;
  return nullptr;
}

class CatalogueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testing::fixture("stories260K").empty()) GTEST_SKIP();
    model_ = std::make_unique<Model>(test_model());
  }
  Embedder embedder() const { return Embedder(*model_); }
  SearchResponse search_all(const Retriever& r, const std::string& query) const {
    return r.search(query, int(r.index().size()) + 5, QueryMode::Direct);
  }
  std::unique_ptr<Model> model_;
};

// The Retriever used to copy the store it was given, so an item added to the shared index
// and to the caller's store made search throw ("not in the item store").
TEST_F(CatalogueTest, SharedIndexFindsItemsAddedLater) {
  const Embedder e = embedder();
  ItemStore items = base_items();
  auto index = std::make_shared<Index>(build_index(e, items));
  const Retriever r(e, index, items);
  const Item fresh{100, "Yellow Rain Coat", R"({"size":"M"})"};
  items.add(fresh);  // the store first, then the index (retriever.h)
  const Embeddings v = e.embed_items({fresh.title});
  index->add(v.data.data(), &fresh.id, 1, /*normalized=*/true);
  const SearchResponse found = search_all(r, fresh.title);
  const SearchHit* hit = find_hit(found, fresh.id);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->title, fresh.title);
  EXPECT_EQ(hit->extra_json, fresh.extra_json);
}

TEST_F(CatalogueTest, UpdatesThroughTheRetrieverChangeIndexAndStoreTogether) {
  const Embedder e = embedder();
  ItemStore items = base_items();
  Retriever r(e, std::make_shared<Index>(build_index(e, items)), items);
  r.add_items({{200, "Garden Hose", R"({"color":"green"})"}, {201, "Brass Door Knob", "{}"}});
  r.update_items({{3, "Wooden Toy Train", "{}"}});
  r.remove_items({5});
  EXPECT_EQ(index_ids(r.index()), store_ids(items));  // the caller's handle sees the changes
  EXPECT_EQ(r.index().size(), int64_t(items.size()));
  const SearchResponse hose = search_all(r, "Garden Hose");
  ASSERT_NE(find_hit(hose, 200), nullptr);
  EXPECT_EQ(find_hit(hose, 200)->extra_json, R"({"color":"green"})");
  EXPECT_EQ(find_hit(hose, 3)->title, "Wooden Toy Train");
  EXPECT_EQ(find_hit(hose, 5), nullptr);
  // The updated item's vector is its new title's.
  const Embeddings train = e.embed_items({"Wooden Toy Train"});
  const SearchResult best = r.index().search(train.data.data(), 1, 1, /*normalized=*/true);
  EXPECT_EQ(best.ids[0], 3);
  // Refused whole, nothing changed.
  const std::set<int64_t> before = store_ids(items);
  EXPECT_THROW(r.add_items({{300, "New", "{}"}, {200, "Again", "{}"}}), InvalidArgument);
  EXPECT_THROW(r.update_items({{999, "Absent", "{}"}}), InvalidArgument);
  EXPECT_THROW(r.remove_items({1, 1}), InvalidArgument);
  EXPECT_THROW(r.remove_items({1, 5}), InvalidArgument);
  EXPECT_THROW(r.add_items({{300, "", "{}"}}), InvalidArgument);
  EXPECT_EQ(store_ids(items), before);
  EXPECT_EQ(index_ids(r.index()), before);
  EXPECT_THROW(r.checkpoint(), InvalidArgument);  // no directory
}

TEST_F(CatalogueTest, HnswRefusesRemovalsBeforeChangingAnything) {
  const Embedder e = embedder();
  ItemStore items = base_items();
  Retriever r(e, build_index(e, items, "HNSW16"), items);
  EXPECT_THROW(r.remove_items({1}), InvalidArgument);
  EXPECT_THROW(r.update_items({{1, "x", "{}"}}), InvalidArgument);
  EXPECT_TRUE(items.contains(1));
  r.add_items({{50, "Glass Jar", "{}"}});  // adding needs no removal
  EXPECT_EQ(r.index().size(), int64_t(items.size()));
}

TEST_F(CatalogueTest, UpdatesPersistInTheIndexDirectory) {
  TempDir tmp;
  const std::string dir = tmp.file("index");
  const Embedder e = embedder();
  save_index(build_index(e, base_items()), base_items(), dir);
  std::vector<SearchResponse> want;
  {
    Retriever r = Retriever::open(dir, e);
    EXPECT_TRUE(r.items().is_database());
    r.add_items({{200, "Garden Hose", R"({"color":"green"})"}});
    r.update_items({{3, "Wooden Toy Train", "{}"}});
    r.remove_items({5});
    for (const std::string& q : {"Garden Hose", "train", "kettle"}) want.push_back(search_all(r, q));
    // The served catalogue refuses edits that would bypass the index.
    ItemStore direct = load_index_items(dir);
    EXPECT_THROW(direct.add({400, "Sneaky", "{}"}), InvalidArgument);
  }
  // Reopened: the index replays the logged updates on top of the saved index.
  const auto expect_as_before = [&]() -> int64_t {
    const Retriever r = Retriever::open(dir, e);
    EXPECT_EQ(index_ids(r.index()), store_ids(r.items()));
    EXPECT_EQ(r.items().title(3), "Wooden Toy Train");
    EXPECT_FALSE(r.items().contains(5));
    const std::vector<std::string> queries = {"Garden Hose", "train", "kettle"};
    for (size_t i = 0; i < queries.size(); ++i) {
      const SearchResponse got = search_all(r, queries[i]);
      EXPECT_EQ(got.hits.size(), want[i].hits.size());
      for (size_t j = 0; j < std::min(got.hits.size(), want[i].hits.size()); ++j) {
        EXPECT_EQ(got.hits[j].id, want[i].hits[j].id);
        EXPECT_EQ(got.hits[j].title, want[i].hits[j].title);
        EXPECT_NEAR(got.hits[j].score, want[i].hits[j].score, 1e-5);
      }
    }
    return nlohmann::json::parse(read_file(dir + "/meta.json")).value("catalogue_version", int64_t(-1));
  };
  EXPECT_EQ(expect_as_before(), 0);  // the saved index holds none of the three updates
  Retriever::open(dir, e).checkpoint();
  EXPECT_EQ(expect_as_before(), 3);  // now it holds all three: nothing to replay
}

// --- SIGKILL during updates ---------------------------------------------------------------

constexpr const char* kWriterDir = "LREM_UPDATE_WRITER_DIR";

int kill_trials() {
  const char* env = std::getenv("LREM_UPDATE_KILLS");
  return env && std::atoi(env) > 0 ? std::atoi(env) : 5;
}

// Applies updates to <dir>/index until killed: each round adds two items, updates one and
// removes one, and every fifth round checkpoints, so kills land in every step.
[[noreturn]] void run_updater(const std::string& root) {
  Retriever r = Retriever::open(root + "/index", Model::load(root + "/model"));
  std::vector<int64_t> ids = r.items().ids();
  int64_t next = *std::max_element(ids.begin(), ids.end()) + 1;
  std::mt19937 rng{static_cast<unsigned>(getpid())};
  std::ofstream(root + "/ready") << "ready\n";
  for (int round = 0;; ++round) {
    r.add_items({{next, "Item " + std::to_string(next) + " Of Round " + std::to_string(round), "{}"},
                 {next + 1, "Spare Part " + std::to_string(next + 1), R"({"round":)" + std::to_string(round) + "}"}});
    ids.push_back(next);
    ids.push_back(next + 1);
    next += 2;
    std::swap(ids[rng() % ids.size()], ids.back());
    r.update_items({{ids.back(), "Updated Item " + std::to_string(ids.back()) + " " + std::to_string(round), "{}"}});
    std::swap(ids[rng() % ids.size()], ids.back());
    r.remove_items({ids.back()});
    ids.pop_back();
    if (round % 5 == 4) r.checkpoint();
  }
}

TEST(CatalogueUpdater, UpdatesUntilKilled) {
  const char* root = std::getenv(kWriterDir);
  if (!root) GTEST_SKIP() << "started by CatalogueTest.UpdatesKilledAtRandomLeaveIndexAndStoreAgreeing only";
  run_updater(root);
}

TEST_F(CatalogueTest, UpdatesKilledAtRandomLeaveIndexAndStoreAgreeing) {
  TempDir tmp;
  const std::string root = tmp.path(), dir = root + "/index";
  model_->save(root + "/model");
  const Model model = Model::load(root + "/model");
  const Embedder e(model);
  save_index(build_index(e, base_items()), base_items(), dir);
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> delay_ms(50, 600);
  int64_t last_size = -1;
  std::set<int64_t> last_ids;
  for (int trial = 0; trial < kill_trials(); ++trial) {
    fs::remove(root + "/ready");
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      // A fresh exec: forking a process that already ran libtorch/OpenMP is unsafe beyond exec.
      setenv(kWriterDir, root.c_str(), 1);
      execl("/proc/self/exe", "test_retrieval", "--gtest_filter=CatalogueUpdater.UpdatesUntilKilled", nullptr);
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!fs::exists(root + "/ready") && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      ASSERT_NE(waitpid(child, &status, WNOHANG), child) << "the updater exited early with status " << status;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    kill(child, SIGKILL);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the updater ended on its own: " << status;

    const Retriever r = Retriever::open(dir, e);
    const std::set<int64_t> ids = store_ids(r.items());
    ASSERT_EQ(index_ids(r.index()), ids) << "trial " << trial << ": the index and the store disagree";
    ASSERT_EQ(r.index().size(), int64_t(ids.size()));
    // Every item is searchable: its own title finds it, with its current title.
    for (int64_t id : {*ids.begin(), *ids.rbegin()}) {
      const std::string title = r.items().title(id);
      const SearchResponse found = r.search(title, int(ids.size()), QueryMode::Direct);
      const SearchHit* hit = find_hit(found, id);
      ASSERT_NE(hit, nullptr) << "trial " << trial << ": item " << id << " is not found";
      EXPECT_EQ(hit->title, title);
    }
    const int64_t version = nlohmann::json::parse(read_file(dir + "/meta.json")).value("catalogue_version", -1);
    std::printf("[ kill ] trial %d: %zu items, the saved index at catalogue version %lld\n", trial, ids.size(),
                static_cast<long long>(version));
    EXPECT_NE(ids, last_ids) << "trial " << trial << ": the updater changed nothing before it was killed";
    last_ids = ids;
    last_size = int64_t(ids.size());
  }
  EXPECT_GT(last_size, int64_t(kTitles.size()));  // each round adds one item net
}

}  // namespace
}  // namespace lrem
