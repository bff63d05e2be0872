// Crash safety: a process killed with SIGKILL at a random moment while saving never
// leaves a torn file where a good one was. Each trial starts a writer process (this binary,
// re-executed) that saves two versions of an artifact alternately over the same path,
// kills it after a random delay, and checks that what is on disk loads and equals one of
// the two versions exactly. A training run killed at a random step resumes from its last
// checkpoint and ends with the same weights as an uninterrupted run.
//
// LREM_CRASH_TRIALS sets the trials per artifact (default 12, bounded by a time budget);
// docs/RELIABILITY.md records a long run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "model/checkpoint.h"
#include "util/file_io.h"
#include "lrem/dataset.h"
#include "lrem/error.h"
#include "lrem/index.h"
#include "lrem/model.h"
#include "lrem/train.h"
#include "test_support.h"

namespace lrem {
namespace {

namespace fs = std::filesystem;
using testing::fixture;
using testing::TempDir;
using Clock = std::chrono::steady_clock;

constexpr const char* kKindVariable = "LREM_CRASH_WRITER";
constexpr const char* kDirVariable = "LREM_CRASH_DIR";

int trials() {
  const char* env = std::getenv("LREM_CRASH_TRIALS");
  return env && std::atoi(env) > 0 ? std::atoi(env) : 12;
}

// --- the two versions of each artifact -----------------------------------------------------

Model checkpoint_version(int v) { return testing::small_lrem_model(fixture("stories260K"), 100 + v); }

Index index_version(int v) {
  const int dim = 16, n = 200 + 100 * v;
  std::mt19937 rng(v);
  std::normal_distribution<float> normal;
  std::vector<float> x(size_t(n) * dim);
  for (float& f : x) f = normal(rng);
  std::vector<int64_t> ids(n);
  for (int i = 0; i < n; ++i) ids[i] = int64_t(i) * (v + 1);
  Index index(dim);
  index.set_model_fingerprint("version-" + std::to_string(v));
  index.add(x.data(), ids.data(), n);
  return index;
}

ItemStore items_version(int v) {
  std::vector<Item> items;
  for (int i = 0; i < 2000 + 1000 * v; ++i)
    items.push_back({i, "item " + std::to_string(i) + " of version " + std::to_string(v), "{\"v\":" + std::to_string(v) + "}"});
  return ItemStore(std::move(items));
}

// --- the writer process ----------------------------------------------------------------------

void signal_ready(const std::string& dir) { std::ofstream(dir + ".ready") << "ready\n"; }

// Saves version 1, 0, 1, ... until killed; setup happens before the ready signal so the
// parent's random delay falls on saving.
[[noreturn]] void run_writer(const std::string& kind, const std::string& dir) {
  std::function<void(int)> save;
  std::vector<Model> models;
  std::vector<Index> indexes;
  std::vector<ItemStore> stores;
  if (kind == "checkpoint") {
    models = {checkpoint_version(0), checkpoint_version(1)};
    save = [&](int v) { models[v].save(dir); };
  } else if (kind == "index") {
    indexes.push_back(index_version(0));
    indexes.push_back(index_version(1));
    save = [&](int v) { indexes[v].save(dir); };
  } else {
    stores = {items_version(0), items_version(1)};
    save = [&](int v) { stores[v].save(dir + "/items.jsonl"); };
  }
  signal_ready(dir);
  for (int v = 1;; v ^= 1) save(v);
}

TEST(CrashSafetyWriter, SavesUntilKilled) {
  const char* kind = std::getenv(kKindVariable);
  if (!kind) GTEST_SKIP() << "started by the CrashSafety tests only";
  run_writer(kind, std::getenv(kDirVariable));
}

// Starts this binary as a writer of `kind` into `dir`; returns its pid once it is ready.
pid_t start_writer(const std::string& kind, const std::string& dir, const std::string& filter) {
  std::error_code ec;
  fs::remove(dir + ".ready", ec);
  const pid_t child = fork();
  if (child == 0) {
    // A fresh exec: forking a process that already ran libtorch/OpenMP is unsafe beyond exec.
    setenv(kKindVariable, kind.c_str(), 1);
    setenv(kDirVariable, dir.c_str(), 1);
    const std::string gtest_filter = "--gtest_filter=" + filter;
    execl("/proc/self/exe", "test_crash_safety", gtest_filter.c_str(), nullptr);
    _exit(127);
  }
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (!fs::exists(dir + ".ready")) {
    int status = 0;
    if (waitpid(child, &status, WNOHANG) == child) {
      ADD_FAILURE() << "writer " << kind << " exited early with status " << status;
      return -1;
    }
    if (Clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return child;
}

void kill_after(pid_t child, std::chrono::microseconds delay) {
  std::this_thread::sleep_for(delay);
  kill(child, SIGKILL);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the writer ended on its own: " << status;
}

// Removes the temporary files a killed save left behind (write_file_atomic's hidden
// ".name.tmp<pid>-<n>", the index's staged file) and says whether there were any: evidence
// that the kill landed in the middle of a save. They are harmless, only clutter.
bool remove_leftovers(const std::string& dir) {
  bool any = false;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    const bool staged_index = name.rfind("index.faiss.", 0) == 0;
    if (name.find(".tmp") != std::string::npos || staged_index) {
      any = true;
      // A staged index may be the committed one (see Index::save): leave it for load().
      if (!staged_index) fs::remove(e.path());
    }
  }
  return any;
}

// Runs the trials for one artifact: `check` loads what is on disk and returns which
// version it equals (or fails the test).
void kill_trials(const std::string& kind, const std::string& dir, const std::function<int()>& check,
                 std::chrono::microseconds max_delay) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int64_t> delay(0, max_delay.count());
  const auto budget_end = Clock::now() + std::chrono::seconds(10 * trials());
  int done = 0, mid_save = 0, seen[2] = {0, 0};
  for (; done < trials() && Clock::now() < budget_end; ++done) {
    const pid_t child = start_writer(kind, dir, "CrashSafetyWriter.SavesUntilKilled");
    ASSERT_GT(child, 0);
    kill_after(child, std::chrono::microseconds(delay(rng)));
    const bool interrupted = remove_leftovers(dir);
    mid_save += interrupted;
    const int version = check();
    ASSERT_TRUE(version == 0 || version == 1) << kind << " trial " << done << " loaded garbage";
    ++seen[version];
  }
  std::printf("[ crash ] %s: %d trials, %d killed mid-save, loaded version 0: %d, version 1: %d\n", kind.c_str(),
              done, mid_save, seen[0], seen[1]);
  EXPECT_GT(done, 0);
}

TEST(CrashSafety, CheckpointSaveKilledLeavesAWholeModel) {
  if (fixture("stories260K").empty()) GTEST_SKIP();
  TempDir tmp;
  const std::string dir = tmp.file("model");
  const std::string fingerprints[2] = {checkpoint_version(0).fingerprint(), checkpoint_version(1).fingerprint()};
  checkpoint_version(0).save(dir);
  kill_trials("checkpoint", dir, [&] {
    const std::string fp = Model::load(dir, LoadOptions{"cpu", "float32", 1}).fingerprint();
    return fp == fingerprints[0] ? 0 : fp == fingerprints[1] ? 1 : -1;
  }, std::chrono::milliseconds(30));
}

TEST(CrashSafety, IndexSaveKilledLeavesAWholeIndex) {
  TempDir tmp;
  const std::string dir = tmp.file("index");
  index_version(0).save(dir);
  kill_trials("index", dir, [&] {
    const Index index = Index::load(dir);
    const int v = index.model_fingerprint() == "version-1" ? 1 : 0;
    // The fingerprint lives in meta.json, the vectors in index.faiss: they must agree.
    const Index expected = index_version(v);
    std::vector<float> probe(16, 0.25f);
    EXPECT_EQ(index.size(), expected.size());
    EXPECT_EQ(index.search(probe.data(), 1, 5).ids, expected.search(probe.data(), 1, 5).ids);
    return index.size() == expected.size() ? v : -1;
  }, std::chrono::milliseconds(20));
}

// The states a crash inside Index::save can leave, made by hand: committed meta.json with
// the staged file not yet renamed (also on a first save, with no index.faiss yet).
TEST(CrashSafety, IndexLoadRollsForwardACommittedStagedFile) {
  TempDir tmp;
  const std::string dir = tmp.file("index");
  index_version(1).save(dir);
  const std::string digest = nlohmann::json::parse(read_file(dir + "/meta.json"))["index_sha256"];
  fs::rename(dir + "/index.faiss", dir + "/index.faiss." + digest);
  EXPECT_EQ(Index::load(dir).size(), index_version(1).size());  // first save: no index.faiss
  index_version(0).save(tmp.file("old"));
  fs::copy_file(tmp.file("old") + "/index.faiss", dir + "/index.faiss");
  EXPECT_EQ(Index::load(dir).size(), index_version(1).size());  // later save: old index.faiss
  fs::remove(dir + "/index.faiss." + digest);
  EXPECT_THROW(Index::load(dir), FormatError);  // neither matches: refused, never mixed
  index_version(1).save(dir);
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().rfind("index.faiss.", 0), std::string::npos) << "staged file left behind";
}

TEST(CrashSafety, ItemStoreSaveKilledLeavesAWholeFile) {
  TempDir tmp;
  const std::string dir = tmp.file("items");
  fs::create_directories(dir);
  items_version(0).save(dir + "/items.jsonl");
  const ItemStore versions[2] = {items_version(0), items_version(1)};
  kill_trials("items", dir, [&] {
    const ItemStore loaded = ItemStore::load(dir + "/items.jsonl");
    for (int v = 0; v < 2; ++v) {
      if (loaded.size() != versions[v].size()) continue;
      for (const Item& item : versions[v].items()) {
        const Item& got = loaded.at(item.id);
        if (got.title != item.title || got.extra_json != item.extra_json) return -1;
      }
      return v;
    }
    return -1;
  }, std::chrono::milliseconds(100));
}

// --- training -------------------------------------------------------------------------------

PretrainConfig tiny_run(const std::string& dir, const std::string& corpus) {
  PretrainConfig c;
  c.output_dir = dir;
  c.corpus = corpus;
  c.tokenizer = fixture("stories260K");
  c.model = testing::tiny_training_architecture();
  c.seq_len = 16;
  c.batch_size = 4;
  c.max_steps = 24;
  c.save_every = 2;
  c.log_every = 1;
  c.num_threads = 1;
  c.quiet = true;
  c.seed = 3;
  return c;
}

std::string write_corpus(const std::string& path) {
  std::ofstream out(path);
  for (int i = 0; i < 60; ++i) out << "once upon a time a cat number " << i << " sat on a mat and looked at the sky.\n";
  return path;
}

TEST(CrashSafetyTrainer, TrainsUntilKilled) {
  const char* dir = std::getenv(kDirVariable);
  if (!std::getenv(kKindVariable) || !dir) GTEST_SKIP() << "started by CrashSafety.TrainingKilledResumesExactly only";
  PretrainConfig c = tiny_run(dir, std::getenv("LREM_CRASH_CORPUS"));
  c.on_progress = [&](const TrainProgress& p) {
    if (p.step == 1) signal_ready(dir);
  };
  pretrain(c);
}

TEST(CrashSafety, TrainingKilledResumesExactly) {
  if (fixture("stories260K").empty()) GTEST_SKIP();
  TempDir tmp;
  const std::string corpus = write_corpus(tmp.file("corpus.txt"));
  const std::string straight = tmp.file("straight");
  pretrain(tiny_run(straight, corpus));
  const auto expected = load_checkpoint_tensors(straight);

  setenv("LREM_CRASH_CORPUS", corpus.c_str(), 1);
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> delay_ms(0, 400);
  const int n = std::max(3, trials() / 4);
  for (int trial = 0; trial < n; ++trial) {
    const std::string dir = tmp.file("killed-" + std::to_string(trial));
    const pid_t child = start_writer("training", dir, "CrashSafetyTrainer.TrainsUntilKilled");
    ASSERT_GT(child, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    PretrainConfig resumed = tiny_run(dir, corpus);
    resumed.resume = true;
    const TrainResult r = pretrain(resumed);
    EXPECT_EQ(r.steps, 24);
    const auto got = load_checkpoint_tensors(dir);
    ASSERT_EQ(got.size(), expected.size());
    for (const auto& [name, t] : expected) EXPECT_TRUE(at::equal(t, got.at(name))) << "trial " << trial << ": " << name;
  }
  unsetenv("LREM_CRASH_CORPUS");
}

}  // namespace
}  // namespace lrem
