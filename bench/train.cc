// Item 7: training throughput (tokens/s) of pretraining and LREM stage 1 (SFT + InfoNCE),
// timed between the first and last progress reports so start-up, tokenisation and the final
// checkpoint are excluded. Also the model FLOPs utilisation at 6 FLOPs per parameter and
// token (forward + backward) against the GEMM peak measured in this run.
//
// --precision bfloat16 times the same steps with the trainers' mixed precision (bfloat16 matrix
// products, float32 weights, optimiser and losses); MFU is then against the bfloat16 GEMM peak.
//
//   bench_train --model DIR --label demo --corpus corpus.txt --triplets triplets.jsonl
//               --items items.jsonl --work DIR [--steps 4] [--batch 8] [--seq-len 128]
//               [--precision float32|bfloat16]
#include <filesystem>
#include <fstream>

#include "bench_common.h"
#include "lrem/error.h"
#include "lrem/model.h"
#include "lrem/train.h"
#include "model/model_access.h"

using namespace lrem;

namespace {

void common(TrainingConfig& c, const bench::Args& args, const std::string& out, bench::StepClock& clock) {
  c.output_dir = out;
  c.precision = args.str("precision", "float32");
  c.max_steps = args.integer("steps", 4) + 1;  // the first step only starts the clock
  c.batch_size = static_cast<int>(args.integer("batch", 8));
  c.log_every = 1;
  c.quiet = true;
  c.on_progress = [tick = clock.callback()](const TrainProgress& p) { tick(p.step); };
}

void report(const std::string& stage, const std::string& label, const std::string& precision,
            const ModelConfig& config, double tokens_per_step, const bench::StepClock& clock, double peak,
            const TrainResult& result) {
  const double tokens_per_s = tokens_per_step * clock.steps_per_second();
  const double flops = 6.0 * static_cast<double>(config.num_parameters()) * tokens_per_s;
  bench::emit({{"bench", "train"},
               {"stage", stage},
               {"model", label},
               {"precision", precision},
               {"parameters", config.num_parameters()},
               {"tokens_per_step", tokens_per_step},
               {"steps_timed", clock.last_step - clock.first_step},
               {"tokens_per_s", tokens_per_s},
               {"mfu", flops / 1e9 / peak},
               // The last step's loss: mixed precision must train the same model, not only faster.
               {"final_loss", result.final_metrics.at("loss")},
               {"load_average_1min", bench::load_average_1min()}});
}

}  // namespace

int main(int argc, char** argv) {
  return bench::run_main("bench_train", [&] {
    const bench::Args args(argc, argv,
                           {"model", "label", "corpus", "triplets", "items", "work", "steps", "batch", "seq-len",
                            "precision"});
    const std::string model_dir = args.required("model"), label = args.str("label", model_dir);
    const std::filesystem::path work = args.required("work");
    const std::string precision = args.str("precision", "float32");
    if (precision != "float32" && precision != "bfloat16")
      throw InvalidArgument("--precision must be float32 or bfloat16, got '" + precision + "'");
    const double peak = bench::measure_gemm_peak_gflops(0.6, precision);
    const Model model = Model::load(model_dir);

    bench::StepClock pretrain_clock;
    PretrainConfig pre;
    common(pre, args, (work / "pretrain").string(), pretrain_clock);
    pre.corpus = args.required("corpus");
    pre.tokenizer = model_dir;
    pre.model = model.config();
    pre.seq_len = static_cast<int>(args.integer("seq-len", 128));
    const TrainResult pretrained = pretrain(pre);
    report("pretrain", label, precision, model.config(), double(pre.batch_size) * pre.seq_len, pretrain_clock, peak,
           pretrained);

    // Stage 1's tokens per example: query prompt + CoT + closing tokens, and the item.
    const PromptFormat& prompt = ModelAccess::parts(model).prompt();
    std::ifstream triplets(args.required("triplets"));
    double tokens = 0;
    int examples = 0;
    for (std::string line; examples < 512 && std::getline(triplets, line); ++examples) {
      const auto j = nlohmann::json::parse(line);
      tokens += prompt.query_prompt(j.at("query").get<std::string>()).ids.size() +
                prompt.cot_completion(j.at("cot").get<std::string>()).ids.size() +
                prompt.item(j.at("item").get<std::string>()).ids.size();
    }
    bench::StepClock sft_clock;
    SftConfig stage1;
    common(stage1, args, (work / "sft").string(), sft_clock);
    stage1.model = model_dir;
    stage1.data = args.required("triplets");
    stage1.catalogue = args.required("items");
    const TrainResult tuned = sft(stage1);
    report("stage1", label, precision, model.config(), stage1.batch_size * tokens / examples, sft_clock, peak, tuned);
  });
}
