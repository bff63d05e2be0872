// The HTTP service against the library it wraps: a real server on a loopback port, a real
// HTTP client, answers compared with Retriever/Embedder called directly.
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "lrem/error.h"
#include "lrem/retriever.h"
#include "lrem/server.h"
#include "model/chat_format.h"
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
  o.max_body_bytes = 65536;
  o.max_k = 50;
  o.max_batch = 8;
  o.max_query_bytes = 256;
  o.max_results = 100;
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
  static std::pair<int, json> post(const std::string& path, const std::string& body,
                                   const char* content_type = "application/json") {
    httplib::Client c = client(service_->server.port());
    httplib::Result res = c.Post(path.c_str(), body, content_type);
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

// POST /v1/chat/completions: the served model's own generation of the rendered chat, in
// OpenAI's response shape.
TEST_F(ServerTest, ChatCompletionEqualsTheModelsGeneration) {
  const Model& model = retriever().embedder().model();
  const ChatFormat format = ChatFormat::for_tokenizer(model.tokenizer());
  const std::vector<ChatMessage> chat = {{"system", "You name products."}, {"user", "Once upon a time"}};
  GenerationOptions g;
  g.max_new_tokens = 9;
  const Generation want = model.generate(format.render(chat), g);
  ASSERT_FALSE(want.text.empty());
  const json request = {{"model", "teacher-1"},
                        {"messages", json::array({json{{"role", "system"}, {"content", "You name products."}},
                                                  json{{"role", "user"}, {"content", "Once upon a time"}}})},
                        {"max_tokens", 9},
                        {"temperature", 0},
                        {"user", "someone"},
                        {"stream", false}};
  auto [status, body] = post("/v1/chat/completions", request.dump());
  ASSERT_EQ(status, 200) << body;
  EXPECT_EQ(body.at("object"), "chat.completion");
  EXPECT_EQ(body.at("model"), "teacher-1");
  EXPECT_EQ(body.at("id").get<std::string>().rfind("chatcmpl-", 0), 0u);
  const json& choice = body.at("choices").at(0);
  EXPECT_EQ(choice.at("message").at("role"), "assistant");
  EXPECT_EQ(choice.at("message").at("content"), want.text);
  EXPECT_EQ(choice.at("finish_reason"), want.finish_reason);
  EXPECT_EQ(body.at("usage").at("prompt_tokens"), want.prompt_ids.size());
  EXPECT_EQ(body.at("usage").at("completion_tokens"), want.token_ids.size());
  EXPECT_EQ(body.at("usage").at("total_tokens"), want.prompt_ids.size() + want.token_ids.size());

  // A stop string ends the reply before it.
  const std::string word = want.text.substr(want.text.find_first_not_of(' '), 3);
  json stopped = request;
  stopped["stop"] = json::array({word});
  auto [status2, body2] = post("/v1/chat/completions", stopped.dump());
  ASSERT_EQ(status2, 200) << body2;
  EXPECT_EQ(body2.at("choices").at(0).at("message").at("content"), want.text.substr(0, want.text.find(word)));
  EXPECT_EQ(body2.at("choices").at(0).at("finish_reason"), "stop");
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
      {"/v1/chat/completions", R"({"messages": []})"},
      {"/v1/chat/completions", R"({"messages": [{"role": "tool", "content": "x"}]})"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user"}]})"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "stream": true})"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "n": 2})"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0})"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "temperature": -1})"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "presence_penalty": 1})"},
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "tools": []})"},
  };
  for (const auto& [path, body] : cases) {
    auto [status, reply] = post(path, body);
    EXPECT_EQ(status, 400) << path << " " << body << " -> " << reply;
    EXPECT_FALSE(reply.value("error", "").empty()) << body;
    EXPECT_EQ(reply.value("error", "").find("json.exception"), std::string::npos) << reply;
  }
}

TEST_F(ServerTest, OverLimitsGet413) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/search", json{{"query", "shoes"}, {"k", 51}}.dump()},
      {"/search", R"({"query": "shoes", "k": 18446744073709551615})"},
      {"/search", json{{"query", std::string(257, 'a')}}.dump()},
      {"/search", json{{"queries", std::vector<std::string>(9, "shoes")}}.dump()},
      {"/embed", json{{"texts", std::vector<std::string>(9, "shoes")}}.dump()},
      {"/search", json{{"query", "shoes"}, {"pad", std::string(70000, 'x')}}.dump()},  // body over 65536 bytes
      {"/search", json{{"queries", std::vector<std::string>(3, "shoes")}, {"k", 34}}.dump()},  // 102 results
      {"/v1/chat/completions", R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 513})"},
      {"/v1/chat/completions",
       json{{"messages", std::vector<json>(9, json{{"role", "user"}, {"content", "x"}})}}.dump()},
  };
  for (const auto& [path, body] : cases) {
    auto [status, reply] = post(path, body);
    EXPECT_EQ(status, 413) << path << " " << body.substr(0, 80) << " -> " << reply;
    EXPECT_FALSE(reply.value("error", "").empty());
  }
}

// curl -d sends application/x-www-form-urlencoded, which httplib caps at 8 KiB by itself.
TEST_F(ServerTest, BodiesUpToTheLimitAreReadWhateverTheContentType) {
  const std::string padded = "{\"query\": \"red shoes\", \"k\": 3" + std::string(20000, ' ') + "}";
  for (const char* type : {"application/x-www-form-urlencoded", "text/plain", "application/json"}) {
    auto [status, body] = post("/search", padded, type);
    ASSERT_EQ(status, 200) << type << " -> " << body;
    expect_same(body, retriever().search("red shoes", 3, QueryMode::Reason));
  }
  const std::string over = "{\"query\": \"red shoes\"" + std::string(70000, ' ') + "}";
  auto [status, body] = post("/search", over, "application/x-www-form-urlencoded");
  EXPECT_EQ(status, 413);
  EXPECT_EQ(body.at("error"), "the request body is over the limit of 65536 bytes");

  std::tie(status, body) = post("/search", "--x\r\n\r\n{}\r\n--x--\r\n", "multipart/form-data; boundary=x");
  EXPECT_EQ(status, 415) << body;
  EXPECT_NE(body.at("error").get<std::string>().find("multipart/form-data"), std::string::npos);
}

TEST_F(ServerTest, ResultsPerRequestAreCapped) {
  auto [status, body] = post("/search", json{{"queries", {"boots", "toys"}}, {"k", 50}}.dump());  // 100: at the limit
  EXPECT_EQ(status, 200) << body;
  std::tie(status, body) = post("/search", json{{"queries", {"boots", "toys", "hats"}}, {"k", 34}}.dump());
  EXPECT_EQ(status, 413);
  EXPECT_EQ(body.at("error"), "3 queries x k 34 = 102 results, over the limit of 100 per request; lower k or split the batch");
}

size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

// The largest request the default limits allow, on a catalogue large enough to fill it,
// must not leave the server holding much more memory than before.
TEST_F(ServerTest, TheWorstValidRequestKeepsMemoryBounded) {
  constexpr int kItems = 20000;
  Embedder embedder(*model_);
  std::vector<Item> items;
  std::vector<float> vectors(size_t(kItems) * embedder.dim());
  std::vector<int64_t> ids(kItems);
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  for (float& v : vectors) v = normal(rng);
  for (int i = 0; i < kItems; ++i) {
    ids[i] = i;
    items.push_back({i, "Catalogue item number " + std::to_string(i),
                     R"({"category": "general merchandise", "price": 19.99, "in_stock": true})"});
  }
  Index index(embedder.dim());
  index.set_model_fingerprint(embedder.fingerprint());
  index.add(vectors.data(), ids.data(), kItems);
  const Retriever big(std::move(embedder), std::move(index), ItemStore(std::move(items)));
  ServerOptions o;  // the defaults, as `lrem serve` starts
  o.port = 0;
  o.quiet = true;
  Server server(big, o);
  Running running(server);

  std::vector<std::string> queries;
  for (int i = 0; i < o.max_batch; ++i) queries.push_back("query number " + std::to_string(i));
  const int k = o.max_results / o.max_batch;
  httplib::Client c = client(server.port());
  httplib::Result res = c.Post("/search", json{{"queries", queries}, {"k", o.max_k}, {"mode", "direct"}}.dump(),
                               "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 413);

  const size_t before = resident_bytes();
  for (int round = 0; round < 4; ++round) {
    res = c.Post("/search", json{{"queries", queries}, {"k", k}, {"mode", "direct"}}.dump(), "application/json");
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    EXPECT_EQ(json::parse(res->body).at("results").at(0).at("hits").size(), static_cast<size_t>(k));
  }
  const double grown_mb = (double(resident_bytes()) - double(before)) / (1 << 20);
  std::printf("resident memory grew by %.1f MB over 4 requests of %d results\n", grown_mb, o.max_batch * k);
  if (testing::kRssIsMeaningful) EXPECT_LT(grown_mb, 64.0);
}

// A TCP connection to the server that sends what the test says, when it says.
class RawConnection {
 public:
  explicit RawConnection(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return connected_; }
  bool send(const std::string& bytes) { return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size()); }
  // Everything the server sends until it closes the connection (waiting at most `limit`).
  std::string read_until_closed(std::chrono::seconds limit) {
    timeval tv{static_cast<time_t>(limit.count()), 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd_, buf, sizeof(buf), 0)) > 0) out.append(buf, n);
    closed_ = n == 0;
    return out;
  }
  bool closed_by_server() const { return closed_; }

 private:
  int fd_;
  bool connected_ = false;
  bool closed_ = false;
};

TEST_F(ServerTest, SlowAndIdleClientsDoNotStarveOthers) {
  ServerOptions o = test_options();
  o.threads = 1;
  o.request_timeout_ms = 1500;
  o.idle_timeout_ms = 20000;  // the idle connections stay open for the whole test
  Server server(retriever(), o);
  Running running(server);
  const int port = server.port();

  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 50; ++i) {
    idle.push_back(std::make_unique<RawConnection>(port));
    ASSERT_TRUE(idle.back()->connected());
  }
  // Two slow-loris clients, a byte every 100 ms: one trickles its headers, the other its body.
  std::atomic<bool> done{false};
  std::vector<std::future<std::pair<bool, std::string>>> slow;
  for (bool slow_headers : {true, false}) {
    slow.push_back(std::async(std::launch::async, [&, port, slow_headers] {
      RawConnection conn(port);
      const std::string headers = "POST /search HTTP/1.1\r\nHost: x\r\nContent-Length: 50000\r\n\r\n";
      if (!slow_headers) conn.send(headers);
      const std::string trickle = slow_headers ? headers : std::string(50000, ' ');
      for (char ch : trickle) {
        if (done || !conn.send(std::string(1, ch))) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      const std::string reply = conn.read_until_closed(seconds(5));
      return std::make_pair(conn.closed_by_server(), reply);
    }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Meanwhile others are served; the client's read timeout is the bound.
  for (int round = 0; round < 3; ++round) {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(seconds(2));
    c.set_read_timeout(seconds(2));
    httplib::Result res = c.Get("/healthz");
    ASSERT_TRUE(res) << "round " << round << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    res = c.Post("/search", R"({"query": "red shoes", "k": 2, "mode": "direct"})", "application/json");
    ASSERT_TRUE(res) << "round " << round << ": " << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
  }
  // The slow clients were cut off at the request timeout; the one that got as far as its
  // body is told why.
  for (auto& f : slow) ASSERT_EQ(f.wait_for(seconds(10)), std::future_status::ready);
  const auto [headers_closed, headers_reply] = slow[0].get();
  EXPECT_TRUE(headers_closed);
  const auto [body_closed, body_reply] = slow[1].get();
  EXPECT_TRUE(body_closed);
  EXPECT_NE(body_reply.find("not received in full within 1500 ms"), std::string::npos) << body_reply;
  done = true;
  // An idle connection can still send a request.
  ASSERT_TRUE(idle.front()->send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_NE(idle.front()->read_until_closed(seconds(5)).find("200 OK"), std::string::npos);
}

TEST_F(ServerTest, ConnectionsBeyondTheLimitGet503) {
  ServerOptions o = test_options();
  o.max_connections = 3;
  Server server(retriever(), o);
  Running running(server);
  std::vector<std::unique_ptr<RawConnection>> open;
  for (int i = 0; i < 3; ++i) open.push_back(std::make_unique<RawConnection>(server.port()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the server take them up
  RawConnection extra(server.port());
  const std::string reply = extra.read_until_closed(seconds(5));
  EXPECT_EQ(reply.rfind("HTTP/1.1 503", 0), 0u) << reply;
  EXPECT_NE(reply.find("limit of 3 open connections"), std::string::npos) << reply;
  open.clear();
  // Once they close, the server takes new connections again.
  int status = 0;
  for (int attempt = 0; attempt < 50 && status != 200; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (httplib::Result res = client(server.port()).Get("/healthz")) status = res->status;
  }
  EXPECT_EQ(status, 200);
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
  o = test_options();
  o.max_results = 0;
  EXPECT_THROW(Server(retriever(), o), InvalidArgument);
  o = test_options();
  o.request_timeout_ms = -1;
  EXPECT_THROW(Server(retriever(), o), InvalidArgument);
}

}  // namespace
}  // namespace lrem
