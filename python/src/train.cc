// lrem._lrem.train_pretrain / train_sft / train_grpo: the training stages, each taking its
// options as a JSON object (python/lrem/train.py builds it from keyword arguments) so Python
// and the CLI share one parser and one set of error messages.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include "bindings.h"
#include "lrem/train.h"

namespace lrem::python {

namespace {

py::dict to_dict(const TrainResult& r) {
  py::dict d;
  d["steps"] = r.steps;
  d["wall_seconds"] = r.wall_seconds;
  d["final_metrics"] = r.final_metrics;
  d["output_dir"] = r.output_dir;
  return d;
}

template <typename Config, TrainResult (*Run)(const Config&)>
py::dict run_stage(const std::string& options_json, py::object progress) {
  Config config = Config::from_json(options_json, "training options");
  if (!progress.is_none()) {
    // Called from the training loop with the GIL released: take it for the callback only.
    config.on_progress = [progress](const TrainProgress& p) {
      py::gil_scoped_acquire gil;
      py::dict d;
      d["stage"] = p.stage;
      d["step"] = p.step;
      d["total_steps"] = p.total_steps;
      d["steps_per_second"] = p.steps_per_second;
      d["eta_seconds"] = p.eta_seconds;
      d["metrics"] = p.metrics;
      progress(d);
    };
  }
  TrainResult result;
  {
    py::gil_scoped_release release;
    result = Run(config);
  }
  // The callback holds a Python object: drop it while we still hold the GIL.
  config.on_progress = nullptr;
  return to_dict(result);
}

}  // namespace

void bind_train(py::module_& m) {
  const char* doc =
      "Runs a training stage. options_json: a JSON object of the stage's options (see "
      "docs/TRAINING.md); progress: optional callable receiving a dict per logged step. "
      "Returns {'steps', 'wall_seconds', 'final_metrics', 'output_dir'}.";
  m.def("train_pretrain", &run_stage<PretrainConfig, &pretrain>, py::arg("options_json"), py::arg("progress") = py::none(), doc);
  m.def("train_sft", &run_stage<SftConfig, &sft>, py::arg("options_json"), py::arg("progress") = py::none(), doc);
  m.def("train_grpo", &run_stage<GrpoConfig, &grpo>, py::arg("options_json"), py::arg("progress") = py::none(), doc);
  m.def(
      "merge_adapter",
      [](const std::string& adapter, const std::string& out, const std::string& base) {
        py::gil_scoped_release release;
        merge_adapter(adapter, out, base);
      },
      py::arg("adapter"), py::arg("out"), py::arg("base") = "",
      "Merges a LoRA adapter directory into its base model (base, else the adapter's "
      "base_model_name_or_path) and writes a plain Hugging Face directory to out.");
}

}  // namespace lrem::python
