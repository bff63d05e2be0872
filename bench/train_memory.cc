// Issue 12, point 6: what one LREM stage-1 step (SFT + InfoNCE) costs in memory and time on
// a real-size backbone, full fine-tuning vs LoRA, with and without gradient checkpointing.
// One configuration per process, because peak RSS only grows: run it once per row.
//
//   bench_train_memory --model DIR --triplets triplets.jsonl --work DIR --mode full|lora
//                      [--checkpointing] [--steps 3] [--batch 4] [--r 16] [--lr 1e-4]
//
// Reports the peak resident memory of the process (the model loaded in float32, the
// optimiser state, gradients and activations of a step) and seconds per optimiser step
// between the first and the last progress report (the first step, which allocates, only
// starts the clock; the final checkpoint is not timed), plus the losses of every step.
#include <filesystem>

#include "bench_common.h"
#include "lrem/error.h"
#include "lrem/train.h"

using namespace lrem;

int main(int argc, char** argv) {
  return bench::run_main("bench_train_memory", [&] {
    const bench::Args args(argc, argv,
                           {"model", "triplets", "work", "mode", "checkpointing", "steps", "batch", "r", "lr", "label"});
    const std::string mode = args.required("mode");
    if (mode != "full" && mode != "lora") throw InvalidArgument("--mode must be full or lora, got '" + mode + "'");
    const bool checkpointing = args.flag("checkpointing");
    const std::string label = mode + (checkpointing ? "+checkpointing" : "");
    const std::string out = (std::filesystem::path(args.required("work")) / label).string();
    std::filesystem::remove_all(out);

    SftConfig c;
    c.model = args.required("model");
    c.data = args.required("triplets");
    c.output_dir = out;
    c.max_steps = args.integer("steps", 3) + 1;  // the first step only starts the clock
    c.batch_size = static_cast<int>(args.integer("batch", 4));
    c.lr = args.number("lr", 1e-4);
    c.warmup_ratio = 0;
    c.log_every = 1;
    c.quiet = true;
    c.gradient_checkpointing = checkpointing;
    if (mode == "lora") c.lora.r = static_cast<int>(args.integer("r", 16));
    const int64_t rss_start = bench::resident_bytes();
    bench::StepClock clock;
    std::vector<nlohmann::json> losses;
    int64_t peak_training = 0;
    c.on_progress = [&, tick = clock.callback()](const TrainProgress& p) {
      tick(p.step);
      losses.push_back({{"step", p.step}, {"sft_loss", p.metrics.at("sft_loss")}, {"nce_loss", p.metrics.at("nce_loss")}});
      // Measured here, before the final checkpoint (and with LoRA the merge) adds its own.
      if (p.step == p.total_steps) peak_training = bench::peak_rss_bytes();
    };
    const double started = bench::now_seconds();
    (void)sft(c);
    bench::emit({{"bench", "train_memory"},
                 {"model", args.str("label", c.model)},
                 {"mode", mode},
                 {"gradient_checkpointing", checkpointing},
                 {"lora_r", c.lora.r},
                 {"batch", c.batch_size},
                 {"steps_timed", clock.last_step - clock.first_step},
                 {"seconds_per_step", 1.0 / clock.steps_per_second()},
                 {"peak_rss_bytes", peak_training},
                 {"peak_rss_bytes_with_final_save", bench::peak_rss_bytes()},
                 {"rss_at_start_bytes", rss_start},
                 {"wall_seconds", bench::now_seconds() - started},
                 {"losses", losses},
                 {"load_average_1min", bench::load_average_1min()}});
    std::filesystem::remove_all(out);  // a full fine-tuning checkpoint of 0.5B is 6 GB
  });
}
