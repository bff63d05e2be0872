// lrem.Tokenizer: a SentencePiece or tokenizer.json (byte-level BPE) tokenizer with Hugging
// Face added tokens.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>
#include <optional>
#include <sstream>

#include "bindings.h"
#include "lrem/error.h"
#include "lrem/tokenizer.h"

namespace lrem::python {

namespace {

using Path = std::filesystem::path;

std::string repr(const Tokenizer& tok) {
  std::ostringstream out;
  out << "Tokenizer(vocab_size=" << tok.vocab_size() << ", sentencepiece_size=" << tok.sentencepiece_size()
      << ", added_tokens=[";
  const auto& added = tok.added_tokens();
  for (size_t i = 0; i < added.size(); ++i) out << (i ? ", " : "") << "'" << added[i].content << "'";
  out << "])";
  return out.str();
}

}  // namespace

void bind_tokenizer(py::module_& m) {
  py::class_<Tokenizer>(m, "Tokenizer", R"doc(
A Hugging Face tokenizer: SentencePiece (``tokenizer.model``, as LlamaTokenizer) or a fast
``tokenizer.json`` with a byte-level BPE model (GPT-2, Llama 3, Qwen2), whose ids match
Hugging Face ``tokenizers``.

Added tokens (``<think>``, ``</think>``, ``<emb>``...) take the ids after the base
vocabulary and are never split: ``encode`` cuts the text at them first. Instances are cheap to
copy and safe to use from several threads.
)doc")
      .def_static(
          "load",
          [](const Path& path, const std::optional<Path>& tokenizer_config) {
            return Tokenizer::load(path.string(), tokenizer_config ? tokenizer_config->string() : std::string());
          },
          py::arg("path"), py::arg("tokenizer_config") = py::none(),
          R"doc(Loads a ``tokenizer.json``, or a ``tokenizer.model`` and, if given, a ``tokenizer_config.json``.

Raises IoError if a file cannot be read and FormatError if one is malformed or (tokenizer.json)
uses a part lrem does not implement; the message names the field.)doc")
      .def_static(
          "from_directory", [](const Path& dir) { return Tokenizer::from_directory(dir.string()); }, py::arg("dir"),
          "Loads a model directory's ``tokenizer.json`` if present, else ``tokenizer.model`` and the optional\n"
          "``tokenizer_config.json``.")
      .def_static(
          "train",
          [](const Path& corpus, const Path& output_prefix, int vocab_size, const std::string& model_type,
             double character_coverage, bool byte_fallback, int num_threads, int64_t input_sentence_size,
             uint32_t seed) {
            TokenizerTrainOptions options;
            options.vocab_size = vocab_size;
            options.model_type = model_type;
            options.character_coverage = character_coverage;
            options.byte_fallback = byte_fallback;
            options.num_threads = num_threads;
            options.input_sentence_size = input_sentence_size;
            options.seed = seed;
            py::gil_scoped_release release;
            return Tokenizer::train(corpus.string(), output_prefix.string(), options);
          },
          py::arg("corpus"), py::arg("output_prefix"), py::kw_only(), py::arg("vocab_size") = 4000,
          py::arg("model_type") = "bpe", py::arg("character_coverage") = 1.0, py::arg("byte_fallback") = true,
          py::arg("num_threads") = 0, py::arg("input_sentence_size") = 0, py::arg("seed") = 0,
          R"doc(Trains a SentencePiece model on a text file (one sentence per line).

Writes ``<output_prefix>.model`` and ``<output_prefix>.vocab`` and returns the tokenizer.
Llama's conventions: unk 0, BOS 1, EOS 2, no PAD, text kept as written (lossless).
``model_type`` is "bpe" or "unigram"; ``num_threads=0`` uses every core;
``input_sentence_size=0`` uses every line, otherwise a sample drawn with ``seed``.)doc")
      .def(
          "encode",
          [](const Tokenizer& tok, const std::string& text, bool add_special_tokens, bool add_bos, bool add_eos) {
            if (add_special_tokens && (add_bos || add_eos))
              throw InvalidArgument("pass either add_special_tokens or add_bos/add_eos, not both");
            py::gil_scoped_release release;
            return add_special_tokens ? tok.encode_with_special_tokens(text) : tok.encode(text, add_bos, add_eos);
          },
          py::arg("text"), py::kw_only(), py::arg("add_special_tokens") = false, py::arg("add_bos") = false,
          py::arg("add_eos") = false,
          R"doc(Encodes text into token ids; added tokens in the text become their single ids.

``add_special_tokens=True`` adds what the tokenizer itself asks for, as Hugging Face does: the
post-processor template of a ``tokenizer.json`` (Llama 3 puts ``<|begin_of_text|>`` first), or
BOS/EOS per ``add_bos_token``/``add_eos_token``. ``add_bos``/``add_eos`` add those explicitly.
Raises InvalidArgument if both are combined, or if BOS/EOS is asked of a tokenizer without one.)doc")
      .def(
          "encode_batch",
          [](const Tokenizer& tok, const std::vector<std::string>& texts, bool add_bos, bool add_eos) {
            py::gil_scoped_release release;
            return tok.encode_batch(texts, add_bos, add_eos);
          },
          py::arg("texts"), py::kw_only(), py::arg("add_bos") = false, py::arg("add_eos") = false,
          "Encodes a list of texts (without holding the GIL); returns a list of id lists.")
      .def(
          "decode",
          [](const Tokenizer& tok, const std::vector<int>& ids, bool skip_special_tokens) {
            return tok.decode(ids, skip_special_tokens);
          },
          py::arg("ids"), py::kw_only(), py::arg("skip_special_tokens") = false,
          R"doc(Decodes token ids into text.

Control and added tokens appear as their text unless ``skip_special_tokens`` is true.
Raises InvalidArgument for ids outside ``range(vocab_size)``.)doc")
      .def("add_special_token", &Tokenizer::add_special_token, py::arg("content"),
           "Registers ``content`` as a special token if new; returns its id.")
      .def(
          "save", [](const Tokenizer& tok, const Path& dir) { tok.save(dir.string()); }, py::arg("dir"),
          "Writes ``tokenizer.model`` and ``tokenizer_config.json`` into ``dir`` (created if missing), or\n"
          "``tokenizer.json`` for a tokenizer loaded from one.")
      .def("piece_to_id", &Tokenizer::piece_to_id, py::arg("piece"), "The id of a piece or added token; -1 if none.")
      .def("id_to_piece", &Tokenizer::id_to_piece, py::arg("id"),
           "The piece or added token of an id; InvalidArgument if out of range.")
      .def("is_special", &Tokenizer::is_special, py::arg("id"), "True for control tokens and added special tokens.")
      .def_property_readonly("vocab_size", &Tokenizer::vocab_size, "1 + the largest id: base vocabulary plus added tokens.")
      .def_property_readonly("sentencepiece_size", &Tokenizer::sentencepiece_size, "The base vocabulary only (SentencePiece or BPE pieces).")
      .def_property_readonly("bos_id", &Tokenizer::bos_id)
      .def_property_readonly("eos_id", &Tokenizer::eos_id)
      .def_property_readonly("pad_id", &Tokenizer::pad_id, "-1 if the tokenizer has no padding token.")
      .def_property_readonly("unk_id", &Tokenizer::unk_id)
      .def_property_readonly("add_bos_token", &Tokenizer::add_bos_token,
                             "Whether the model expects BOS first (tokenizer_config.json; default True).")
      .def_property_readonly("add_eos_token", &Tokenizer::add_eos_token)
      .def_property_readonly(
          "added_tokens",
          [](const Tokenizer& tok) {
            std::vector<std::pair<int, std::string>> out;
            for (const AddedToken& token : tok.added_tokens()) out.emplace_back(token.id, token.content);
            return out;
          },
          "The added tokens as a list of (id, content), sorted by id.")
      .def("__len__", &Tokenizer::vocab_size)
      .def("__repr__", &repr)
      .def("__copy__", [](const Tokenizer& tok) { return Tokenizer(tok); })
      .def("__deepcopy__", [](const Tokenizer& tok, py::dict) { return Tokenizer(tok); }, py::arg("memo"));
}

}  // namespace lrem::python
