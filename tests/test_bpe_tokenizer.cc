// tokenizer.json (byte-level BPE) support, checked against Hugging Face's own library: the
// expected ids and texts in tests/data/tokenizers/ were produced by the official `tokenizers`
// binding (make_reference.js there), for small tokenizers built for these tests and for the
// real Qwen2 fixture.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "lrem/error.h"
#include "lrem/tokenizer.h"
#include "test_support.h"
#include "util/file_io.h"
#include "util/json_reader.h"

namespace fs = std::filesystem;

namespace lrem {
namespace {

using testing::TempDir;

const std::string kDataDir = std::string(LREM_SOURCE_DIR) + "/tests/data/tokenizers";

std::vector<int> ints(const JsonValue& value) {
  std::vector<int> out;
  for (const JsonValue& element : value.elements()) out.push_back(int(element.as_int()));
  return out;
}

// The tokenizer a reference file was made with; "" (after a SKIP notice) if it is absent.
std::string tokenizer_path(const std::string& name) {
  if (name != "qwen2") return kDataDir + "/" + name + ".json";
  const std::string dir = testing::fixture("qwen2-bpe");
  return dir.empty() ? "" : dir + "/tokenizer.json";
}

class HuggingFaceReference : public ::testing::TestWithParam<std::string> {};

TEST_P(HuggingFaceReference, EncodeAndDecodeMatchTheRustLibrary) {
  const std::string path = tokenizer_path(GetParam());
  if (path.empty()) GTEST_SKIP() << "fixture qwen2-bpe missing";
  const Tokenizer tok = Tokenizer::load(path);
  const JsonDocument expected = JsonDocument::load(kDataDir + "/expected_" + GetParam() + ".json");
  const JsonValue root = expected.object();
  EXPECT_EQ(tok.vocab_size(), root.at("vocab_size").as_int());

  const std::vector<JsonValue> cases = root.at("cases").elements();
  ASSERT_GT(cases.size(), 50u);
  for (const JsonValue& c : cases) {
    const std::string text = c.at("text").as_string();
    SCOPED_TRACE("text: \"" + text + "\"");
    EXPECT_EQ(tok.encode(text), ints(c.at("ids")));
    const std::vector<int> with_special = tok.encode_with_special_tokens(text);
    EXPECT_EQ(with_special, ints(c.at("ids_with_special_tokens")));
    EXPECT_EQ(tok.decode(with_special), c.at("decoded").as_string());
    EXPECT_EQ(tok.decode(with_special, /*skip_special_tokens=*/true), c.at("decoded_skip_special").as_string());
  }
  for (const JsonValue& d : root.at("decodes").elements())
    EXPECT_EQ(tok.decode(ints(d.at("ids"))), d.at("text").as_string()) << d.where();
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, HuggingFaceReference,
                         ::testing::Values("llama3", "gpt2", "added", "byte_fallback", "unk", "qwen2"));

TEST(BpeTokenizer, TemplateGivesBosAndEos) {
  const Tokenizer llama3 = Tokenizer::load(kDataDir + "/llama3.json");
  EXPECT_EQ(llama3.bos_id(), llama3.piece_to_id("<|begin_of_text|>"));
  EXPECT_EQ(llama3.eos_id(), -1);
  EXPECT_TRUE(llama3.add_bos_token());
  EXPECT_EQ(llama3.encode("hi", /*add_bos=*/true), llama3.encode_with_special_tokens("hi"));
  EXPECT_THROW(llama3.encode("hi", false, /*add_eos=*/true), InvalidArgument);
  EXPECT_TRUE(llama3.is_special(llama3.bos_id()));
  EXPECT_EQ(llama3.id_to_piece(llama3.bos_id()), "<|begin_of_text|>");

  const Tokenizer gpt2 = Tokenizer::load(kDataDir + "/gpt2.json");
  EXPECT_EQ(gpt2.bos_id(), -1);
  EXPECT_EQ(gpt2.eos_id(), gpt2.piece_to_id("<|endoftext|>"));
  EXPECT_TRUE(gpt2.add_eos_token());
  EXPECT_EQ(gpt2.pad_id(), -1);
  EXPECT_EQ(gpt2.sentencepiece_size(), gpt2.vocab_size() - 1) << "the BPE vocabulary without the added token";
}

TEST(BpeTokenizer, RejectsInvalidUtf8AndIdsOutOfRange) {
  const Tokenizer tok = Tokenizer::load(kDataDir + "/gpt2.json");
  EXPECT_THROW(tok.encode("ok \xC3\x28 bad"), InvalidArgument);
  EXPECT_THROW(tok.decode({tok.vocab_size()}), InvalidArgument);
  EXPECT_THROW(tok.decode({-1}), InvalidArgument);
  EXPECT_THROW(tok.id_to_piece(tok.vocab_size()), InvalidArgument);
}

TEST(BpeTokenizer, DirectoryPrefersTokenizerJsonOverTokenizerModel) {
  const std::string stories = testing::fixture("stories260K");
  if (stories.empty()) GTEST_SKIP() << "fixture stories260K missing";
  TempDir dir;
  fs::copy_file(stories + "/tokenizer.model", dir.file("tokenizer.model"));
  EXPECT_EQ(Tokenizer::from_directory(dir.path()).vocab_size(), 512) << "SentencePiece alone";
  fs::copy_file(kDataDir + "/gpt2.json", dir.file("tokenizer.json"));
  const Tokenizer tok = Tokenizer::from_directory(dir.path());
  const Tokenizer gpt2 = Tokenizer::load(kDataDir + "/gpt2.json");
  EXPECT_EQ(tok.vocab_size(), gpt2.vocab_size());
  EXPECT_EQ(tok.encode("red shoes"), gpt2.encode("red shoes"));
}

// A Qwen2 directory names its EOS (<|endoftext|> for base models, <|im_end|> for instruct
// ones) only in tokenizer_config.json; its template adds nothing.
TEST(BpeTokenizer, DirectoryReadsSpecialTokensFromTokenizerConfig) {
  TempDir dir;
  fs::copy_file(kDataDir + "/added.json", dir.file("tokenizer.json"));
  const Tokenizer bare = Tokenizer::from_directory(dir.path());
  EXPECT_EQ(bare.eos_id(), -1) << "no template suffix, no config";
  const int endoftext = bare.piece_to_id("<|endoftext|>"), think_close = bare.piece_to_id("</think>");
  write_file_atomic(dir.file("tokenizer_config.json"),
                    R"({"bos_token": null, "eos_token": {"content": "</think>", "special": true},
                        "pad_token": "<|endoftext|>", "add_bos_token": true, "model_max_length": 32768})");
  const Tokenizer tok = Tokenizer::from_directory(dir.path());
  EXPECT_EQ(tok.eos_id(), think_close);
  EXPECT_EQ(tok.pad_id(), endoftext);
  EXPECT_EQ(tok.bos_id(), -1);
  EXPECT_FALSE(tok.add_bos_token()) << "no BOS token to add, whatever add_bos_token says";
  EXPECT_EQ(tok.encode("a", false, true).back(), think_close);
  EXPECT_EQ(tok.encode_with_special_tokens("a"), tok.encode("a")) << "the template (Hugging Face's) is unchanged";

  TempDir saved;
  tok.save(saved.path());
  EXPECT_EQ(read_file(saved.file("tokenizer_config.json")), read_file(dir.file("tokenizer_config.json")));
  EXPECT_EQ(Tokenizer::from_directory(saved.path()).eos_id(), think_close);

  // Llama 3: the template's <|begin_of_text|> stays BOS; an instruct model's EOS is <|eot_id|>.
  TempDir llama;
  fs::copy_file(kDataDir + "/llama3.json", llama.file("tokenizer.json"));
  write_file_atomic(llama.file("tokenizer_config.json"), R"({"eos_token": "<|eot_id|>"})");
  const Tokenizer llama3 = Tokenizer::from_directory(llama.path());
  EXPECT_EQ(llama3.bos_id(), llama3.piece_to_id("<|begin_of_text|>"));
  EXPECT_TRUE(llama3.add_bos_token());
  EXPECT_EQ(llama3.eos_id(), llama3.piece_to_id("<|eot_id|>"));

  write_file_atomic(dir.file("tokenizer_config.json"), R"({"eos_token": "<|im_end|>"})");
  try {
    Tokenizer::from_directory(dir.path());
    ADD_FAILURE() << "accepted an EOS the tokenizer does not have";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer_config.json: /eos_token:"), std::string::npos) << e.what();
  }
}

TEST(BpeTokenizer, AddedSpecialTokensTakeTheNextIdsAndAreSaved) {
  const std::string source = kDataDir + "/llama3.json";
  Tokenizer tok = Tokenizer::load(source);
  const int before = tok.vocab_size();
  const Tokenizer original = tok;
  EXPECT_EQ(tok.add_special_token("<think>"), before);
  EXPECT_EQ(tok.add_special_token("<emb>"), before + 1);
  EXPECT_EQ(tok.add_special_token("<think>"), before) << "adding twice returns the same id";
  EXPECT_EQ(tok.add_special_token("<|eot_id|>"), original.piece_to_id("<|eot_id|>"));
  EXPECT_EQ(tok.add_special_token("Ġthe"), original.piece_to_id("Ġthe")) << "a vocabulary token keeps its id";
  EXPECT_EQ(tok.vocab_size(), before + 2);
  EXPECT_EQ(original.vocab_size(), before) << "copies own their added tokens";
  EXPECT_EQ(tok.encode("a<think>b <emb>"), (std::vector<int>{64, before, 65, 220, before + 1}));
  EXPECT_EQ(tok.decode(tok.encode("x <think> y"), /*skip_special_tokens=*/true), "x  y");

  TempDir dir;
  original.save(dir.path());
  EXPECT_EQ(read_file(dir.file("tokenizer.json")), read_file(source)) << "nothing added: the file is unchanged";
  tok.save(dir.path());
  const auto saved = nlohmann::json::parse(read_file(dir.file("tokenizer.json")));
  const auto& added = saved.at("added_tokens");
  ASSERT_EQ(added.size(), 3u + 3u);
  EXPECT_EQ(added[3].at("content"), "<think>");
  EXPECT_EQ(added[3].at("id"), before);
  EXPECT_EQ(added[3].at("special"), true);
  EXPECT_EQ(added[4].at("content"), "<emb>");
  EXPECT_EQ(added[5].at("content"), "Ġthe");
  EXPECT_EQ(saved.at("model").at("merges"), nlohmann::json::parse(read_file(source)).at("model").at("merges"));

  const Tokenizer reloaded = Tokenizer::from_directory(dir.path());
  EXPECT_EQ(reloaded.vocab_size(), before + 2);
  for (const std::string text : {"a<think>b <emb>", "the sneakers<think>", "plain text"})
    EXPECT_EQ(reloaded.encode_with_special_tokens(text), tok.encode_with_special_tokens(text)) << text;
}

TEST(BpeTokenizer, ConcurrentEncodingAgreesWithSequential) {
  const Tokenizer tok = Tokenizer::load(kDataDir + "/added.json");
  std::vector<std::string> texts;
  for (int i = 0; i < 400; ++i)
    texts.push_back("item " + std::to_string(i * 7919) + " café <emb> wörd" + std::to_string(i % 13) + " 無線");
  std::vector<std::vector<int>> expected;
  for (const std::string& text : texts) expected.push_back(Tokenizer(tok).encode(text));
  std::vector<std::vector<std::vector<int>>> results(2);
  std::vector<std::thread> threads;
  for (auto& out : results)
    threads.emplace_back([&] {
      for (const std::string& text : texts) out.push_back(tok.encode(text));
    });
  for (auto& t : threads) t.join();
  for (const auto& out : results) EXPECT_EQ(out, expected);
}

// --- refusals ---------------------------------------------------------------------------

// gpt2.json with one edit applied; the FormatError must name `pointer`.
void expect_refused(const std::function<void(nlohmann::json&)>& edit, const std::string& pointer) {
  auto json = nlohmann::json::parse(read_file(kDataDir + "/gpt2.json"));
  edit(json);
  TempDir dir;
  write_file_atomic(dir.file("tokenizer.json"), json.dump());
  try {
    Tokenizer::load(dir.file("tokenizer.json"));
    ADD_FAILURE() << "accepted an edit at " << pointer;
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json: " + pointer + ":"), std::string::npos) << e.what();
  }
}

TEST(BpeTokenizer, RefusesWhatItDoesNotImplementNamingTheField) {
  expect_refused([](auto& j) { j["model"]["type"] = "Unigram"; }, "/model/type");
  expect_refused([](auto& j) { j["model"]["type"] = "WordPiece"; }, "/model/type");
  expect_refused([](auto& j) { j["model"]["dropout"] = 0.1; }, "/model/dropout");
  expect_refused([](auto& j) { j["model"]["continuing_subword_prefix"] = "##"; }, "/model/continuing_subword_prefix");
  expect_refused([](auto& j) { j["model"]["end_of_word_suffix"] = "</w>"; }, "/model/end_of_word_suffix");
  expect_refused([](auto& j) { j["model"]["merges"][0] = "nosuchtoken x"; }, "/model/merges/0");
  expect_refused([](auto& j) { j["model"]["merges"][1] = "a b c"; }, "/model/merges/1");
  expect_refused([](auto& j) { j["model"]["unk_token"] = "<nope>"; }, "/model/unk_token");
  expect_refused([](auto& j) { j["normalizer"] = {{"type", "Lowercase"}}; }, "/normalizer/type");
  expect_refused([](auto& j) { j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "Strip"}}}}}; },
                 "/normalizer/normalizers/0/type");
  expect_refused([](auto& j) { j["pre_tokenizer"] = {{"type", "Metaspace"}}; }, "/pre_tokenizer/type");
  const auto split = [](const char* behavior, bool invert, const char* regex) {
    return [=](nlohmann::json& j) {
      j["pre_tokenizer"] = {{"type", "Sequence"},
                            {"pretokenizers",
                             {{{"type", "Split"}, {"pattern", {{"Regex", regex}}}, {"behavior", behavior}, {"invert", invert}},
                              j["pre_tokenizer"]}}};
    };
  };
  expect_refused(split("Removed", false, "\\s+"), "/pre_tokenizer/pretokenizers/0/behavior");
  expect_refused(split("Isolated", true, "\\s+"), "/pre_tokenizer/pretokenizers/0/invert");
  expect_refused(split("Isolated", false, "(unclosed"), "/pre_tokenizer/pretokenizers/0/pattern/Regex");
  expect_refused([](auto& j) { j["post_processor"] = {{"type", "BertProcessing"}}; }, "/post_processor/type");
  expect_refused([](auto& j) { j["post_processor"]["single"][0]["Sequence"]["id"] = "B"; },
                 "/post_processor/single/0/Sequence/id");
  expect_refused([](auto& j) { j["decoder"] = {{"type", "Metaspace"}}; }, "/decoder/type");
  expect_refused([](auto& j) { j["truncation"] = {{"max_length", 8}}; }, "/truncation");
  expect_refused([](auto& j) { j["added_tokens"].push_back(j["added_tokens"][0]); }, "/added_tokens/1");
}

}  // namespace
}  // namespace lrem
