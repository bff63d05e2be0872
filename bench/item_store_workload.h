// The workload of the item-store benchmarks, one for every storage (bench/item_store.cc: the
// in-memory store and lrem's SQLite item database; bench/item_store_lmdb.cc: LMDB), so their
// figures compare:
//
//   1. DIR/items_N.jsonl, N generated items (id, title, two fields, about 170 bytes a line),
//      written once and shared by every run, is imported (streamed) into the storage;
//   2. `lookups` top-k lookups of random ids (the hits of a search);
//   3. `updates` transactions, each replacing `batch` random items and logging one `dim`-float
//      vector per item for the index, durable when they return (a live update).
//
// It prints one JSON line: the timings, the storage's file size, and the resident memory after
// each phase, split into anonymous memory and mapped file pages. Run each storage as its own
// process, so that its peak RSS is its own.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bench_common.h"
#include "lrem/dataset.h"

namespace lrem::bench {

class StorageUnderTest {
 public:
  virtual ~StorageUnderTest() = default;
  virtual std::string name() const = 0;
  virtual void import(const std::string& jsonl) = 0;
  virtual std::vector<std::optional<Item>> find_many(const std::vector<int64_t>& ids) = 0;
  // Replaces `items` (all present) and logs vectors[i * dim, (i + 1) * dim) for item i, in one
  // transaction that is durable when this returns (where the storage has a disk).
  virtual void update_logged(const std::vector<Item>& items, const float* vectors, int dim) = 0;
  // Bytes of its database file at the end of the workload (0 in memory).
  virtual int64_t file_bytes() const = 0;
};

// Makes the storage to test from the parsed options; `stem` is DIR/items_N, to which a
// storage with a file appends its extension.
using StorageFactory = std::function<std::unique_ptr<StorageUnderTest>(const Args& args, const std::string& stem)>;

// Parses --items N (1,000,000) --dir DIR --k 10 --lookups 20000 --updates 5 --batch 1000
// --dim 128, plus the storage's own options `own`, and runs the workload.
int run_item_store_bench(const char* program, int argc, char** argv, const std::vector<std::string>& own,
                         const StorageFactory& make);

}  // namespace lrem::bench
