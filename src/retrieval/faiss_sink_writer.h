// A FAISS IOWriter that passes what FAISS serialises straight to a ByteSink (the staged file
// of an index directory, hashed as it is written), so an index is saved without first being
// serialised into memory.
#pragma once

#include <faiss/impl/io.h>

#include "retrieval/index_directory.h"

namespace lrem {

class FaissSinkWriter : public faiss::IOWriter {
 public:
  explicit FaissSinkWriter(const index_directory::ByteSink& sink) : sink_(sink) {}
  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    sink_(ptr, size * nitems);
    return nitems;
  }

 private:
  const index_directory::ByteSink& sink_;
};

}  // namespace lrem
