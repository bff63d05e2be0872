#include "model/int8_linear.h"

#include <ATen/Context.h>
#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <limits>

#include "lrem/error.h"

namespace lrem {

namespace {

// The engine PyTorch itself picks on x86: FBGEMM where built (pip wheels), else oneDNN
// (Debian's libtorch). Both use VNNI where the CPU has it.
at::QEngine x86_engine() {
  const auto& engines = at::globalContext().supportedQEngines();
  for (const at::QEngine engine : {at::QEngine::FBGEMM, at::QEngine::ONEDNN})
    if (std::find(engines.begin(), engines.end(), engine) != engines.end()) return engine;
  throw InvalidArgument(
      "dtype int8 needs libtorch built with a quantised engine for this CPU (FBGEMM or oneDNN); this one has "
      "neither: load the model in float32 or bfloat16");
}

// Prepacking dispatches on the process-wide engine setting: use the x86 engine for this call
// and leave the setting as the application had it.
class EngineScope {
 public:
  explicit EngineScope(at::QEngine engine) : previous_(at::globalContext().qEngine()) {
    if (engine != previous_) at::globalContext().setQEngine(engine);
  }
  ~EngineScope() {
    if (at::globalContext().qEngine() != previous_) at::globalContext().setQEngine(previous_);
  }
  EngineScope(const EngineScope&) = delete;
  EngineScope& operator=(const EngineScope&) = delete;

 private:
  at::QEngine previous_;
};

using Packed = c10::intrusive_ptr<LinearPackedParamsBase>;

}  // namespace

at::Tensor quantize_weight_int8(const at::Tensor& weight) {
  const at::Tensor w = weight.detach().to(at::kFloat);
  const double bound = std::max(-std::min(w.min().item<double>(), 0.0), std::max(w.max().item<double>(), 0.0));
  // In float32, as the observer computes it, so the scale is bit for bit PyTorch's.
  const float scale = std::max(float(bound) / 127.5f, std::numeric_limits<float>::epsilon());
  return at::quantize_per_tensor(w.contiguous(), scale, 0, at::kQInt8);
}

Int8Linear::Int8Linear(const at::Tensor& weight, const at::Tensor& bias) {
  const EngineScope scope(x86_engine());
  static const auto prepack = c10::Dispatcher::singleton()
                                  .findSchemaOrThrow("quantized::linear_prepack", "")
                                  .typed<Packed(at::Tensor, c10::optional<at::Tensor>)>();
  const c10::optional<at::Tensor> b =
      bias.defined() ? c10::optional<at::Tensor>(bias.detach().to(at::kFloat).contiguous()) : c10::nullopt;
  packed_ = prepack.call(quantize_weight_int8(weight), b);
}

at::Tensor Int8Linear::operator()(const at::Tensor& x) const {
  static const auto linear = c10::Dispatcher::singleton()
                                 .findSchemaOrThrow("quantized::linear_dynamic", "")
                                 .typed<at::Tensor(at::Tensor, const Packed&, bool)>();
  return linear.call(x.to(at::kFloat).contiguous(), packed_, /*reduce_range=*/true);
}

}  // namespace lrem
