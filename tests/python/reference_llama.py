#!/usr/bin/python3
"""An independent float32 numpy implementation of the Hugging Face Llama forward pass.

It shares no code with lrem (its own safetensors reader, its own forward pass written from
the HF LlamaForCausalLM definition) so that agreement between the two is evidence that both
follow the definition. Used by the test suites to produce reference logits and greedy
continuations.

    /usr/bin/python3 tests/python/reference_llama.py --model DIR --prompt-ids 1,403,407 -n 100
"""

import argparse
import json
import os
import struct

import numpy as np

_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def read_safetensors(path):
    """Returns {name: float32 ndarray} for a .safetensors file (BF16 widened by bit shift)."""
    with open(path, "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        if info["dtype"] == "BF16":
            array = (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
        else:
            array = np.frombuffer(raw, dtype=_DTYPES[info["dtype"]])
        tensors[name] = array.reshape(info["shape"]).astype(np.float32)
    return tensors


class Llama:
    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json")) as f:
            self.cfg = json.load(f)
        self.w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
        c = self.cfg
        self.n_heads = c["num_attention_heads"]
        self.n_kv = c.get("num_key_value_heads", self.n_heads)
        self.head_dim = c.get("head_dim") or c["hidden_size"] // self.n_heads
        self.eps = np.float32(c["rms_norm_eps"])
        theta = c.get("rope_theta", 10000.0)
        inv_freq = (1.0 / (theta ** (np.arange(0, self.head_dim, 2, dtype=np.float32) / self.head_dim))).astype(np.float32)
        freqs = np.outer(np.arange(c["max_position_embeddings"], dtype=np.float32), inv_freq).astype(np.float32)
        emb = np.concatenate([freqs, freqs], axis=-1)
        self.cos, self.sin = np.cos(emb).astype(np.float32), np.sin(emb).astype(np.float32)
        self.lm_head = self.w["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else self.w["lm_head.weight"]

    def _norm(self, x, weight):
        return weight * (x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps))

    @staticmethod
    def _rotate_half(x):
        half = x.shape[-1] // 2
        return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)

    def _linear(self, x, name):
        y = x @ self.w[name + ".weight"].T
        bias = self.w.get(name + ".bias")
        return y if bias is None else y + bias

    def logits(self, ids):
        """Logits [T, vocab] for one unpadded sequence of token ids (positions 0..T-1)."""
        T = len(ids)
        x = self.w["model.embed_tokens.weight"][np.asarray(ids)]
        cos, sin = self.cos[:T][None], self.sin[:T][None]
        causal = np.triu(np.full((T, T), -np.inf, dtype=np.float32), k=1)
        group = self.n_heads // self.n_kv
        for i in range(self.cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = self._norm(x, self.w[p + "input_layernorm.weight"])
            q = self._linear(h, p + "self_attn.q_proj").reshape(T, self.n_heads, self.head_dim).transpose(1, 0, 2)
            k = self._linear(h, p + "self_attn.k_proj").reshape(T, self.n_kv, self.head_dim).transpose(1, 0, 2)
            v = self._linear(h, p + "self_attn.v_proj").reshape(T, self.n_kv, self.head_dim).transpose(1, 0, 2)
            q = q * cos + self._rotate_half(q) * sin
            k = k * cos + self._rotate_half(k) * sin
            k, v = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)  # HF repeat_kv
            scores = q @ k.transpose(0, 2, 1) / np.float32(np.sqrt(self.head_dim)) + causal
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            probs = scores / scores.sum(axis=-1, keepdims=True)
            attn = (probs @ v).transpose(1, 0, 2).reshape(T, -1)
            x = x + self._linear(attn, p + "self_attn.o_proj")
            h = self._norm(x, self.w[p + "post_attention_layernorm.weight"])
            gate = self._linear(h, p + "mlp.gate_proj")
            x = x + self._linear(gate / (1 + np.exp(-gate)) * self._linear(h, p + "mlp.up_proj"), p + "mlp.down_proj")
        return self._norm(x, self.w["model.norm.weight"]) @ self.lm_head.T


def greedy(model_dir, prompt_ids, n, model=None):
    """The n greedy (argmax) tokens after prompt_ids, recomputing the full forward each step."""
    model = model or Llama(model_dir)
    ids = list(prompt_ids)
    for _ in range(n):
        ids.append(int(np.argmax(model.logits(ids)[-1])))
    return ids[len(prompt_ids):]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Hugging Face model directory")
    parser.add_argument("--prompt-ids", required=True, help="comma-separated token ids")
    parser.add_argument("-n", type=int, default=64, help="new tokens")
    parser.add_argument("--logits", action="store_true", help="print the last position's logits instead")
    args = parser.parse_args()
    prompt = [int(t) for t in args.prompt_ids.split(",")]
    if args.logits:
        print(",".join(f"{v:.6f}" for v in Llama(args.model).logits(prompt)[-1]))
    else:
        print(",".join(str(t) for t in greedy(args.model, prompt, args.n)))


if __name__ == "__main__":
    main()
