#include "train/trainer.h"

#include <ATen/autocast_mode.h>

#include <ATen/Context.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <numeric>
#include <optional>
#include <random>

#include "model/checkpoint.h"
#include "util/file_io.h"
#include "lrem/error.h"
#include "model/model_access.h"
#include "train/adapter.h"
#include "train/losses.h"
#include "train/metrics_log.h"
#include "train/schedule.h"

namespace lrem::train {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStateFile = "trainer_state.json";
constexpr const char* kOptimizerFile = "optimizer.safetensors";

std::string checkpoint_dir(const std::string& output_dir, int64_t step) {
  return (fs::path(output_dir) / ("checkpoint-" + std::to_string(step))).string();
}

}  // namespace

std::unique_ptr<DataParallel> join_process_group(const TrainingConfig& config) {
  if (config.world_size > 1)
    return std::make_unique<DataParallel>(config.world_size, config.rank, config.master_addr, config.master_port);
  return DataParallel::from_environment();
}

std::pair<std::string, int64_t> Trainer::latest_checkpoint(const std::string& output_dir) {
  std::pair<std::string, int64_t> best{"", 0};
  if (!fs::is_directory(output_dir)) return best;
  for (const auto& entry : fs::directory_iterator(output_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("checkpoint-", 0) != 0 || !fs::exists(entry.path() / kStateFile)) continue;
    const auto state = nlohmann::json::parse(read_file((entry.path() / kStateFile).string()), nullptr, false);
    if (state.is_discarded() || !state.contains("step")) {
      throw FormatError((entry.path() / kStateFile).string() + ": not a trainer state (expected {\"step\": ...})");
    }
    const int64_t step = state["step"].get<int64_t>();
    if (step > best.second) best = {entry.path().string(), step};
  }
  return best;
}

Trainer::Trainer(const TrainingConfig& config, std::string stage, Model& model, size_t num_examples,
                 DataParallel& dp, int updates_per_step, std::string base_model)
    : config_(config), stage_(std::move(stage)), base_model_(std::move(base_model)), model_(model),
      num_examples_(num_examples),
      updates_per_step_(updates_per_step), dp_(dp) {
  if (num_examples == 0) throw InvalidArgument(stage_ + ": no training examples");
  if (updates_per_step < 1) throw InvalidArgument(stage_ + ": updates per step must be >= 1");
  const size_t global_batch = size_t(config.batch_size) * config.grad_accum * dp.world_size();
  steps_per_epoch_ = std::max<int64_t>(1, int64_t(num_examples / global_batch));
  total_steps_ = config.max_steps > 0 ? config.max_steps : config.epochs * steps_per_epoch_;
  ensure_directory(config.output_dir);

  // Every rank must run the same collectives in the same order.
  uint64_t schedule = 1469598103934665603ull;
  for (uint64_t v : {uint64_t(num_examples), uint64_t(config.batch_size), uint64_t(config.grad_accum),
                     uint64_t(total_steps_), uint64_t(config.log_every), uint64_t(config.save_every), config.seed,
                     uint64_t(config.resume), uint64_t(updates_per_step), uint64_t(config.lora.r)})
    schedule = (schedule ^ v) * 1099511628211ull;
  dp_.require_same(schedule, "the data size, batch, step, logging or checkpoint settings");

  auto& m = ModelAccess::trainable_parts(model_);
  // Training runs and checkpoints in float32 whatever the source model was stored as, so a
  // resumed run continues from exactly the weights it stopped with.
  m.config.torch_dtype = "float32";
  std::string resume_dir;
  if (config.resume) {
    std::tie(resume_dir, start_step_) = latest_checkpoint(config.output_dir);
    if (!resume_dir.empty()) {
      const auto state = nlohmann::json::parse(read_file((fs::path(resume_dir) / kStateFile).string()));
      if (state.value("stage", stage_) != stage_)
        throw InvalidArgument(resume_dir + " is a '" + state.value("stage", "") + "' checkpoint; cannot resume '" +
                              stage_ + "' from it (use another output_dir)");
      if (!config.lora.enabled()) m.transformer.load_parameters(load_checkpoint_tensors(resume_dir), resume_dir);
    }
  }
  if (config.lora.enabled()) {
    // The backbone stays as loaded (a resumed run rebuilds it the same way); the adapter
    // starts fresh or from the checkpoint.
    m.transformer.set_requires_grad(false);
    const LoraSpec spec = lora_spec(config.lora, m.prompt());
    m.transformer.attach_lora(spec, resume_dir.empty() ? std::map<std::string, at::Tensor>{} : load_adapter(resume_dir).tensors,
                              config.seed);
  } else {
    m.transformer.set_requires_grad(true);
  }
  m.transformer.set_gradient_checkpointing(config.gradient_checkpointing);
  m.invalidate();
  dp_.broadcast_parameters(m.transformer.trainable_parameters());
  optimizer_ = std::make_unique<AdamW>(
      m.transformer.trainable_parameters(),
      AdamWOptions{config.adam_beta1, config.adam_beta2, config.adam_eps, config.weight_decay});
  if (!resume_dir.empty()) optimizer_->load((fs::path(resume_dir) / kOptimizerFile).string());
}

Trainer::~Trainer() = default;

std::vector<size_t> Trainer::micro_batch(int64_t step, int micro) {
  const int64_t epoch = step / steps_per_epoch_;
  if (epoch != order_epoch_) {
    order_.resize(num_examples_);
    std::iota(order_.begin(), order_.end(), size_t(0));
    std::mt19937_64 rng(config_.seed * 0x9E3779B97F4A7C15ull + uint64_t(epoch));
    std::shuffle(order_.begin(), order_.end(), rng);
    order_epoch_ = epoch;
  }
  // The global batch is laid out micro-batch-major, then rank: one process with grad_accum
  // k sees the same examples as k processes with grad_accum 1.
  const size_t global_batch = size_t(config_.batch_size) * config_.grad_accum * dp_.world_size();
  const size_t first = size_t(step % steps_per_epoch_) * global_batch +
                       size_t(micro * dp_.world_size() + dp_.rank()) * config_.batch_size;
  std::vector<size_t> out(config_.batch_size);
  for (size_t i = 0; i < out.size(); ++i) out[i] = order_[(first + i) % num_examples_];
  return out;
}

void Trainer::save_checkpoint(int64_t step) const {
  if (dp_.is_main()) {
    const std::string dir = checkpoint_dir(config_.output_dir, step);
    if (config_.lora.enabled())
      save_adapter(dir, ModelAccess::parts(model_).transformer, base_model_);
    else
      model_.save(dir);
    optimizer_->save((fs::path(dir) / kOptimizerFile).string());
    const nlohmann::json state = {{"stage", stage_}, {"step", step}, {"total_steps", total_steps_},
                                  {"seed", config_.seed}};
    write_file_atomic((fs::path(dir) / kStateFile).string(), state.dump(2) + "\n");
  }
  dp_.barrier();
}

namespace {

// precision "bfloat16": libtorch's CPU autocast for the training steps (it is thread-local, and the
// trainer's steps run on the calling thread), restored afterwards. Its cache of bfloat16
// weight copies is off: a copy made under inference mode (GRPO's sampling, stage 1's
// catalogue) cannot enter a backward pass, and an optimiser step would make every copy stale.
class MixedPrecision {
 public:
  explicit MixedPrecision(const std::string& precision)
      : on_(precision == "bfloat16"),
        was_enabled_(at::autocast::is_cpu_enabled()),
        was_caching_(at::autocast::is_autocast_cache_enabled()),
        was_dtype_(at::autocast::get_autocast_cpu_dtype()) {
    if (!on_) return;
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_autocast_cache_enabled(false);
    at::autocast::set_cpu_enabled(true);
  }
  ~MixedPrecision() {
    if (!on_) return;
    at::autocast::set_cpu_enabled(was_enabled_);
    at::autocast::set_autocast_cache_enabled(was_caching_);
    at::autocast::set_autocast_cpu_dtype(was_dtype_);
  }
  MixedPrecision(const MixedPrecision&) = delete;
  MixedPrecision& operator=(const MixedPrecision&) = delete;

 private:
  bool on_, was_enabled_, was_caching_;
  at::ScalarType was_dtype_;
};

}  // namespace

TrainResult Trainer::run(const MicroStep& micro_step) {
  const auto started = std::chrono::steady_clock::now();
  const auto& params = ModelAccess::parts(model_).transformer.trainable_parameters();
  const int64_t warmup = int64_t(std::ceil(config_.warmup_ratio * double(total_steps_)));
  const CosineSchedule schedule(config_.lr, config_.min_lr_ratio, warmup, total_steps_);
  std::unique_ptr<MetricsLog> log;
  if (dp_.is_main()) {
    log = std::make_unique<MetricsLog>((fs::path(config_.output_dir) / "metrics.jsonl").string(), stage_,
                                       total_steps_, start_step_, config_.quiet, config_.on_progress);
  }
  TrainResult result;
  result.output_dir = config_.output_dir;
  Metrics window;  // sums since the last log line
  int64_t window_steps = 0;
  // Only the steps: merging LoRA adapters below must multiply in float32.
  std::optional<MixedPrecision> precision(std::in_place, config_.precision);
  for (int64_t step = start_step_; step < total_steps_; ++step) {
    const double lr = schedule.lr(step);
    const double share = 1.0 / (double(config_.grad_accum) * updates_per_step_);
    for (int update = 0; update < updates_per_step_; ++update) {
      optimizer_->zero_grad();
      for (int micro = 0; micro < config_.grad_accum; ++micro) {
        // LoRA dropout draws from the default generator: seeded from (seed, step, ...) it
        // draws the same masks after a resume.
        if (config_.lora.dropout > 0)
          at::manual_seed(config_.seed ^ (uint64_t(step) * 0x9E3779B97F4A7C15ull + uint64_t(micro * 131 + update) * 8191 +
                                          uint64_t(dp_.rank())));
        const Metrics m = micro_step({micro_batch(step, micro), step, micro, update, 1.0 / config_.grad_accum});
        for (const auto& [k, v] : m) window[k] += v * share;
      }
      dp_.all_reduce_gradients(params);
      window["grad_norm"] += clip_grad_norm(params, config_.clip_norm) / updates_per_step_;
      optimizer_->step(lr);
    }
    window["lr"] += lr;
    ++window_steps;
    const int64_t done = step + 1;
    if (done % config_.log_every == 0 || done == total_steps_) {
      for (auto& [k, v] : window) v /= double(window_steps);
      const Metrics averaged = dp_.mean(window);
      if (log) log->log(done, averaged);
      result.final_metrics = averaged;
      window.clear();
      window_steps = 0;
    }
    if (done == total_steps_ || (config_.save_every > 0 && done % config_.save_every == 0)) save_checkpoint(done);
  }
  precision.reset();
  if (config_.lora.enabled()) {
    // The final model is the merged one, a plain Hugging Face directory; the adapter is kept.
    auto& m = ModelAccess::trainable_parts(model_);
    if (dp_.is_main()) save_adapter((fs::path(config_.output_dir) / "adapter").string(), m.transformer, base_model_);
    m.transformer.merge_lora();
    m.invalidate();
  }
  if (dp_.is_main()) model_.save(config_.output_dir);
  dp_.barrier();
  result.steps = total_steps_;
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

Model load_lrem_model(const std::string& dir) { return Model::load(dir).with_lrem_tokens(); }

}  // namespace lrem::train
