// How lrem's own components (embedder, training, benchmarks, tests) reach the parts of a
// Model that the public API keeps out of view: the transformer and the prompt format.
#pragma once

#include "model/model_impl.h"

namespace lrem {

struct ModelAccess {
  static const Model::Impl& parts(const Model& model) { return *model.impl_; }
  // Training updates the weights in place, on a model it loaded itself and holds alone
  // (train::load_lrem_model): every copy of a Model shares them.
  static Model::Impl& trainable_parts(Model& model) { return *model.impl_; }
};

}  // namespace lrem
