#include "lrem/dataset.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "util/file_io.h"
#include "lrem/error.h"
#include "test_support.h"
#include "util/utf8.h"

namespace lrem {
namespace {

using testing::TempDir;

std::string write(const TempDir& tmp, const std::string& contents, const std::string& name = "data.jsonl") {
  write_file_atomic(tmp.file(name), contents);
  return tmp.file(name);
}

template <typename E = FormatError>
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "expected an error mentioning " << fragments.front();
  } catch (const E& e) {
    for (const auto& f : fragments) EXPECT_NE(std::string(e.what()).find(f), std::string::npos) << e.what();
  }
}

TEST(Dataset, ReadsItemsKeepingExtraFields) {
  TempDir tmp;
  auto path = write(tmp,
                    "{\"id\": 3, \"title\": \"red shoes\", \"price\": 9.5, \"tags\": [\"a\"]}\n"
                    "\n"
                    "   \r\n"
                    "{\"title\": \"caf\xc3\xa9 table\", \"id\": 1}\r\n");
  auto items = read_items(path);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].id, 3);
  EXPECT_EQ(items[0].title, "red shoes");
  EXPECT_EQ(nlohmann::json::parse(items[0].extra_json), nlohmann::json::parse(R"({"price": 9.5, "tags": ["a"]})"));
  EXPECT_EQ(items[1].id, 1);
  EXPECT_EQ(items[1].title, "caf\xc3\xa9 table");
  EXPECT_EQ(items[1].extra_json, "{}");
}

TEST(Dataset, ItemErrorsNameFileAndLine) {
  TempDir tmp;
  const std::string ok = "{\"id\": 1, \"title\": \"a\"}\n\n";  // line 3 is the bad one
  expect_error([&] { read_items(write(tmp, ok + "{\"id\": 2, \"title\": }\n")); }, {"data.jsonl", "line 3", "JSON"});
  expect_error([&] { read_items(write(tmp, ok + "{\"title\": \"b\"}\n")); }, {"line 3", "'id'"});
  expect_error([&] { read_items(write(tmp, ok + "{\"id\": 2}\n")); }, {"line 3", "'title'"});
  expect_error([&] { read_items(write(tmp, ok + "{\"id\": \"2\", \"title\": \"b\"}\n")); }, {"line 3", "integer"});
  expect_error([&] { read_items(write(tmp, ok + "{\"id\": 2.5, \"title\": \"b\"}\n")); }, {"line 3", "integer"});
  expect_error([&] { read_items(write(tmp, ok + "{\"id\": 2, \"title\": 7}\n")); }, {"line 3", "string"});
  expect_error([&] { read_items(write(tmp, ok + "{\"id\": 1, \"title\": \"b\"}\n")); }, {"line 3", "duplicate", "line 1"});
  expect_error([&] { read_items(write(tmp, ok + "{\"id\": 2, \"title\": \"  \"}\n")); }, {"line 3", "empty title"});
  expect_error([&] { read_items(write(tmp, ok + "{\"id\": -2, \"title\": \"b\"}\n")); }, {"line 3", "negative"});
  expect_error([&] { read_items(write(tmp, ok + "[1, 2]\n")); }, {"line 3", "object"});
  expect_error([&] { read_items(write(tmp, ok + "{\"id\": 2, \"title\": \"b\xff\"}\n")); }, {"line 3", "UTF-8"});
  expect_error<IoError>([&] { read_items(tmp.file("absent.jsonl")); }, {"absent.jsonl"});
}

TEST(Dataset, LongLinesAreRefused) {
  TempDir tmp;
  const std::string long_title(200, 'x');
  auto path = write(tmp, "{\"id\": 1, \"title\": \"a\"}\n{\"id\": 2, \"title\": \"" + long_title + "\"}\n");
  expect_error<LimitExceeded>([&] { read_items(path, 100); }, {"line 2", "100"});
  EXPECT_EQ(read_items(path, 300).size(), 2u);
}

TEST(Dataset, QueriesAcceptStringOrIntegerIds) {
  TempDir tmp;
  auto path = write(tmp,
                    "{\"id\": \"q1\", \"text\": \"running shoes\", \"category\": \"sports\"}\n"
                    "{\"id\": 17, \"text\": \"oak desk\"}\n");
  auto queries = read_queries(path);
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_EQ(queries[0].id, "q1");
  EXPECT_EQ(queries[0].category, "sports");
  EXPECT_EQ(queries[1].id, "17");
  EXPECT_EQ(queries[1].text, "oak desk");
  EXPECT_EQ(queries[1].category, "");
  expect_error([&] { read_queries(write(tmp, "{\"id\": 1.5, \"text\": \"x\"}\n")); }, {"line 1", "/id"});
  expect_error([&] { read_queries(write(tmp, "{\"id\": 1, \"text\": \"x\"}\n{\"id\": \"1\", \"text\": \"y\"}\n")); },
               {"line 2", "duplicate"});
  expect_error([&] { read_queries(write(tmp, "{\"id\": 1, \"text\": \"x\", \"category\": 3}\n")); },
               {"line 1", "/category"});
}

TEST(Dataset, Qrels) {
  TempDir tmp;
  auto path = write(tmp,
                    "{\"query_id\": \"q1\", \"item_id\": 3, \"relevance\": 2}\n"
                    "{\"query_id\": 17, \"item_id\": 4}\n");
  auto qrels = read_qrels(path);
  ASSERT_EQ(qrels.size(), 2u);
  EXPECT_EQ(qrels[0].query_id, "q1");
  EXPECT_EQ(qrels[0].item_id, 3);
  EXPECT_EQ(qrels[0].relevance, 2);
  EXPECT_EQ(qrels[1].query_id, "17");
  EXPECT_EQ(qrels[1].relevance, 1);
  expect_error([&] { read_qrels(write(tmp, "{\"query_id\": \"q\", \"item_id\": 1}\n{\"query_id\": \"q\", \"item_id\": 1}\n")); },
               {"line 2", "duplicate"});
  expect_error([&] { read_qrels(write(tmp, "{\"query_id\": \"q\", \"item_id\": 1, \"relevance\": \"high\"}\n")); },
               {"line 1", "/relevance"});
}

TEST(Dataset, ItemStoreRoundTrip) {
  TempDir tmp;
  ItemStore store({{5, "blue lamp", R"({"brand":"x","stock":3})"}, {2, "stool", "{}"}});
  store.add({9, "\xe6\xa4\x85\xe5\xad\x90", "{}"});
  EXPECT_EQ(store.size(), 3u);
  EXPECT_TRUE(store.contains(5));
  EXPECT_EQ(store.title(2), "stool");
  EXPECT_FALSE(store.find(77).has_value());
  EXPECT_THROW(store.at(77), InvalidArgument);
  EXPECT_THROW(store.add({5, "again", "{}"}), InvalidArgument);
  EXPECT_THROW(store.add({6, "", "{}"}), InvalidArgument);
  EXPECT_THROW(store.add({6, "t", "[1]"}), InvalidArgument);
  EXPECT_THROW(store.add({6, "t", R"({"title":"x"})"}), InvalidArgument);
  EXPECT_THROW(store.add({6, "bad \xc0\xaf", "{}"}), InvalidArgument);
  EXPECT_EQ(store.size(), 3u);

  store.save(tmp.file("items.jsonl"));
  auto loaded = ItemStore::load(tmp.file("items.jsonl"));
  EXPECT_EQ(loaded.ids(), (std::vector<int64_t>{5, 2, 9}));
  EXPECT_EQ(loaded.titles(), store.titles());
  EXPECT_EQ(loaded.at(5).extra_json, R"({"brand":"x","stock":3})");  // field order kept
  // The file itself: id and title first.
  EXPECT_EQ(read_file(tmp.file("items.jsonl")).substr(0, 47), R"({"id":5,"title":"blue lamp","brand":"x","stock")");
  // A catalogue's own field order survives loading and saving, alphabetical or not.
  write_file_atomic(tmp.file("mixed.jsonl"), R"({"title": "red cup", "stock": 1, "id": 3, "brand": "y"})" "\n");
  const ItemStore mixed = ItemStore::load(tmp.file("mixed.jsonl"));
  EXPECT_EQ(mixed.at(3).extra_json, R"({"stock":1,"brand":"y"})");
  mixed.save(tmp.file("mixed2.jsonl"));
  EXPECT_EQ(read_file(tmp.file("mixed2.jsonl")), R"({"id":3,"title":"red cup","stock":1,"brand":"y"})" "\n");
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));  // é € 😀
  EXPECT_EQ(find_invalid_utf8("ab\xc3"), 2u);                           // truncated
  EXPECT_EQ(find_invalid_utf8("\xc0\xaf"), 0u);                         // overlong '/'
  EXPECT_EQ(find_invalid_utf8("a\xed\xa0\x80"), 1u);                    // surrogate
  EXPECT_EQ(find_invalid_utf8("\xf4\x90\x80\x80"), 0u);                 // above U+10FFFF
  EXPECT_EQ(find_invalid_utf8("\xe2\x82"), 0u);
  EXPECT_EQ(find_invalid_utf8("ok\x80"), 2u);                           // lone continuation
}

}  // namespace
}  // namespace lrem
