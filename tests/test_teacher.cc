// The keyword teacher: parsing chat models' answers, the URL and retry rules, the resumable
// cache, and a local model directory answering through lrem's own generation. The URL path
// against a live server is tested end to end in tests/python/test_teacher.py.
#include "lrem/teacher.h"

#include <gtest/gtest.h>

#include <fstream>

#include "eval/chat_client.h"
#include "eval/teacher_cache.h"
#include "lrem/error.h"
#include "lrem/model.h"
#include "model/chat_format.h"
#include "test_support.h"
#include "util/file_io.h"

namespace lrem {
namespace {

using Words = std::vector<std::string>;

TEST(ParseKeywords, SplitsAListAndStripsWhatChatModelsAddAroundIt) {
  EXPECT_EQ(parse_keywords("running shoes, trail, breathable mesh"), (Words{"running shoes", "trail", "breathable mesh"}));
  EXPECT_EQ(parse_keywords("Sure! Here are the keywords:\n1. \"Wool cardigan\"\n2) knitwear.\n- **warm**\n* layer"),
            (Words{"Wool cardigan", "knitwear", "warm", "layer"}));
  EXPECT_EQ(parse_keywords("Keywords: kettle; stainless  steel | electric"), (Words{"kettle", "stainless steel", "electric"}));
  // Reasoning is dropped; an unclosed <think> (the answer ran out) leaves nothing.
  EXPECT_EQ(parse_keywords("<think>they want boots, so hiking</think>\nboots, hiking"), (Words{"boots", "hiking"}));
  EXPECT_EQ(parse_keywords("<think>they want boots, so"), Words{});
  // Sentences are not keywords; repeats (any case) are dropped.
  EXPECT_EQ(parse_keywords("Once upon a time there was a girl, toy, Toy, TOY truck"), (Words{"toy", "TOY truck"}));
  EXPECT_EQ(parse_keywords(""), Words{});
  EXPECT_EQ(parse_keywords(" , ,\n."), Words{});
}

TEST(KeywordPrompt, FillsTheQueryAndRefusesATemplateWithoutIt) {
  KeywordPrompt p;
  p.user = "Query: {query}!";
  EXPECT_EQ(p.render_user("red {shoes}"), "Query: red {shoes}!");
  p.user = "no placeholder";
  EXPECT_THROW(p.render_user("x"), InvalidArgument);
  TeacherOptions o;
  o.prompt = p;
  EXPECT_THROW(o.validate(), InvalidArgument);
  o = TeacherOptions();
  o.concurrency = 0;
  EXPECT_THROW(o.validate(), InvalidArgument);
}

TEST(ChatUrl, AcceptsTheApiBaseOrTheFullPath) {
  EXPECT_EQ(parse_chat_url("http://127.0.0.1:8000/v1").url(), "http://127.0.0.1:8000/v1/chat/completions");
  EXPECT_EQ(parse_chat_url("http://127.0.0.1:8000/v1/").url(), "http://127.0.0.1:8000/v1/chat/completions");
  const ChatEndpoint full = parse_chat_url("https://api.example.com/openai/v1/chat/completions");
  EXPECT_EQ(full.origin, "https://api.example.com");
  EXPECT_EQ(full.path, "/openai/v1/chat/completions");
  EXPECT_EQ(parse_chat_url("http://host").url(), "http://host/chat/completions");
  EXPECT_THROW(parse_chat_url("ftp://host/v1"), InvalidArgument);
  EXPECT_THROW(parse_chat_url("http:///v1"), InvalidArgument);
  EXPECT_THROW(parse_chat_url("http://host/v1?key=1"), InvalidArgument);
}

TEST(RetryDelay, DoublesFromTheInitialBackoffAndHonoursRetryAfter) {
  TeacherOptions o;
  o.initial_backoff_seconds = 0.5;
  o.max_backoff_seconds = 5;
  EXPECT_DOUBLE_EQ(retry_delay_seconds(0, std::nullopt, o), 0.5);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(2, std::nullopt, o), 2.0);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(10, std::nullopt, o), 5.0);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(0, std::string("3"), o), 3.0);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(0, std::string("1.5"), o), 1.5);
  EXPECT_DOUBLE_EQ(retry_delay_seconds(0, std::string("3600"), o), 5.0);
  // An HTTP-date is not parsed: the backoff applies.
  EXPECT_DOUBLE_EQ(retry_delay_seconds(1, std::string("Wed, 21 Oct 2015 07:28:00 GMT"), o), 1.0);
}

TEST(TeacherCache, ResumesKeepsOtherTeachersAndCutsATornLastLine) {
  testing::TempDir dir;
  const std::string path = dir.file("cache.jsonl");
  {
    TeacherCache cache(path, "aaaa");
    cache.append("red shoes", "sneakers, trainers", {"sneakers", "trainers"});
    cache.append("kettle", "", {});
  }
  {
    TeacherCache other(path, "bbbb");  // another model or prompt: none of the answers are its own
    EXPECT_EQ(other.find("red shoes"), nullptr);
    other.append("red shoes", "boots", {"boots"});
  }
  // A kill in the middle of a write: the line has no newline.
  std::ofstream(path, std::ios::app) << R"({"teacher": "aaaa", "query": "sofa", "ans)";
  {
    TeacherCache cache(path, "aaaa");
    ASSERT_NE(cache.find("red shoes"), nullptr);
    EXPECT_EQ(*cache.find("red shoes"), "sneakers, trainers");
    ASSERT_NE(cache.find("kettle"), nullptr);
    EXPECT_EQ(*cache.find("kettle"), "");
    EXPECT_EQ(cache.find("sofa"), nullptr);
    cache.append("sofa", "couch", {"couch"});
  }
  const std::string text = read_file(path);
  EXPECT_EQ(text.find("\"ans\n"), std::string::npos) << text;
  TeacherCache cache(path, "aaaa");
  ASSERT_NE(cache.find("sofa"), nullptr);
  EXPECT_EQ(*cache.find("sofa"), "couch");
  TeacherCache other(path, "bbbb");
  EXPECT_EQ(*other.find("red shoes"), "boots");

  // A complete line that is not an entry is an error naming the line.
  std::ofstream(path, std::ios::app) << "{\"teacher\": 3}\n";
  try {
    TeacherCache broken(path, "aaaa");
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("cache.jsonl:5"), std::string::npos) << e.what();
  }
}

TEST(ChatFormat, FollowsTheTokenizersSpecialTokens) {
  const std::string qwen = testing::fixture("qwen2-bpe");
  const std::string stories = testing::fixture("stories260K");
  if (qwen.empty() || stories.empty()) GTEST_SKIP() << "fixtures missing";
  const std::vector<ChatMessage> chat = {{"system", "Be brief."}, {"user", "shoes?"}};
  const Tokenizer qwen_tokenizer = Tokenizer::load(qwen + "/tokenizer.json");
  const ChatFormat chatml = ChatFormat::for_tokenizer(qwen_tokenizer);
  EXPECT_EQ(chatml.name(), "chatml");
  EXPECT_EQ(chatml.render(chat),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nshoes?<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(chatml.stop_ids(), std::vector<int>{qwen_tokenizer.piece_to_id("<|im_end|>")});
  const ChatFormat plain = ChatFormat::for_tokenizer(Tokenizer::from_directory(stories));
  EXPECT_EQ(plain.name(), "plain");
  EXPECT_EQ(plain.render(chat), "Be brief.\n\nshoes?\n\n");
  EXPECT_TRUE(plain.stop_ids().empty());
}

TEST(KeywordTeacher, AModelDirectoryAnswersWithLremsGenerationAndIsCached) {
  const std::string stories = testing::fixture("stories260K");
  if (stories.empty()) GTEST_SKIP() << "stories260K fixture missing";
  testing::TempDir dir;
  TeacherOptions options;
  options.cache_path = dir.file("cache.jsonl");
  options.max_tokens = 12;
  options.batch_size = 2;  // three queries: a full batch and a partial one
  options.prompt.user = "Once upon a time, a girl wanted {query}.";
  const std::vector<std::string> queries = {"a red ball", "a big cake", "a red ball", "a toy dog"};

  // What the teacher must answer: the model's greedy continuation of the rendered chat.
  const Model model = Model::load(stories);
  const ChatFormat format = ChatFormat::for_tokenizer(model.tokenizer());
  GenerationOptions g;
  g.max_new_tokens = options.max_tokens;
  auto expected = [&](const std::string& q) {
    return model.generate(format.render({{"system", options.prompt.system}, {"user", options.prompt.render_user(q)}}), g)
        .text;
  };

  KeywordTeacher teacher(stories, options);
  const std::vector<std::string> answers = teacher.answers(queries);
  ASSERT_EQ(answers.size(), 4u);
  for (size_t i = 0; i < queries.size(); ++i) EXPECT_EQ(answers[i], expected(queries[i])) << queries[i];
  EXPECT_FALSE(answers[0].empty());
  EXPECT_EQ(teacher.stats().queries, 3u);
  EXPECT_EQ(teacher.stats().asked, 3u);
  EXPECT_EQ(teacher.keywords({"a toy dog"}).front(), parse_keywords(answers[3]));

  // A new run with the same cache asks nothing; another prompt is another teacher.
  KeywordTeacher again(stories, options);
  EXPECT_EQ(again.answers(queries), answers);
  EXPECT_EQ(again.stats().cached, 3u);
  EXPECT_EQ(again.stats().asked, 0u);
  EXPECT_EQ(again.identity(), teacher.identity());
  options.prompt.user = "One day, a boy found {query}.";
  KeywordTeacher other(stories, options);
  other.answers({"a red ball"});
  EXPECT_EQ(other.stats().asked, 1u);
  EXPECT_NE(other.identity(), teacher.identity());
}

}  // namespace
}  // namespace lrem
