// The `Sequence` type shared by three stages of a tokenizer.json (normalizer,
// pre_tokenizer, decoder): its steps, each read by the stage's own from_json, applied in
// order. A Stage has `static std::unique_ptr<const Stage> from_json(const JsonValue&)`
// (null for JSON null) and `virtual void apply(Value&) const`.
#pragma once

#include <memory>
#include <vector>

#include "util/json_reader.h"

namespace lrem {

template <class Stage, class Value>
std::unique_ptr<const Stage> sequence_from_json(const JsonValue& steps) {
  class Sequence final : public Stage {
   public:
    explicit Sequence(std::vector<std::unique_ptr<const Stage>> steps) : steps_(std::move(steps)) {}
    void apply(Value& value) const override {
      for (const auto& step : steps_) step->apply(value);
    }

   private:
    std::vector<std::unique_ptr<const Stage>> steps_;
  };
  std::vector<std::unique_ptr<const Stage>> list;
  for (const JsonValue& step : steps.elements())
    if (auto stage = Stage::from_json(step)) list.push_back(std::move(stage));
  return std::make_unique<Sequence>(std::move(list));
}

}  // namespace lrem
