// Item 1: what this machine can do, measured now: float32 GEMM peak with all threads (and
// with one, the libtorch default here before lrem sets the count), the bfloat16 GEMM peak
// (oneDNN; several times float32 on CPUs with AVX512-BF16 or AMX) and DRAM read bandwidth.
//
//   bench_machine_limits [--seconds 0.6]
#include <ATen/Parallel.h>

#include "bench_common.h"
#include "lrem/runtime.h"

using namespace lrem;

int main(int argc, char** argv) {
  return bench::run_main("bench_machine_limits", [&] {
    const bench::Args args(argc, argv, {"seconds"});
    const double seconds = args.number("seconds", 0.6);
    set_num_threads(1);
    const double gemm_one = bench::measure_gemm_peak_gflops(seconds);
    const double bandwidth_one = bench::measure_read_bandwidth_gbs(seconds);
    const int threads = set_num_threads(0);
    const double gemm = bench::measure_gemm_peak_gflops(seconds);
    const double gemm_bf16 = bench::measure_gemm_peak_gflops(seconds, "bfloat16");
    const double bandwidth = bench::measure_read_bandwidth_gbs(seconds);
    bench::emit({{"bench", "machine"},
                 {"machine", bench::machine_description()},
                 {"threads", threads},
                 {"gemm_peak_gflops", gemm},
                 {"gemm_peak_gflops_1thread", gemm_one},
                 {"gemm_peak_gflops_bf16", gemm_bf16},
                 {"read_bandwidth_gbs", bandwidth},
                 {"read_bandwidth_gbs_1thread", bandwidth_one}});
  });
}
