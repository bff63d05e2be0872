// The item store's two storages behind one interface: a database imported from items.jsonl
// holds exactly what the in-memory store read from it, edits persist, and a lookup of k ids
// reads k rows, not the catalogue (resident memory stays far below the database's size).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "eval/item_database.h"
#include "lrem/dataset.h"
#include "lrem/error.h"
#include "test_support.h"
#include "util/file_io.h"

namespace lrem {
namespace {

using testing::TempDir;

// Resident set size in MiB, from /proc/self/statm.
double rss_mib() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return double(resident) * double(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

void expect_same_items(const ItemStore& got, const ItemStore& want) {
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(got.ids(), want.ids());
  EXPECT_EQ(got.titles(), want.titles());
  const std::vector<Item> a = got.items(), b = want.items();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].extra_json, b[i].extra_json) << "item " << a[i].id;
}

TEST(ItemStore, ImportedDatabaseEqualsTheInMemoryStore) {
  TempDir tmp;
  const std::string jsonl = tmp.file("items.jsonl");
  {
    std::ofstream out(jsonl);
    // Ids out of order, fields in the items' own order (not alphabetical), nested values,
    // non-ASCII titles, blank lines.
    out << R"({"id": 90, "title": "red running shoes", "stock": 3, "brand": "acme"})" << "\n\n"
        << R"({"title": "椅子", "id": 7})" << "\n"
        << R"({"id": 12, "title": "oak table", "dims": {"w": 120, "h": 75}, "tags": ["wood", "dining"]})" << "\n";
    for (int i = 0; i < 500; ++i) out << R"({"id": )" << 1000 + i << R"(, "title": "item )" << i << R"(", "n": )" << i << "}\n";
  }
  const ItemStore memory = ItemStore::load(jsonl);
  const ItemStore database = ItemStore::import_jsonl(jsonl, tmp.file("items.sqlite"));
  EXPECT_TRUE(database.is_database());
  EXPECT_FALSE(memory.is_database());
  expect_same_items(database, memory);
  EXPECT_EQ(database.at(90).extra_json, R"({"stock":3,"brand":"acme"})");
  EXPECT_EQ(database.title(7), "椅子");
  // Saving streams the same JSON Lines as the in-memory store writes.
  database.save(tmp.file("a.jsonl"));
  memory.save(tmp.file("b.jsonl"));
  EXPECT_EQ(read_file(tmp.file("a.jsonl")), read_file(tmp.file("b.jsonl")));
  // Reopened from the file: the same catalogue.
  expect_same_items(ItemStore::open(tmp.file("items.sqlite")), memory);
}

TEST(ItemStore, ImportErrorsNameTheLineAndLeaveNoDatabase) {
  TempDir tmp;
  write_file_atomic(tmp.file("dup.jsonl"), "{\"id\": 1, \"title\": \"a\"}\n{\"id\": 2, \"title\": \"b\"}\n{\"id\": 1, \"title\": \"c\"}\n");
  try {
    ItemStore::import_jsonl(tmp.file("dup.jsonl"), tmp.file("dup.sqlite"));
    ADD_FAILURE() << "a duplicate id was imported";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("duplicate item id 1"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(tmp.file("dup.sqlite")));
  write_file_atomic(tmp.file("bad.jsonl"), "{\"id\": 1, \"title\": \"a\"}\n{\"id\": 2}\n");
  EXPECT_THROW(ItemStore::import_jsonl(tmp.file("bad.jsonl"), tmp.file("bad.sqlite")), FormatError);
  EXPECT_THROW(ItemStore::open(tmp.file("missing.sqlite")), IoError);
  write_file_atomic(tmp.file("not.sqlite"), "not a database at all, just some text that is long enough");
  EXPECT_THROW(ItemStore::open(tmp.file("not.sqlite")), Error);
}

TEST(ItemStore, EditsWorkAlikeInBothStoragesAndPersist) {
  TempDir tmp;
  write_file_atomic(tmp.file("items.jsonl"), "{\"id\": 5, \"title\": \"lamp\"}\n{\"id\": 2, \"title\": \"stool\"}\n");
  ItemStore stores[2] = {ItemStore::load(tmp.file("items.jsonl")),
                         ItemStore::import_jsonl(tmp.file("items.jsonl"), tmp.file("items.sqlite"))};
  for (ItemStore& store : stores) {
    store.add({9, "chair", R"({"legs":4})"});
    store.update({5, "desk lamp", "{}"});
    EXPECT_TRUE(store.remove(2));
    EXPECT_FALSE(store.remove(2));
    EXPECT_THROW(store.add({9, "again", "{}"}), InvalidArgument);
    EXPECT_THROW(store.update({77, "absent", "{}"}), InvalidArgument);
    EXPECT_THROW(store.add({10, "", "{}"}), InvalidArgument);
    EXPECT_THROW(store.add({10, "t", R"({"id":1})"}), InvalidArgument);
    EXPECT_EQ(store.ids(), (std::vector<int64_t>{5, 9}));  // an update keeps the position
    EXPECT_EQ(store.title(5), "desk lamp");
    EXPECT_EQ(store.at(9).extra_json, R"({"legs":4})");
    const std::vector<std::optional<Item>> found = store.find_many({9, 2, 5});
    ASSERT_EQ(found.size(), 3u);
    EXPECT_TRUE(found[0] && !found[1] && found[2]);
    // A copy is a handle to the same items.
    ItemStore copy = store;
    copy.add({11, "rug", "{}"});
    EXPECT_TRUE(store.contains(11));
  }
  expect_same_items(ItemStore::open(tmp.file("items.sqlite")), stores[0]);
}

// A catalogue many times the database's page cache: opening it and looking up top-k ids
// reads those rows only, so resident memory grows by far less than the file's size (an
// in-memory store would hold all of it).
TEST(ItemStore, LookupsReadOnlyTheRowsAskedFor) {
  TempDir tmp;
  const std::string path = tmp.file("large.sqlite");
  const int64_t n = 300000;
  const std::string padding(400, 'x');
  ItemDatabase::write(path, "generated", /*indexed=*/false, [&](const ItemDatabase::ItemSink& sink) {
    for (int64_t i = 0; i < n; ++i)
      sink({i * 3, "generated catalogue item number " + std::to_string(i), "{\"text\":\"" + padding + "\"}"}, 0);
  });
  const double file_mib = double(std::filesystem::file_size(path)) / (1024.0 * 1024.0);
  ASSERT_GT(file_mib, 100.0);
  const double before = rss_mib();
  const ItemStore store = ItemStore::open(path);
  EXPECT_EQ(store.size(), size_t(n));
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int64_t> pick(0, n - 1);
  for (int round = 0; round < 2000; ++round) {
    std::vector<int64_t> ids(10);
    for (int64_t& id : ids) id = pick(rng) * 3;
    ids.back() = 1;  // absent
    const std::vector<std::optional<Item>> found = store.find_many(ids);
    for (size_t j = 0; j + 1 < ids.size(); ++j) ASSERT_TRUE(found[j] && found[j]->id == ids[j]);
    ASSERT_FALSE(found.back());
  }
  const double growth = rss_mib() - before;
  std::printf("[ store ] %lld items, database %.0f MiB; RSS grew %.1f MiB over 2,000 top-10 lookups\n",
              static_cast<long long>(n), file_mib, growth);
  // The page cache is bounded at ItemDatabase::kCacheKib (16 MiB), plus SQLite's own state.
  if (testing::kRssIsMeaningful) EXPECT_LT(growth, ItemDatabase::kCacheKib / 1024.0 + 16.0);
}

}  // namespace
}  // namespace lrem
