"""Tiny random-weight Hugging Face checkpoints written with numpy, for the tests that check
lrem against the independent reference (reference_llama.py) or run whole flows on a real
architecture: HF parameter names, safetensors written here, shared with nothing in lrem."""

import json
import struct
from pathlib import Path

import numpy as np


def head_dim(config):
    return config.get("head_dim") or config["hidden_size"] // config["num_attention_heads"]


def random_weights(config, seed):
    """HF parameter names and shapes for the config, with weights large enough (std 0.15) that
    attention patterns and logits differ clearly between positions."""
    rng = np.random.default_rng(seed)
    h, inter, d = config["hidden_size"], config["intermediate_size"], head_dim(config)
    q, kv = config["num_attention_heads"] * d, config["num_key_value_heads"] * d

    def matrix(rows, cols):
        return rng.normal(0.0, 0.15, (rows, cols)).astype(np.float32)

    def norm(n):
        return (1.0 + rng.normal(0.0, 0.1, n)).astype(np.float32)

    w = {"model.embed_tokens.weight": matrix(config["vocab_size"], h), "model.norm.weight": norm(h)}
    if not config["tie_word_embeddings"]:
        w["lm_head.weight"] = matrix(config["vocab_size"], h)
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w.update({p + "self_attn.q_proj.weight": matrix(q, h), p + "self_attn.k_proj.weight": matrix(kv, h),
                  p + "self_attn.v_proj.weight": matrix(kv, h), p + "self_attn.o_proj.weight": matrix(h, q),
                  p + "mlp.gate_proj.weight": matrix(inter, h), p + "mlp.up_proj.weight": matrix(inter, h),
                  p + "mlp.down_proj.weight": matrix(h, inter), p + "input_layernorm.weight": norm(h),
                  p + "post_attention_layernorm.weight": norm(h)})
        if config["model_type"] == "qwen2":
            for name, n in (("q_proj", q), ("k_proj", kv), ("v_proj", kv)):
                w[p + f"self_attn.{name}.bias"] = rng.normal(0.0, 0.3, n).astype(np.float32)
        if config["model_type"] == "qwen3":
            w[p + "self_attn.q_norm.weight"] = norm(d)
            w[p + "self_attn.k_norm.weight"] = norm(d)
    return w


def write_safetensors(path, tensors):
    """The safetensors layout (8-byte header length, JSON header, data), float32 only."""
    header, offset = {}, 0
    for name in sorted(tensors):
        n = tensors[name].nbytes
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name in sorted(tensors):
            f.write(np.ascontiguousarray(tensors[name]).tobytes())


def write_checkpoint(out, config, seed, tokenizer_json=None):
    """config.json and model.safetensors for `config` in directory `out` (created), plus the
    given tokenizer.json text; returns `out` as a Path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    write_safetensors(out / "model.safetensors", random_weights(config, seed))
    if tokenizer_json is not None:
        (out / "tokenizer.json").write_text(tokenizer_json)
    return out


# Tiny Qwen2 and Qwen3 shapes (hidden 32, 2 layers, 4 query heads over 2 key/value heads) for
# the real 151k-token Qwen tokenizer; vocab_size is set by the caller.
QWEN2_TINY = {
    "model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "hidden_size": 32, "intermediate_size": 48,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 512,
    "rms_norm_eps": 1e-6, "hidden_act": "silu", "rope_theta": 1000000.0, "tie_word_embeddings": True,
    "use_sliding_window": False, "torch_dtype": "float32",
}
# Qwen3: per-head q/k norms and a head_dim (16) that is not hidden_size / heads (8).
QWEN3_TINY = {**QWEN2_TINY, "model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"], "head_dim": 16,
              "attention_bias": False}


def qwen3_tokenizer_json(qwen2_text):
    """The Qwen2 fixture plus <think> and </think> as added tokens after <|im_end|>, spelled as
    Qwen3's tokenizer.json spells them (special: false, so decoding keeps them)."""
    tokenizer = json.loads(qwen2_text)
    next_id = max(t["id"] for t in tokenizer["added_tokens"]) + 1
    for offset, content in enumerate(["<think>", "</think>"]):
        tokenizer["added_tokens"].append({"id": next_id + offset, "content": content, "single_word": False,
                                          "lstrip": False, "rstrip": False, "normalized": False, "special": False})
    return json.dumps(tokenizer, ensure_ascii=False)


def save_lrem_token_models(fixtures_dir, out):
    """Tiny Qwen2 and Qwen3 checkpoints (vocab_size = their tokenizer's size, so new tokens
    grow the embedding) over the fixture tokenizer, given the LREM tokens by lrem and saved.
    Returns {name: (base_dir, saved_dir)} for "qwen2" and "qwen3"."""
    import lrem

    qwen2_text = (Path(fixtures_dir) / "qwen2-bpe" / "tokenizer.json").read_text()
    out = Path(out)
    made = {}
    for seed, (name, config, tokenizer_text, vocab) in enumerate([
            ("qwen2", QWEN2_TINY, qwen2_text, 151646),
            ("qwen3", QWEN3_TINY, qwen3_tokenizer_json(qwen2_text), 151648)]):
        base = write_checkpoint(out / f"{name}-base", {**config, "vocab_size": vocab}, seed, tokenizer_text)
        lrem.Model.load(base).with_lrem_tokens().save(out / name)
        made[name] = (base, out / name)
    return made
