"""The per-call cost of PyTorch's dynamic int8 linear, the kernel lrem's dtype "int8" uses,
beside the float32 one: one 768x2048 `nn.Linear` and its `quantize_dynamic` copy (the 0.1B config's hidden x intermediate size),
called with 1 and 32 rows, once with the same input every call and once with a new input each
call (as in decoding, where each step's activations, so their quantisation parameters, change).
Prints one JSON line per cell: median milliseconds per call. Cited in bench/levers.md.

    /usr/bin/python3 bench/int8_call_cost.py [--calls 50] [--threads 1]

Needs Debian's python3-torch (scripts/bench.sh installs it).
"""
import argparse
import json
import statistics
import time

import torch
from torch import nn


def per_call_ms(layer, inputs):
    times = []
    with torch.inference_mode():
        layer(inputs[0])  # the first call packs weights and warms the allocator
        for x in inputs:
            start = time.perf_counter()
            layer(x)
            times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--in-features", type=int, default=768)
    parser.add_argument("--out-features", type=int, default=2048)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    float32 = nn.Sequential(nn.Linear(args.in_features, args.out_features, bias=False))
    layers = {"float32": float32, "int8": torch.ao.quantization.quantize_dynamic(float32, {nn.Linear}, torch.qint8)}
    for rows in (1, 32):
        same = torch.randn(rows, args.in_features)
        cells = {"same input": [same] * args.calls,
                 "new input": [torch.randn(rows, args.in_features) for _ in range(args.calls)]}
        for dtype, layer in layers.items():
            for name, inputs in cells.items():
                print(json.dumps({"bench": "int8_call_cost", "dtype": dtype, "rows": rows, "input": name,
                                  "calls": args.calls, "threads": args.threads,
                                  "median_ms": round(per_call_ms(layer, inputs), 3)}))


if __name__ == "__main__":
    main()
