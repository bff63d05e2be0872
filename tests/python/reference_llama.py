#!/usr/bin/python3
"""An independent float32 numpy implementation of the Hugging Face Llama-family forward pass.

It shares no code with lrem (its own safetensors reader, its own forward pass written from
the HF modeling code) so that agreement between the two is evidence that both follow the
definition. Used by the test suites to produce reference logits, final hidden states and
greedy continuations. Covers:

- LlamaForCausalLM / MistralForCausalLM: RMSNorm, rotate-half RoPE, grouped-query attention,
  SwiGLU, tied or untied lm_head;
- Qwen2ForCausalLM: q/k/v projections with biases (modeling_qwen2.py);
- Qwen3ForCausalLM: RMSNorm over each query and key head (q_norm, k_norm) before RoPE, and a
  head_dim of its own (defaulting to 128, configuration_qwen3.py);
- rope_scaling of type linear and llama3 (modeling_rope_utils.py), spelled rope_type or type.

    /usr/bin/python3 tests/python/reference_llama.py --model DIR --prompt-ids 1,403,407 -n 100
"""

import argparse
import json
import math
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
        default_head_dim = 128 if c["model_type"] == "qwen3" else c["hidden_size"] // self.n_heads
        self.head_dim = c.get("head_dim") or default_head_dim
        self.qk_norm = c["model_type"] == "qwen3"
        self.eps = np.float32(c["rms_norm_eps"])
        freqs = np.outer(np.arange(c["max_position_embeddings"], dtype=np.float32), self._inv_freq()).astype(np.float32)
        emb = np.concatenate([freqs, freqs], axis=-1)
        self.cos, self.sin = np.cos(emb).astype(np.float32), np.sin(emb).astype(np.float32)
        self.lm_head = self.w["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else self.w["lm_head.weight"]

    def _inv_freq(self):
        """HF's ROPE_INIT_FUNCTIONS[rope_type](config): float32 inverse frequencies [head_dim / 2]."""
        c, dim = self.cfg, self.head_dim
        base = np.float32(c.get("rope_theta", 10000.0))
        inv_freq = (np.float32(1.0) / (base ** (np.arange(0, dim, 2).astype(np.float32) / np.float32(dim)))).astype(np.float32)
        scaling = c.get("rope_scaling") or {}
        rope_type = scaling.get("rope_type", scaling.get("type", "default"))
        if rope_type == "default":
            return inv_freq
        factor = np.float32(scaling["factor"])
        if rope_type == "linear":
            return inv_freq / factor
        assert rope_type == "llama3", rope_type
        # _compute_llama3_parameters
        low_freq_factor = np.float32(scaling["low_freq_factor"])
        high_freq_factor = np.float32(scaling["high_freq_factor"])
        old_context_len = np.float32(scaling["original_max_position_embeddings"])
        low_freq_wavelen = old_context_len / low_freq_factor
        high_freq_wavelen = old_context_len / high_freq_factor
        wavelen = np.float32(2 * math.pi) / inv_freq
        inv_freq_llama = np.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
        smooth_factor = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
        smoothed_inv_freq = (1 - smooth_factor) * inv_freq_llama / factor + smooth_factor * inv_freq_llama
        is_medium_freq = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
        return np.where(is_medium_freq, smoothed_inv_freq, inv_freq_llama).astype(np.float32)

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
        return self.hidden(ids) @ self.lm_head.T

    def hidden(self, ids):
        """The final hidden states [T, hidden_size] (after model.norm, HF's last_hidden_state)."""
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
            if self.qk_norm:  # Qwen3Attention: q_norm / k_norm over each head's head_dim values
                q = self._norm(q, self.w[p + "self_attn.q_norm.weight"])
                k = self._norm(k, self.w[p + "self_attn.k_norm.weight"])
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
        return self._norm(x, self.w["model.norm.weight"])


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
