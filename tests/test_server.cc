// The HTTP service against the library it wraps: a real server on a loopback port, a real
// HTTP client, answers compared with Retriever/Embedder called directly.
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "lrem/error.h"
#include "lrem/retriever.h"
#include "lrem/server.h"
#include "test_support.h"

namespace lrem {
namespace {

using json = nlohmann::json;
using std::chrono::seconds;

Model make_model(const std::string& dir) { return testing::small_lrem_model(dir, 11, "query: {query}", 5); }

ItemStore make_items() {
  return ItemStore({{10, "Red Running Shoes", R"({"price": 59.5, "category": "footwear"})"},
                    {11, "Navy Wool Cardigan", R"({"category": "clothing"})"},
                    {12, "Steel Claw Hammer", "{}"},
                    {13, "Wooden Toy Truck", R"({"age": "3+"})"},
                    {14, "Oak Dining Table", "{}"},
                    {15, "Stainless Kettle", "{}"},
                    {16, "Leather Hiking Boots", R"({"category": "footwear"})"},
                    {17, "Plush Teddy Bear", "{}"}});
}

ServerOptions test_options() {
  ServerOptions o;
  o.port = 0;
  o.threads = 4;
  o.max_body_bytes = 4096;
  o.max_k = 50;
  o.max_batch = 8;
  o.max_query_bytes = 256;
  o.quiet = true;
  return o;
}

// Runs `server` on a background thread; stop() is checked to end it within a bound.
class Running {
 public:
  explicit Running(Server& server) : server_(server) {
    server_.bind();
    done_ = std::async(std::launch::async, [this] { server_.run(); });
    const auto deadline = std::chrono::steady_clock::now() + seconds(10);
    while (!server_.running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Running() { stop(); }
  // True if run() returned within the bound.
  bool stop() {
    if (!done_.valid()) return true;
    server_.stop();
    const bool ended = done_.wait_for(seconds(10)) == std::future_status::ready;
    if (ended) done_.get();
    return ended;
  }

 private:
  Server& server_;
  std::future<void> done_;
};

struct Service {
  Retriever retriever;
  Server server;
  Running running;

  explicit Service(Retriever r) : retriever(std::move(r)), server(retriever, test_options()), running(server) {}
};

httplib::Client client(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(seconds(5));
  c.set_read_timeout(seconds(60));
  return c;
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = testing::fixture("stories260K");
    if (dir.empty()) return;
    model_ = std::make_unique<Model>(make_model(dir));
    service_ = std::make_unique<Service>(fresh_retriever());
  }
  static void TearDownTestSuite() {
    service_.reset();
    model_.reset();
  }

  // A retriever over the shared model with its own (cold) CoT cache.
  static Retriever fresh_retriever() {
    Embedder embedder(*model_);
    ItemStore items = make_items();
    Index index = build_index(embedder, items);
    return Retriever(std::move(embedder), std::move(index), std::move(items));
  }

  void SetUp() override {
    if (!service_) GTEST_SKIP() << "stories260K fixture missing";
  }

  static const Retriever& retriever() { return service_->retriever; }

  // POSTs `body` and returns (status, parsed JSON body); every reply must be JSON.
  static std::pair<int, json> post(const std::string& path, const std::string& body) {
    httplib::Client c = client(service_->server.port());
    httplib::Result res = c.Post(path.c_str(), body, "application/json");
    if (!res) {
      ADD_FAILURE() << "POST " << path << " failed: " << httplib::to_string(res.error());
      return {0, json()};
    }
    EXPECT_EQ(res->get_header_value("Content-Type"), "application/json");
    return {res->status, json::parse(res->body)};
  }

  static std::unique_ptr<Model> model_;
  static std::unique_ptr<Service> service_;
};
std::unique_ptr<Model> ServerTest::model_;
std::unique_ptr<Service> ServerTest::service_;

// The HTTP answer for one query equals the library's.
void expect_same(const json& got, const SearchResponse& want) {
  EXPECT_EQ(got.at("query"), want.query);
  EXPECT_EQ(got.at("mode"), to_string(want.mode));
  EXPECT_EQ(got.at("cot"), want.cot);
  EXPECT_EQ(got.at("truncated"), want.truncated);
  ASSERT_EQ(got.at("hits").size(), want.hits.size());
  for (size_t i = 0; i < want.hits.size(); ++i) {
    const json& hit = got.at("hits")[i];
    EXPECT_EQ(hit.at("id").get<int64_t>(), want.hits[i].id) << "rank " << i;
    EXPECT_NEAR(hit.at("score").get<double>(), want.hits[i].score, 1e-5) << "rank " << i;
    EXPECT_EQ(hit.at("title"), want.hits[i].title);
    const json extra = json::parse(want.hits[i].extra_json);
    for (const auto& field : extra.items())
      EXPECT_EQ(hit.at(field.key()), field.value()) << "item field " << field.key();
  }
}

TEST_F(ServerTest, Healthz) {
  httplib::Client c = client(service_->server.port());
  httplib::Result res = c.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  const json body = json::parse(res->body);
  EXPECT_EQ(body.at("status"), "ok");
  EXPECT_EQ(body.at("items"), retriever().items().size());
  EXPECT_EQ(body.at("dim"), retriever().embedder().dim());
  EXPECT_EQ(body.at("model"), retriever().embedder().model().fingerprint());
  EXPECT_EQ(body.at("index"), "Flat");
}

TEST_F(ServerTest, SearchEqualsRetriever) {
  for (const char* mode : {"reason", "direct"}) {
    for (int k : {1, 3, 8, 50}) {
      const std::string query = "shoes for running in the rain";
      auto [status, body] = post("/search", json{{"query", query}, {"k", k}, {"mode", mode}}.dump());
      ASSERT_EQ(status, 200) << body;
      expect_same(body, retriever().search(query, k, parse_query_mode(mode)));
      EXPECT_GE(body.at("took_ms").get<double>(), 0.0);
    }
  }
  // k defaults to 10 (all 8 items here), mode to the server's default, reason.
  auto [status, body] = post("/search", R"({"query": "a gift for a toddler"})");
  ASSERT_EQ(status, 200) << body;
  expect_same(body, retriever().search("a gift for a toddler", 10, QueryMode::Reason));
  EXPECT_EQ(body.at("hits").size(), 8u);
  EXPECT_EQ(body.at("mode"), "reason");
}

TEST_F(ServerTest, BatchSearchEqualsSearchMany) {
  const std::vector<std::string> queries = {"warm winter clothes", "tools for woodwork", "kitchen kettle"};
  auto [status, body] = post("/search", json{{"queries", queries}, {"k", 4}, {"mode", "reason"}}.dump());
  ASSERT_EQ(status, 200) << body;
  const std::vector<SearchResponse> want = retriever().search_many(queries, 4, QueryMode::Reason);
  ASSERT_EQ(body.at("results").size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) expect_same(body.at("results")[i], want[i]);
}

TEST_F(ServerTest, EmbedEqualsEmbedder) {
  const std::vector<std::string> texts = {"red shoes", "a hammer for nails"};
  struct Case {
    const char* kind;
    const char* mode;
    Embeddings want;
  };
  const Embedder& e = retriever().embedder();
  for (const Case& c : {Case{"query", "reason", e.embed_queries(texts, QueryMode::Reason)},
                        Case{"query", "direct", e.embed_queries(texts, QueryMode::Direct)},
                        Case{"item", "direct", e.embed_items(texts)}}) {
    auto [status, body] = post("/embed", json{{"texts", texts}, {"kind", c.kind}, {"mode", c.mode}}.dump());
    ASSERT_EQ(status, 200) << body;
    EXPECT_EQ(body.at("dim"), c.want.dim);
    ASSERT_EQ(body.at("embeddings").size(), texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      const std::vector<float> row = body.at("embeddings")[i].get<std::vector<float>>();
      ASSERT_EQ(row.size(), static_cast<size_t>(c.want.dim));
      for (int64_t d = 0; d < c.want.dim; ++d) ASSERT_NEAR(row[d], c.want.row(i)[d], 1e-5) << c.kind << " " << c.mode;
      EXPECT_EQ(body.at("cots")[i], c.want.cots[i]);
    }
  }
}

TEST_F(ServerTest, BadRequestsGet400WithAMessage) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/search", "{"},
      {"/search", "[1, 2]"},
      {"/search", "{}"},
      {"/search", R"({"query": ""})"},
      {"/search", R"({"query": "   "})"},
      {"/search", R"({"query": 42})"},
      {"/search", R"({"query": "shoes", "mode": "deep"})"},
      {"/search", R"({"query": "shoes", "k": 0})"},
      {"/search", R"({"query": "shoes", "k": -3})"},
      {"/search", R"({"query": "shoes", "k": "5"})"},
      {"/search", R"({"query": "shoes", "k": 2.5})"},
      {"/search", R"({"query": "shoes", "top_k": 5})"},
      {"/search", R"({"query": "shoes", "queries": ["boots"]})"},
      {"/search", R"({"queries": []})"},
      {"/search", R"({"queries": ["boots", 7]})"},
      {"/search", "{\"query\": \"\xff\xfe shoes\"}"},
      {"/search", "{\"query\": \"caf\xc3\"}"},
      {"/embed", R"({"texts": ["a"], "kind": "user"})"},
      {"/embed", R"({"texts": "a"})"},
      {"/embed", R"({"kind": "item"})"},
  };
  for (const auto& [path, body] : cases) {
    auto [status, reply] = post(path, body);
    EXPECT_EQ(status, 400) << path << " " << body << " -> " << reply;
    EXPECT_FALSE(reply.value("error", "").empty()) << body;
  }
}

TEST_F(ServerTest, OverLimitsGet413) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/search", json{{"query", "shoes"}, {"k", 51}}.dump()},
      {"/search", R"({"query": "shoes", "k": 18446744073709551615})"},
      {"/search", json{{"query", std::string(257, 'a')}}.dump()},
      {"/search", json{{"queries", std::vector<std::string>(9, "shoes")}}.dump()},
      {"/embed", json{{"texts", std::vector<std::string>(9, "shoes")}}.dump()},
      {"/search", json{{"query", "shoes"}, {"pad", std::string(5000, 'x')}}.dump()},  // body over 4096 bytes
  };
  for (const auto& [path, body] : cases) {
    auto [status, reply] = post(path, body);
    EXPECT_EQ(status, 413) << path << " " << body.substr(0, 80) << " -> " << reply;
    EXPECT_FALSE(reply.value("error", "").empty());
  }
}

TEST_F(ServerTest, UnknownPathsAndWrongMethods) {
  httplib::Client c = client(service_->server.port());
  httplib::Result res = c.Get("/nowhere");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 404);
  EXPECT_FALSE(json::parse(res->body).value("error", "").empty());

  res = c.Get("/search");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "POST");
  EXPECT_FALSE(json::parse(res->body).value("error", "").empty());

  res = c.Post("/healthz", "{}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
  EXPECT_EQ(res->get_header_value("Allow"), "GET");

  res = c.Delete("/embed");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 405);
}

TEST_F(ServerTest, ConcurrentClientsGetTheSerialAnswers) {
  const std::vector<std::string> queries = {"boots for hiking", "soft toy",   "dining furniture",
                                            "boiling water",    "knitwear",   "hammer",
                                            "running gear",     "truck toy for kids"};
  // The serial answers come from a separate retriever, so the server's CoT cache is cold
  // for these queries and concurrent requests really generate in parallel.
  const Retriever reference = fresh_retriever();
  std::vector<SearchResponse> want;
  for (size_t i = 0; i < queries.size(); ++i)
    want.push_back(reference.search(queries[i], 5, i % 2 ? QueryMode::Direct : QueryMode::Reason));

  constexpr int kThreads = 16, kRequests = 3;
  std::vector<std::future<void>> clients;
  for (int t = 0; t < kThreads; ++t) {
    clients.push_back(std::async(std::launch::async, [&, t] {
      for (int r = 0; r < kRequests; ++r) {
        const size_t q = (t * kRequests + r) % queries.size();
        auto [status, body] =
            post("/search", json{{"query", queries[q]}, {"k", 5}, {"mode", q % 2 ? "direct" : "reason"}}.dump());
        ASSERT_EQ(status, 200) << body;
        expect_same(body, want[q]);
      }
    }));
  }
  for (auto& c : clients) ASSERT_EQ(c.wait_for(seconds(120)), std::future_status::ready);
}

TEST_F(ServerTest, StopEndsRunPromptlyAndServersRunOnce) {
  Server server(retriever(), test_options());
  const int port = server.bind();
  EXPECT_EQ(server.bind(), port);
  EXPECT_NE(port, service_->server.port());
  {
    Running running(server);
    ASSERT_TRUE(server.running());
    httplib::Client c = client(port);
    ASSERT_TRUE(c.Get("/healthz"));
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(running.stop());
    EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
    EXPECT_FALSE(server.running());
    EXPECT_FALSE(c.Get("/healthz"));  // nothing listens any more
  }
  EXPECT_THROW(server.run(), InvalidArgument);
}

TEST_F(ServerTest, StopBeforeRunMakesRunReturnAtOnce) {
  Server server(retriever(), test_options());
  server.stop();
  auto done = std::async(std::launch::async, [&] { server.run(); });
  ASSERT_EQ(done.wait_for(seconds(5)), std::future_status::ready);
}

TEST_F(ServerTest, BindingATakenPortIsAnIoError) {
  ServerOptions o = test_options();
  o.port = service_->server.port();
  Server second(retriever(), o);
  EXPECT_THROW(second.bind(), IoError);
}

TEST_F(ServerTest, InvalidOptionsAreRefused) {
  ServerOptions o = test_options();
  o.default_mode = "fast";
  EXPECT_THROW(Server(retriever(), o), InvalidArgument);
  o = test_options();
  o.max_k = 0;
  EXPECT_THROW(Server(retriever(), o), InvalidArgument);
  o = test_options();
  o.port = 70000;
  EXPECT_THROW(Server(retriever(), o), InvalidArgument);
}

}  // namespace
}  // namespace lrem
