// lrem.KeywordTeacher (a teacher LLM writing queries' keywords, see include/lrem/teacher.h)
// and lrem.parse_keywords.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>
#include <optional>

#include "bindings.h"
#include "lrem/teacher.h"
#include "util/progress.h"

namespace lrem::python {

void bind_teacher(py::module_& m) {
  py::class_<KeywordTeacher>(m, "KeywordTeacher", R"doc(A teacher LLM that writes the keywords (CoT) of each query.

``source`` is a model directory (lrem generates the answers itself) or an OpenAI-compatible
chat-completions URL (``http://host:8000/v1``: vLLM, llama.cpp's server, TGI, ``lrem serve``),
asked ``concurrency`` requests at a time, with ``max_retries`` retries and exponential backoff
on 429, 5xx and connection errors (Retry-After honoured), ``timeout`` seconds per read. The API
key, if any, is read from the environment variable named ``api_key_env``.

Each query is sent as a chat: ``system`` and ``prompt`` (with ``{query}``); the keywords are
parsed out of the answer (``parse_keywords``). With ``cache`` (a JSON Lines path), every answer
is appended as it arrives, and answers already there for the same query and teacher
(source, ``model``, prompt, sampling) are not asked again. Pass the teacher to
``curate_triplets`` as its ``teacher``.
)doc")
      .def(py::init([](const py::object& source, const std::optional<std::string>& prompt,
                       const std::optional<std::string>& system, const std::string& model,
                       const std::optional<std::filesystem::path>& cache, int max_tokens, float temperature,
                       int batch_size, int concurrency, int max_retries, double initial_backoff, double max_backoff,
                       double timeout, const std::string& api_key_env, bool show_progress) {
             TeacherOptions o;
             if (prompt) o.prompt.user = *prompt;
             if (system) o.prompt.system = *system;
             o.model = model;
             if (cache) o.cache_path = cache->string();
             o.max_tokens = max_tokens;
             o.temperature = temperature;
             o.batch_size = batch_size;
             o.concurrency = concurrency;
             o.max_retries = max_retries;
             o.initial_backoff_seconds = initial_backoff;
             o.max_backoff_seconds = max_backoff;
             o.timeout_seconds = timeout;
             o.api_key_env = api_key_env;
             if (show_progress) o.progress = progress_reporter("teacher");
             // A URL stays a string; a directory may come as a pathlib.Path.
             const std::string where = py::str(source);
             py::gil_scoped_release release;
             return KeywordTeacher(where, o);
           }),
           py::arg("source"), py::kw_only(), py::arg("prompt") = py::none(), py::arg("system") = py::none(),
           py::arg("model") = "", py::arg("cache") = py::none(), py::arg("max_tokens") = 48,
           py::arg("temperature") = 0.0f, py::arg("batch_size") = 8, py::arg("concurrency") = 4,
           py::arg("max_retries") = 6, py::arg("initial_backoff") = 0.5, py::arg("max_backoff") = 30.0,
           py::arg("timeout") = 120.0, py::arg("api_key_env") = "LREM_TEACHER_API_KEY",
           py::arg("show_progress") = false)
      .def(
          "answers",
          [](KeywordTeacher& t, const std::vector<std::string>& queries) {
            py::gil_scoped_release release;
            return t.answers(queries);
          },
          py::arg("queries"), "The teacher's answer (text) for each query, from the cache where it has one.")
      .def(
          "keywords",
          [](KeywordTeacher& t, const std::vector<std::string>& queries) {
            py::gil_scoped_release release;
            return t.keywords(queries);
          },
          py::arg("queries"), "The keywords of each query: parse_keywords of its answer.")
      .def_property_readonly("identity", &KeywordTeacher::identity,
                             "The hash of source, model name, prompt and sampling that keys the cache.")
      .def_property_readonly(
          "stats",
          [](const KeywordTeacher& t) {
            const TeacherStats& s = t.stats();
            return py::dict(py::arg("queries") = s.queries, py::arg("cached") = s.cached, py::arg("asked") = s.asked,
                            py::arg("retries") = s.retries);
          },
          "Counts so far: queries, cached (answered from the cache), asked, retries (HTTP attempts repeated).");

  m.def("default_keyword_prompt", [] {
    const KeywordPrompt p;
    return py::dict(py::arg("system") = p.system, py::arg("prompt") = p.user);
  }, "The default system message and user-message template ({query}) of KeywordTeacher.");
  m.def("parse_keywords", &parse_keywords, py::arg("answer"),
        "The keywords in a teacher's answer: <think> blocks and a 'Keywords:' label dropped, split at commas, "
        "semicolons, newlines and '|', list markers and quotes stripped, pieces over four words and repeats dropped.");
}

}  // namespace lrem::python
