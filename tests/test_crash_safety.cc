// Crash safety: a process killed with SIGKILL at a random moment while saving never
// leaves a torn file where a good one was. Each trial starts a writer process (this binary,
// re-executed) that saves two versions of an artifact alternately over the same path,
// kills it after a random delay, and checks that what is on disk loads and equals one of
// the two versions exactly. An index directory (index + catalogue + meta.json) gets 200
// trials from a forked writer, and what loads must be one version's index with the same
// version's catalogue. A training run killed at a random step resumes from its last
// checkpoint and ends with the same weights as an uninterrupted run.
//
// LREM_CRASH_TRIALS sets the trials per re-executed artifact (default 12, bounded by a time
// budget) and, scaled alike, the index directory's (default 200); docs/RELIABILITY.md records a
// long run.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
#include "lrem/retriever.h"
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

constexpr int kDefaultTrials = 12;

int trials() {
  const char* env = std::getenv("LREM_CRASH_TRIALS");
  return env && std::atoi(env) > 0 ? std::atoi(env) : kDefaultTrials;
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

// The catalogue of index_version(v): its ids, titles naming the version, and a long field so
// that writing it takes long enough for kills to land inside.
ItemStore catalogue_version(int v) {
  std::vector<Item> items;
  const std::string padding(400, char('a' + v));
  for (int i = 0; i < 200 + 100 * v; ++i) {
    const int64_t id = int64_t(i) * (v + 1);
    items.push_back({id, "item " + std::to_string(id) + " of version " + std::to_string(v),
                     "{\"text\":\"" + padding + "\"}"});
  }
  return ItemStore(std::move(items));
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
  std::vector<ItemStore> stores;
  if (kind == "checkpoint") {
    models = {checkpoint_version(0), checkpoint_version(1)};
    save = [&](int v) { models[v].save(dir); };
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
// ".name.tmp<pid>-<n>") and says whether there were any: evidence that the kill landed in
// the middle of a save. They are harmless, only clutter.
bool remove_leftovers(const std::string& dir) {
  bool any = false;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find(".tmp") == std::string::npos) continue;
    any = true;
    fs::remove(e.path());
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
    const std::string fp = Model::load(dir).fingerprint();
    return fp == fingerprints[0] ? 0 : fp == fingerprints[1] ? 1 : -1;
  }, std::chrono::milliseconds(30));
}

// Which version an index directory holds, or -1 if its index and catalogue disagree.
int unit_version(const std::string& dir) {
  const Index index = Index::load(dir);
  const ItemStore items = load_index_items(dir);
  const int v = index.model_fingerprint() == "version-1" ? 1 : 0;
  const ItemStore expected = catalogue_version(v);
  if (index.size() != index_version(v).size() || items.size() != expected.size()) return -1;
  for (const Item& item : expected.items()) {
    const std::optional<Item> got = items.find(item.id);
    if (!got || got->title != item.title || got->extra_json != item.extra_json) return -1;
  }
  std::vector<float> probe(16, 0.25f);
  return index.search(probe.data(), 1, 5).ids == index_version(v).search(probe.data(), 1, 5).ids ? v : -1;
}

// Where a kill interrupted the save, read from what it left: nothing staged (between saves
// or inside a temporary file), staged files not yet committed, or committed by meta.json
// but not yet renamed into place.
enum class Interrupted { Elsewhere, BeforeCommit, AfterCommit };

Interrupted interrupted_where(const std::string& dir) {
  const auto meta = nlohmann::json::parse(read_file(dir + "/meta.json"));
  bool staged = false;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    for (const char* file : {"index.faiss", "items.sqlite"}) {
      const std::string prefix = std::string(file) + ".";
      if (name.rfind(prefix, 0) != 0) continue;
      const std::string digest = name.substr(prefix.size());
      if (digest == meta.value(file == std::string("index.faiss") ? "index_sha256" : "catalogue_id", "")) {
        return Interrupted::AfterCommit;
      }
      staged = true;
    }
  }
  return staged ? Interrupted::BeforeCommit : Interrupted::Elsewhere;
}

// The writer is forked without exec: both versions are built before the fork and the child
// only serialises and writes (no OpenMP, no BLAS), so the trials are cheap enough for 200.
TEST(CrashSafety, IndexDirectorySaveKilledNeverPairsAnIndexWithAnotherCatalogue) {
  TempDir tmp;
  const std::string dir = tmp.file("index");
  const Index indexes[2] = {index_version(0), index_version(1)};
  const ItemStore catalogues[2] = {catalogue_version(0), catalogue_version(1)};
  save_index(indexes[0], catalogues[0], dir);
  const auto one_save = Clock::now();
  save_index(indexes[1], catalogues[1], dir, /*overwrite=*/true);
  const auto save_time = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - one_save);

  std::mt19937 rng(std::random_device{}());
  // Up to two saves' time: kills land at every step of a save, and between saves.
  std::uniform_int_distribution<int64_t> delay(0, 2 * std::max<int64_t>(save_time.count(), 1000));
  const int n = trials() * 200 / kDefaultTrials;
  int seen[2] = {0, 0}, where[3] = {0, 0, 0};
  for (int trial = 0; trial < n; ++trial) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      try {
        for (int v = 1;; v ^= 1) save_index(indexes[v], catalogues[v], dir, /*overwrite=*/true);
      } catch (...) {
        _exit(1);
      }
    }
    kill_after(child, std::chrono::microseconds(delay(rng)));
    ++where[int(interrupted_where(dir))];
    const int version = unit_version(dir);
    ASSERT_TRUE(version == 0 || version == 1) << "trial " << trial << " loaded an index with another save's catalogue";
    ++seen[version];
  }
  std::printf("[ crash ] index directory: %d trials (one save %lld us); killed before the commit with files staged: "
              "%d, after it before the renames: %d, elsewhere: %d; loaded version 0: %d, version 1: %d\n",
              n, static_cast<long long>(save_time.count()), where[int(Interrupted::BeforeCommit)],
              where[int(Interrupted::AfterCommit)], where[int(Interrupted::Elsewhere)], seen[0], seen[1]);
}

// Every state a crash between two writes of save_index can leave, made by hand, and what a
// reader must do with it.
TEST(CrashSafety, IndexDirectoryStatesBetweenWrites) {
  TempDir tmp;
  const std::string dir = tmp.file("index"), old_dir = tmp.file("old");
  save_index(index_version(0), catalogue_version(0), old_dir);
  save_index(index_version(1), catalogue_version(1), dir);
  const auto meta = nlohmann::json::parse(read_file(dir + "/meta.json"));
  const std::string index_digest = meta["index_sha256"], catalogue_id = meta["catalogue_id"];
  // Committed, neither file renamed yet: the old pair is in place, the new one staged.
  fs::rename(dir + "/index.faiss", dir + "/index.faiss." + index_digest);
  fs::rename(dir + "/items.sqlite", dir + "/items.sqlite." + catalogue_id);
  fs::copy_file(old_dir + "/index.faiss", dir + "/index.faiss");
  fs::copy_file(old_dir + "/items.sqlite", dir + "/items.sqlite");
  EXPECT_EQ(unit_version(dir), 1);
  // Committed, index renamed, catalogue not yet (reading it above rolled the catalogue
  // forward, so stage it again).
  fs::rename(dir + "/items.sqlite", dir + "/items.sqlite." + catalogue_id);
  fs::copy_file(old_dir + "/items.sqlite", dir + "/items.sqlite");
  fs::rename(dir + "/index.faiss." + index_digest, dir + "/index.faiss");
  EXPECT_EQ(unit_version(dir), 1);
  // A catalogue that meta.json did not commit (another save's database, or a copy) is
  // refused with what to do, never paired with the index.
  fs::remove(dir + "/items.sqlite");
  fs::copy_file(old_dir + "/items.sqlite", dir + "/items.sqlite");
  try {
    load_index_items(dir);
    ADD_FAILURE() << "a catalogue from another save was accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("catalogue_id"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--overwrite"), std::string::npos) << e.what();
  }
  // The next save finishes the job and leaves nothing staged.
  save_index(index_version(1), catalogue_version(1), dir, /*overwrite=*/true);
  EXPECT_EQ(unit_version(dir), 1);
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    EXPECT_EQ(std::count(name.begin(), name.end(), '.'), 1) << "staged file left behind: " << name;
  }
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
