#include "lrem/tokenizer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "util/file_io.h"
#include "lrem/error.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace lrem {
namespace {

using testing::TempDir;

// Texts that exercise spaces, punctuation, digits, accents, CJK and emoji (byte fallback).
const std::vector<std::string> kTexts = {
    "Once upon a time",
    "Lily and Ben went to the park. They saw a big, red ball!",
    "spaces, commas: and (brackets)",
    "numbers 1234567 and 3.14",
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9",
    "\u65e5\u672c\u8a9e\u306e\u6587",
    "emoji \U0001F642\U0001F680 end",
    "tab\tand\nnewline",
};

class StoriesTokenizer : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::fixture("stories260K");
    if (dir_.empty()) GTEST_SKIP() << "fixture stories260K missing";
  }
  std::string model_path() const { return dir_ + "/tokenizer.model"; }
  Tokenizer load() const { return Tokenizer::load(model_path()); }

  std::string dir_;
};

// SentencePiece's own command-line encoder, one line of ids per input line; empty if absent.
std::vector<std::vector<int>> spm_encode_reference(const std::string& model, const std::vector<std::string>& lines) {
  if (std::system("command -v spm_encode >/dev/null 2>&1") != 0) return {};
  TempDir tmp;
  {
    std::ofstream out(tmp.file("input.txt"));
    for (const auto& line : lines) out << line << "\n";
  }
  const std::string command = "spm_encode --model='" + model + "' --output_format=id < '" + tmp.file("input.txt") + "'";
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return {};
  std::string output;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  if (::pclose(pipe) != 0) return {};
  std::vector<std::vector<int>> ids;
  std::istringstream stream(output);
  std::string line;
  while (std::getline(stream, line)) {
    std::istringstream numbers(line);
    ids.emplace_back(std::istream_iterator<int>(numbers), std::istream_iterator<int>());
  }
  return ids;
}

TEST_F(StoriesTokenizer, ReportsTheLlamaVocabulary) {
  const Tokenizer tok = load();
  EXPECT_EQ(tok.vocab_size(), 512);
  EXPECT_EQ(tok.sentencepiece_size(), 512);
  EXPECT_EQ(tok.unk_id(), 0);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.pad_id(), -1);
  EXPECT_EQ(tok.id_to_piece(1), "<s>");
  EXPECT_EQ(tok.piece_to_id("</s>"), 2);
  EXPECT_EQ(tok.piece_to_id("<unk>"), 0);
  EXPECT_EQ(tok.piece_to_id("no such piece"), -1);
  EXPECT_TRUE(tok.is_special(1));
  EXPECT_FALSE(tok.is_special(300));
  EXPECT_TRUE(tok.added_tokens().empty());
}

TEST_F(StoriesTokenizer, EncodesLikeSentencePiecesOwnEncoder) {
  const Tokenizer tok = load();
  // Single-line texts only: spm_encode reads one sentence per line.
  std::vector<std::string> lines(kTexts.begin(), kTexts.end() - 1);
  const auto reference = spm_encode_reference(model_path(), lines);
  if (reference.empty()) GTEST_SKIP() << "*** SKIP: spm_encode (Debian package sentencepiece) is not available ***";
  ASSERT_EQ(reference.size(), lines.size());
  EXPECT_EQ(reference[0], tok.encode("Once upon a time"));
  for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(tok.encode(lines[i]), reference[i]) << lines[i];
}

TEST_F(StoriesTokenizer, DecodeInvertsEncode) {
  const Tokenizer tok = load();
  for (const auto& text : kTexts) EXPECT_EQ(tok.decode(tok.encode(text)), text) << text;
  const auto emoji = tok.encode("\U0001F642");
  EXPECT_EQ(emoji.size(), 5u) << "dummy prefix + four byte-fallback pieces";
}

TEST_F(StoriesTokenizer, AddsBosAndEosOnRequest) {
  const Tokenizer tok = load();
  const auto plain = tok.encode("Once upon a time");
  auto framed = tok.encode("Once upon a time", true, true);
  ASSERT_EQ(framed.size(), plain.size() + 2);
  EXPECT_EQ(framed.front(), 1);
  EXPECT_EQ(framed.back(), 2);
  EXPECT_EQ(std::vector<int>(framed.begin() + 1, framed.end() - 1), plain);
  EXPECT_EQ(tok.decode(framed, /*skip_special_tokens=*/true), "Once upon a time");
  EXPECT_EQ(tok.decode(framed), "<s>Once upon a time</s>");
}

TEST_F(StoriesTokenizer, AddedSpecialTokensAreNeverSplit) {
  Tokenizer tok = load();
  EXPECT_EQ(tok.add_special_token("<think>"), 512);
  EXPECT_EQ(tok.add_special_token("</think>"), 513);
  EXPECT_EQ(tok.add_special_token("<emb>"), 514);
  EXPECT_EQ(tok.add_special_token("<think>"), 512) << "adding twice returns the same id";
  EXPECT_EQ(tok.vocab_size(), 515);
  EXPECT_EQ(tok.piece_to_id("<emb>"), 514);
  EXPECT_EQ(tok.id_to_piece(513), "</think>");
  EXPECT_TRUE(tok.is_special(514));

  std::vector<int> expected = tok.encode("a");
  expected.push_back(512);
  for (int id : tok.encode("b")) expected.push_back(id);
  expected.push_back(513);
  expected.push_back(514);
  const auto ids = tok.encode("a<think>b</think><emb>");
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(tok.decode(ids), "a<think>b</think><emb>");
  EXPECT_EQ(tok.decode(ids, /*skip_special_tokens=*/true), "ab");
  EXPECT_THROW(tok.add_special_token(""), InvalidArgument);
}

TEST_F(StoriesTokenizer, LongestAddedTokenWinsAndCopiesOwnTheirTokens) {
  Tokenizer tok = load();
  tok.add_special_token("<emb>");
  Tokenizer copy = tok;
  const int longer = copy.add_special_token("<emb><emb>");
  EXPECT_EQ(longer, 513);
  EXPECT_EQ(copy.encode("<emb><emb><emb>"), (std::vector<int>{513, 512}));
  EXPECT_EQ(tok.encode("<emb><emb><emb>"), (std::vector<int>{512, 512, 512})) << "the original is unchanged";
  EXPECT_EQ(tok.vocab_size(), 513);
}

TEST_F(StoriesTokenizer, SavesAndReloadsThroughADirectory) {
  Tokenizer tok = load();
  tok.add_special_token("<think>");
  tok.add_special_token("</think>");
  tok.add_special_token("<emb>");
  TempDir tmp;
  const std::string dir = tmp.file("saved");
  tok.save(dir);
  EXPECT_EQ(read_file(dir + "/tokenizer.model"), read_file(model_path())) << "the model bytes are written unchanged";

  const Tokenizer loaded = Tokenizer::from_directory(dir);
  EXPECT_EQ(loaded.vocab_size(), 515);
  ASSERT_EQ(loaded.added_tokens().size(), 3u);
  EXPECT_EQ(loaded.added_tokens()[2].content, "<emb>");
  EXPECT_EQ(loaded.added_tokens()[2].id, 514);
  EXPECT_TRUE(loaded.added_tokens()[2].special);
  EXPECT_EQ(loaded.bos_id(), 1);
  EXPECT_EQ(loaded.eos_id(), 2);
  EXPECT_TRUE(loaded.add_bos_token());
  const std::string text = "Once upon a time<think>she smiled</think><emb>";
  EXPECT_EQ(loaded.encode(text), tok.encode(text));
}

TEST_F(StoriesTokenizer, ReadsHuggingFaceTokenizerConfig) {
  TempDir tmp;
  fs::copy_file(model_path(), tmp.file("tokenizer.model"));
  write_file_atomic(tmp.file("tokenizer_config.json"), R"({
    "add_bos_token": false,
    "add_eos_token": true,
    "added_tokens_decoder": {
      "1": {"content": "<s>", "special": true, "lstrip": false, "rstrip": false},
      "513": {"content": "<pad>", "special": true},
      "512": {"content": " <sep>", "special": false, "lstrip": true, "rstrip": true}
    },
    "bos_token": {"content": "<s>", "lstrip": false},
    "eos_token": "</s>",
    "pad_token": "<pad>",
    "tokenizer_class": "LlamaTokenizer"
  })");
  const Tokenizer tok = Tokenizer::from_directory(tmp.path());
  EXPECT_FALSE(tok.add_bos_token());
  EXPECT_TRUE(tok.add_eos_token());
  EXPECT_EQ(tok.vocab_size(), 514);
  EXPECT_EQ(tok.pad_id(), 513);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_FALSE(tok.is_special(512));

  std::vector<int> expected = {1};
  for (int id : tok.encode("hi")) expected.push_back(id);
  expected.push_back(512);
  for (int id : tok.encode("there")) expected.push_back(id);
  EXPECT_EQ(tok.encode("<s>hi   <sep>  there"), expected) << "<s> in text is id 1; lstrip/rstrip eat spaces";
  EXPECT_EQ(tok.decode(expected, /*skip_special_tokens=*/true), "hi <sep>there");
}

TEST_F(StoriesTokenizer, RejectsBadFilesWithMessagesNamingThem) {
  TempDir tmp;
  EXPECT_THROW(Tokenizer::load(tmp.file("missing.model")), IoError);
  EXPECT_THROW(Tokenizer::from_directory(tmp.file("no-such-dir")), IoError);

  write_file_atomic(tmp.file("garbage.model"), std::string("\x08\xff\x01 this is not a model proto", 30));
  try {
    Tokenizer::load(tmp.file("garbage.model"));
    FAIL() << "garbage accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("garbage.model"), std::string::npos) << e.what();
  }

  auto expect_config_error = [&](const std::string& json, const std::string& expected_phrase) {
    const std::string config = tmp.file("tokenizer_config.json");
    write_file_atomic(config, json);
    try {
      Tokenizer::load(model_path(), config);
      ADD_FAILURE() << "accepted: " << json;
    } catch (const FormatError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("tokenizer_config.json"), std::string::npos) << message;
      EXPECT_NE(message.find(expected_phrase), std::string::npos) << message;
    }
  };
  expect_config_error("{\"added_tokens_decoder\": {", "not valid JSON");
  expect_config_error("[1, 2]", "JSON object");
  expect_config_error(R"({"added_tokens_decoder": {"abc": {"content": "<x>"}}})", "'abc'");
  expect_config_error(R"({"added_tokens_decoder": {"-3": {"content": "<x>"}}})", "'-3'");
  expect_config_error(R"({"added_tokens_decoder": {"600": {"content": "<x>"}}})", "gap");
  expect_config_error(R"({"added_tokens_decoder": {"1": {"content": "<bos>"}}})", "'<s>'");
  expect_config_error(R"({"added_tokens_decoder": {"512": {"content": ""}}})", "empty");
  expect_config_error(R"({"added_tokens_decoder": {"512": {"content": "<x>"}, "513": {"content": "<x>"}}})", "twice");
  expect_config_error(R"({"add_bos_token": "yes"})", "add_bos_token");
  expect_config_error(R"({"pad_token": "<nothing>"})", "pad_token");
  expect_config_error(R"({"added_tokens_decoder": {"512": {"content": "<x>", "special": 3}}})", "/added_tokens_decoder/512/special: expected true or false");
  EXPECT_THROW(Tokenizer::load(model_path(), tmp.file("absent.json")), IoError);
}

TEST_F(StoriesTokenizer, RejectsIdsOutsideTheVocabulary) {
  Tokenizer tok = load();
  EXPECT_THROW(tok.id_to_piece(-1), InvalidArgument);
  EXPECT_THROW(tok.id_to_piece(512), InvalidArgument);
  EXPECT_THROW(tok.decode({5, 512}), InvalidArgument);
  tok.add_special_token("<emb>");
  EXPECT_EQ(tok.id_to_piece(512), "<emb>");
}

TEST_F(StoriesTokenizer, EncodesConcurrentlyLikeSerially) {
  Tokenizer tok = load();
  tok.add_special_token("<emb>");
  std::vector<std::string> texts;
  for (int i = 0; i < 400; ++i) texts.push_back(kTexts[i % kTexts.size()] + " <emb> " + std::to_string(i));
  const auto serial = tok.encode_batch(texts);
  std::vector<std::vector<std::vector<int>>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) threads.emplace_back([&] { result = tok.encode_batch(texts); });
  for (auto& thread : threads) thread.join();
  for (const auto& result : results) EXPECT_EQ(result, serial);
}

// The crash of STACK.md "Pitfall 1": this executable links libtorch (and its protobuf);
// SentencePiece must still load, and both must work side by side.
TEST_F(StoriesTokenizer, CoexistsWithLibtorch) {
  const at::Tensor a = at::arange(6, at::kFloat).reshape({2, 3});
  const at::Tensor b = at::ones({3, 2}, at::kFloat);
  const at::Tensor product = at::matmul(a, b);
  const Tokenizer tok = load();
  const auto ids = tok.encode("Once upon a time", true);
  EXPECT_EQ(product[0][0].item<float>(), 3.0f);
  EXPECT_EQ(product[1][1].item<float>(), 12.0f);
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_EQ(tok.decode(ids, true), "Once upon a time");
}

// A corpus of generated sentences (no fixture needed).
std::string write_corpus(const TempDir& tmp, int lines) {
  const std::vector<std::string> subjects = {"the cat", "a small dog", "my friend", "the old man", "Lily", "Ben"};
  const std::vector<std::string> verbs = {"saw", "liked", "found", "painted", "wanted", "carried"};
  const std::vector<std::string> objects = {"a red ball", "the blue sky", "three apples", "a caf\u00e9",
                                            "the big tree", "a shiny stone"};
  std::string corpus;
  for (int i = 0; i < lines; ++i)
    corpus += subjects[i % 6] + " " + verbs[(i / 6) % 6] + " " + objects[(i / 36) % 6] + " on day " +
              std::to_string(i % 97) + ".\n";
  const std::string path = tmp.file("corpus.txt");
  write_file_atomic(path, corpus);
  return path;
}

TEST(TokenizerTraining, TrainsASmallModelThatRoundTrips) {
  TempDir tmp;
  const std::string corpus = write_corpus(tmp, 3000);
  TokenizerTrainOptions options;
  options.vocab_size = 450;
  options.seed = 7;
  const Tokenizer tok = Tokenizer::train(corpus, tmp.file("out/tiny"), options);
  EXPECT_EQ(tok.vocab_size(), 450);
  EXPECT_EQ(tok.unk_id(), 0);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.pad_id(), -1);

  // Trained tokenizers keep text as written, whitespace included.
  const std::string text = "the old man  found a red ball on day 42. ";
  const auto ids = tok.encode(text);
  EXPECT_LT(ids.size(), text.size() / 2) << "common words became single pieces";
  EXPECT_EQ(tok.decode(ids), text);
  EXPECT_EQ(tok.decode(tok.encode("unseen \u00fcml\u00e4uts \U0001F680")), "unseen \u00fcml\u00e4uts \U0001F680")
      << "byte fallback covers characters outside the corpus";

  const Tokenizer reloaded = Tokenizer::load(tmp.file("out/tiny.model"));
  EXPECT_EQ(reloaded.encode(text), ids);
  const std::string vocab = read_file(tmp.file("out/tiny.vocab"));
  EXPECT_EQ(std::count(vocab.begin(), vocab.end(), '\n'), 450);
  EXPECT_EQ(vocab.rfind("<unk>\t", 0), 0u);
}

TEST(TokenizerTraining, RefusesBadOptionsAndMissingCorpus) {
  TempDir tmp;
  TokenizerTrainOptions options;
  options.vocab_size = 300;
  EXPECT_THROW(Tokenizer::train(tmp.file("absent.txt"), tmp.file("m"), options), IoError);
  const std::string corpus = write_corpus(tmp, 200);
  options.model_type = "wordpiece";
  EXPECT_THROW(Tokenizer::train(corpus, tmp.file("m"), options), InvalidArgument);
  options.model_type = "bpe";
  options.vocab_size = 100000;
  EXPECT_THROW(Tokenizer::train(corpus, tmp.file("m"), options), InvalidArgument) << "more pieces than the corpus has";
  EXPECT_FALSE(fs::exists(tmp.file("m.model")));
}

}  // namespace
}  // namespace lrem
