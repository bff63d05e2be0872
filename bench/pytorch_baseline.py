"""The baseline a user would otherwise write: eager PyTorch, a Hugging Face-style Llama
(nn.Linear layers, RMSNorm, rotate-half RoPE, repeat_kv, additive masks, a KV cache grown
with torch.cat, a greedy loop), on the same weights (lrem's model.safetensors) and the same
token sequences (bench_workload's output). Prints JSON lines like the C++ benchmarks.
With --dtype bfloat16 the model is cast with `.to(torch.bfloat16)`, as a user would, and
runs as Hugging Face runs it in that dtype (RMSNorm statistics and softmax in float32).
With --dtype int8 it is `torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, torch.qint8)`
on the float32 model, PyTorch's default dynamic quantisation, applied to the decoder layers'
projections only, or to the LM head too with --int8-head (lrem's dtype "int8" keeps the head
float32; docs/BENCHMARKS.md measures both).

    /usr/bin/python3 bench/pytorch_baseline.py --model DIR --workload workload.json --label 0.1b \
        [--dtype float32|bfloat16|int8] [--int8-head] [--decode-batches 1,32]

Needs Debian's python3-torch (scripts/bench.sh installs it).
"""
import argparse
import json
import math
import os
import statistics
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32}


def load_safetensors(path):
    with open(path, "rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
        data = f.read()
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        begin, end = meta["data_offsets"]
        if meta["dtype"] == "BF16":
            raw = np.frombuffer(data[begin:end], dtype=np.uint16).astype(np.uint32) << 16
            array = raw.view(np.float32)
        else:
            array = np.frombuffer(data[begin:end], dtype=DTYPES[meta["dtype"]])
        tensors[name] = torch.from_numpy(array.reshape(meta["shape"]).astype(np.float32))
    return tensors


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        x32 = x.float()
        variance = x32.pow(2).mean(-1, keepdim=True)
        return self.weight * (x32 * torch.rsqrt(variance + self.eps)).to(x.dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.heads, self.kv_heads = c["num_attention_heads"], c["num_key_value_heads"]
        self.head_dim = c.get("head_dim") or c["hidden_size"] // self.heads
        bias = c.get("attention_bias", False) or c.get("model_type") == "qwen2"
        h = c["hidden_size"]
        self.q_proj = nn.Linear(h, self.heads * self.head_dim, bias=bias)
        self.k_proj = nn.Linear(h, self.kv_heads * self.head_dim, bias=bias)
        self.v_proj = nn.Linear(h, self.kv_heads * self.head_dim, bias=bias)
        self.o_proj = nn.Linear(self.heads * self.head_dim, h, bias=False)

    def forward(self, x, cos, sin, mask, past):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        present = (k, v)
        groups = self.heads // self.kv_heads
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
        scores = q @ k.transpose(2, 3) / math.sqrt(self.head_dim) + mask
        out = F.softmax(scores.float(), dim=-1).to(q.dtype) @ v
        return self.o_proj(out.transpose(1, 2).reshape(b, t, -1)), present


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i = c["hidden_size"], c["intermediate_size"]
        self.input_layernorm = RMSNorm(h, c["rms_norm_eps"])
        self.self_attn = Attention(c)
        self.post_attention_layernorm = RMSNorm(h, c["rms_norm_eps"])
        self.gate_proj, self.up_proj = nn.Linear(h, i, bias=False), nn.Linear(h, i, bias=False)
        self.down_proj = nn.Linear(i, h, bias=False)

    def forward(self, x, cos, sin, mask, past):
        a, present = self.self_attn(self.input_layernorm(x), cos, sin, mask, past)
        x = x + a
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h)), present


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        head_dim = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
        inv_freq = 1.0 / (c.get("rope_theta", 10000.0) ** (torch.arange(0, head_dim, 2).float() / head_dim))
        freqs = torch.outer(torch.arange(c["max_position_embeddings"]).float(), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.cos, self.sin = emb.cos(), emb.sin()

    def load(self, tensors):
        state = {}
        for name, tensor in tensors.items():
            name = name.replace("model.", "", 1).replace("mlp.", "")
            state[name] = tensor
        if self.c.get("tie_word_embeddings"):
            state["lm_head.weight"] = state["embed_tokens.weight"]
        self.load_state_dict(state, strict=False)
        missing = set(self.state_dict()) - set(state)
        if missing:
            raise SystemExit(f"weights missing from the checkpoint: {sorted(missing)[:5]}")

    def forward(self, ids, positions, attention_mask, past=None):
        """attention_mask: [B, past + T] of 0/1. Returns final hidden [B, T, H] and the new cache."""
        b, t = ids.shape
        s = attention_mask.shape[1]
        dtype = self.embed_tokens.weight.dtype
        cos, sin = self.cos[positions].unsqueeze(1).to(dtype), self.sin[positions].unsqueeze(1).to(dtype)
        causal = torch.ones(t, s, dtype=torch.bool).tril(diagonal=s - t)
        allowed = causal[None, None] & attention_mask[:, None, None, :].bool()
        mask = torch.zeros(b, 1, t, s, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
        x = self.embed_tokens(ids)
        presents = []
        for i, layer in enumerate(self.layers):
            x, present = layer(x, cos, sin, mask, None if past is None else past[i])
            presents.append(present)
        return self.norm(x), presents


def left_pad(rows):
    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r):] = torch.tensor(r)
            mask[i, width - len(r):] = 1
    return ids, mask


def embed_direct(model, rows):
    ids, mask = left_pad(rows)
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    hidden, _ = model(ids, positions, mask)
    return F.normalize(hidden[:, -1].float(), dim=-1)


def embed_reason(model, prompts, think_close, emb, max_cot):
    """Prefill, greedy CoT until </think> or max_cot tokens, then feed the closing tokens."""
    ids, mask = left_pad(prompts)
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    hidden, past = model(ids, positions, mask)
    next_pos = positions[:, -1] + 1
    done = torch.zeros(len(prompts), dtype=torch.bool)
    for _ in range(max_cot):
        token = model.lm_head(hidden[:, -1]).argmax(-1)
        stop = token == think_close
        fed = ~done
        mask = torch.cat([mask, fed.long()[:, None]], dim=1)
        hidden_step, past = model(token[:, None], next_pos[:, None], mask, past)
        hidden = torch.where(fed[:, None, None], hidden_step, hidden)
        next_pos = next_pos + fed.long()
        done = done | stop
        if bool(done.all()):
            break
    closing = [[emb] if d else [think_close, emb] for d in done.tolist()]
    cids, cmask = left_pad(closing)
    cpos = next_pos[:, None] + (cmask.cumsum(1) - 1).clamp(min=0)
    hidden, _ = model(cids, cpos, torch.cat([mask, cmask], dim=1), past)
    return F.normalize(hidden[:, -1].float(), dim=-1)


def timed(fn, seconds, min_reps):
    fn()  # warm-up
    times, start = [], time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def decode_steps(model, batch, context, steps=16):
    """Per-step times of greedy decoding after a prompt of `context` tokens, as bench_query's
    decode_step: one token per row through the layers and the LM head, then argmax."""
    ids = torch.full((batch, context), 5, dtype=torch.long)
    mask = torch.ones(batch, context, dtype=torch.long)
    positions = torch.arange(context).expand(batch, context)
    hidden, past = model(ids, positions, mask)
    logits = model.lm_head(hidden[:, -1])
    times = []
    for step in range(steps - 1):
        t0 = time.perf_counter()
        token = logits.argmax(-1)
        mask = torch.cat([mask, torch.ones(batch, 1, dtype=torch.long)], dim=1)
        hidden, past = model(token[:, None], torch.full((batch, 1), context + step), mask, past)
        logits = model.lm_head(hidden[:, -1])
        times.append(time.perf_counter() - t0)
    return times


def emit(record):
    print(json.dumps(record), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--workload", required=True)
    parser.add_argument("--label", default="model")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--item-batches", default="1,16,64,256")
    parser.add_argument("--reason-batches", default="1,32")
    parser.add_argument("--decode-batches", default="1,32")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "int8"])
    parser.add_argument("--int8-head", action="store_true", help="with --dtype int8: quantise the LM head too")
    args = parser.parse_args()

    torch.manual_seed(0)
    with open(os.path.join(args.model, "config.json")) as f:
        config = json.load(f)
    with open(args.workload) as f:
        work = json.load(f)
    model = Llama(config)
    model.load(load_safetensors(os.path.join(args.model, "model.safetensors")))
    if args.dtype == "int8":
        model.eval()
        quantised = model if args.int8_head else model.layers
        torch.ao.quantization.quantize_dynamic(quantised, {nn.Linear}, dtype=torch.qint8, inplace=True)
    else:
        model.to(getattr(torch, args.dtype)).eval()
    dtype = args.dtype + ("+head" if args.dtype == "int8" and args.int8_head else "")
    items, queries = work["items"], work["queries"]
    close, emb, max_cot = work["think_close_id"], work["emb_id"], work["max_cot_tokens"]

    with torch.inference_mode():
        # Same function as lrem? Compare with lrem's embeddings of the first rows.
        ref = work["reference"]
        n = len(ref["items"])
        agreement = {
            "items": embed_direct(model, items[:n]),
            "queries_direct": embed_direct(model, [q + [close, emb] for q in queries[:n]]),
            "queries_reason": embed_reason(model, queries[:n], close, emb, max_cot),
        }
        cosines = {k: (v * torch.tensor(ref[k])).sum(-1).min().item() for k, v in agreement.items()}
        emit({"bench": "pytorch_check", "model": args.label, "dtype": dtype, "torch": torch.__version__,
              "torch_threads": torch.get_num_threads(), "min_cosine_to_lrem": cosines})

        for batch in [int(b) for b in args.item_batches.split(",")]:
            cursor = [0]

            def encode():
                rows = [items[(cursor[0] + i) % len(items)] for i in range(batch)]
                cursor[0] += batch
                embed_direct(model, rows)

            times = timed(encode, args.seconds, 2)
            emit({"bench": "pytorch_encode", "model": args.label, "dtype": dtype, "batch": batch,
                  "items_per_s": batch * len(times) / sum(times), "load_average_1min": os.getloadavg()[0]})

        for batch in [int(b) for b in args.reason_batches.split(",")]:
            cursor = [0]

            def reason():
                rows = [queries[(cursor[0] + i) % len(queries)] for i in range(batch)]
                cursor[0] += batch
                embed_reason(model, rows, close, emb, max_cot)

            times = timed(reason, args.seconds, 2)
            emit({"bench": "pytorch_reason", "model": args.label, "dtype": dtype, "batch": batch,
                  "queries_per_s": batch * len(times) / sum(times),
                  "p50_ms": 1e3 * statistics.median(times), "load_average_1min": os.getloadavg()[0]})

        for batch in [int(b) for b in args.decode_batches.split(",") if b]:
            decode_steps(model, batch, 32)  # warm-up
            times, start = [], time.perf_counter()
            while len(times) < 45 or time.perf_counter() - start < args.seconds:
                times += decode_steps(model, batch, 32)
            emit({"bench": "pytorch_decode_step", "model": args.label, "dtype": dtype, "batch": batch, "context": 32,
                  "steps": len(times), "p50_ms": 1e3 * statistics.median(times),
                  "load_average_1min": os.getloadavg()[0]})


if __name__ == "__main__":
    main()
