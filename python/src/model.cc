// lrem.Model: load a Hugging Face checkpoint, generate text, save; the process's compute threads.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>
#include <optional>

#include "bindings.h"
#include "compute_call.h"
#include "lrem/model.h"
#include "lrem/runtime.h"

namespace lrem::python {

namespace {

using Path = std::filesystem::path;

GenerationOptions generation_options(int max_new_tokens, float temperature, int top_k, float top_p, uint64_t seed,
                                     const std::vector<int>& stop_ids, bool stop_at_eos) {
  GenerationOptions o;
  o.max_new_tokens = max_new_tokens;
  o.temperature = temperature;
  o.top_k = top_k;
  o.top_p = top_p;
  o.seed = seed;
  o.stop_ids = stop_ids;
  o.stop_at_eos = stop_at_eos;
  return o;
}

}  // namespace

void bind_model(py::module_& m) {
  py::class_<ModelConfig>(m, "ModelConfig", "Architecture read from a Hugging Face config.json.")
      .def(py::init<>())
      .def_static("from_json", &ModelConfig::from_json, py::arg("text"), py::arg("source") = "config.json")
      .def("to_json", &ModelConfig::to_json)
      .def_readwrite("model_type", &ModelConfig::model_type)
      .def_readwrite("vocab_size", &ModelConfig::vocab_size)
      .def_readwrite("hidden_size", &ModelConfig::hidden_size)
      .def_readwrite("intermediate_size", &ModelConfig::intermediate_size)
      .def_readwrite("num_hidden_layers", &ModelConfig::num_hidden_layers)
      .def_readwrite("num_attention_heads", &ModelConfig::num_attention_heads)
      .def_readwrite("num_key_value_heads", &ModelConfig::num_key_value_heads)
      .def_readwrite("head_dim", &ModelConfig::head_dim)
      .def_readwrite("max_position_embeddings", &ModelConfig::max_position_embeddings)
      .def_readwrite("rms_norm_eps", &ModelConfig::rms_norm_eps)
      .def_readwrite("rope_theta", &ModelConfig::rope_theta)
      .def_readwrite("attention_bias", &ModelConfig::attention_bias)
      .def_readwrite("tie_word_embeddings", &ModelConfig::tie_word_embeddings)
      .def_property_readonly("num_parameters", &ModelConfig::num_parameters)
      .def("__repr__", [](const ModelConfig& c) {
        return "ModelConfig(" + c.model_type + ", hidden_size=" + std::to_string(c.hidden_size) +
               ", layers=" + std::to_string(c.num_hidden_layers) + ", vocab_size=" + std::to_string(c.vocab_size) + ")";
      });

  py::class_<Generation>(m, "Generation", "One generated continuation.")
      .def_readonly("prompt_ids", &Generation::prompt_ids)
      .def_readonly("token_ids", &Generation::token_ids)
      .def_readonly("text", &Generation::text)
      .def_readonly("finish_reason", &Generation::finish_reason)
      .def("__str__", [](const Generation& g) { return g.text; })
      .def("__repr__", [](const Generation& g) { return "Generation(text=" + py::repr(py::str(g.text)).cast<std::string>() + ")"; });

  m.def("set_num_threads", &set_num_threads, py::arg("n") = 0,
        "Set the process's compute thread count (every model shares one thread pool); n <= 0 means "
        "all cores. Returns the count in effect.");
  m.def("prompt_presets", &PromptConfig::preset_names,
        "The names of the prompt presets (Model.load(prompt_preset=...), Model.with_prompt_config(preset=...)).");
  m.def("num_threads", &num_threads,
        "The compute thread count in effect: set_num_threads's, or 1 while several Python threads are "
        "inside compute calls at once (their pools would otherwise fight over the cores).");

  py::class_<Model>(m, "Model", R"doc(A loaded decoder-only LLM (Llama family) with its tokenizer.

Load a Hugging Face directory (config.json, model.safetensors, tokenizer.model)::

    m = lrem.Model.load("path/to/model")
    print(m.generate("Once upon a time", max_new_tokens=50).text)
)doc")
      .def_static(
          "load",
          [](const Path& path, const std::string& device, const std::string& dtype,
             const std::optional<std::string>& prompt_preset) {
            py::gil_scoped_release release;
            return Model::load(path.string(), LoadOptions{device, dtype, prompt_preset.value_or("")});
          },
          py::arg("path"), py::kw_only(), py::arg("device") = "cpu", py::arg("dtype") = "float32",
          py::arg("prompt_preset") = py::none(),
          "Load a Hugging Face model directory. dtype: 'float32' or 'bfloat16' (matrix products and the KV "
          "cache in bfloat16; norms, softmax and embeddings stay float32; several times faster on CPUs with "
          "AVX512-BF16 or AMX), 'float16' (CUDA only) or 'int8' (CPU inference: the layers' projections on int8 "
          "weights with activations quantised per call, as torch.ao.quantization.quantize_dynamic; faster item "
          "encoding, slower decoding). prompt_preset: one of lrem.prompt_presets() "
          "('plain', 'qwen-chat', 'llama3-chat', 'qwen3-embedding') instead of the directory's "
          "lrem_config.json. The compute thread count is process-wide: lrem.set_num_threads.")
      .def(
          "save",
          [](const Model& self, const std::filesystem::path& path) {
            py::gil_scoped_release release;
            self.save(path.string());
          },
          py::arg("path"), "Write the model as a Hugging Face directory (each file atomically).")
      .def(
          "generate",
          [](const Model& self, const std::string& prompt, int max_new_tokens, float temperature, int top_k,
             float top_p, uint64_t seed, const std::vector<int>& stop_ids, bool stop_at_eos) {
            auto o = generation_options(max_new_tokens, temperature, top_k, top_p, seed, stop_ids, stop_at_eos);
            ComputeCall call;
            return self.generate(prompt, o);
          },
          py::arg("prompt"), py::kw_only(), py::arg("max_new_tokens") = 64, py::arg("temperature") = 0.0f,
          py::arg("top_k") = 0, py::arg("top_p") = 1.0f, py::arg("seed") = 0, py::arg("stop_ids") = std::vector<int>{}, py::arg("stop_at_eos") = true,
          "Continue `prompt`; returns a Generation (text, token ids, finish_reason) like generate_batch. "
          "temperature=0 is greedy.")
      .def(
          "generate_batch",
          [](const Model& self, const std::vector<std::string>& prompts, int max_new_tokens, float temperature,
             int top_k, float top_p, uint64_t seed, const std::vector<int>& stop_ids, bool stop_at_eos) {
            auto o = generation_options(max_new_tokens, temperature, top_k, top_p, seed, stop_ids, stop_at_eos);
            ComputeCall call;
            return self.generate(prompts, o);
          },
          py::arg("prompts"), py::kw_only(), py::arg("max_new_tokens") = 64, py::arg("temperature") = 0.0f,
          py::arg("top_k") = 0, py::arg("top_p") = 1.0f, py::arg("seed") = 0, py::arg("stop_ids") = std::vector<int>{}, py::arg("stop_at_eos") = true,
          "Continue several prompts together; returns a list of Generation (ids, text, finish_reason).")
      .def(
          "with_lrem_tokens",
          [](const Model& self) {
            py::gil_scoped_release release;
            return self.with_lrem_tokens();
          },
          "A new model with <think>, </think>, <emb> added as special tokens (growing the embedding) if "
          "missing. This model, and embedders made from it, are unchanged.")
      .def(
          "with_prompt_config",
          [](const Model& self, const std::optional<std::string>& preset, const std::optional<std::string>& query_template,
             const std::optional<std::string>& item_template, const std::optional<std::string>& task,
             const std::optional<int>& max_cot_tokens, const std::optional<int>& max_query_tokens,
             const std::optional<int>& max_item_tokens) {
            PromptConfig config = preset ? PromptConfig::preset(*preset) : self.prompt_config();
            if (query_template) config.query_template = *query_template;
            if (task) config.task = *task;
            if (item_template) config.item_template = *item_template;
            if (max_cot_tokens) config.max_cot_tokens = *max_cot_tokens;
            if (max_query_tokens) config.max_query_tokens = *max_query_tokens;
            if (max_item_tokens) config.max_item_tokens = *max_item_tokens;
            return self.with_prompt_config(config);
          },
          py::kw_only(), py::arg("preset") = py::none(), py::arg("query_template") = py::none(),
          py::arg("item_template") = py::none(), py::arg("task") = py::none(), py::arg("max_cot_tokens") = py::none(),
          py::arg("max_query_tokens") = py::none(), py::arg("max_item_tokens") = py::none(),
          "A new model whose prompt format differs in the given fields (templates hold {query} or {title}; "
          "task replaces {task}); with preset (one of lrem.prompt_presets()), the fields change that preset "
          "instead of the current format. The weights are shared. This model, and embedders made from it, "
          "are unchanged.")
      .def_property_readonly(
          "prompt_config",
          [](const Model& self) { return py::module_::import("json").attr("loads")(self.prompt_config().to_json()); },
          "The prompt format (lrem_config.json's fields: templates, special tokens, caps) as a dict.")
      .def_property_readonly("config", &Model::config)
      .def_property_readonly("tokenizer", &Model::tokenizer)
      .def_property_readonly("fingerprint", &Model::fingerprint)
      .def("__repr__", [](const Model& self) {
        return "Model(" + self.config().model_type + ", " + std::to_string(self.config().num_parameters()) +
               " parameters, vocab " + std::to_string(self.tokenizer().vocab_size()) + ")";
      });
}

}  // namespace lrem::python
