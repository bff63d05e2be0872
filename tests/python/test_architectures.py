"""Qwen2, Qwen3 and Llama-3 checkpoints: lrem agrees with the independent numpy reference.

Each test writes a tiny random-weight Hugging Face checkpoint (config.json, model.safetensors
written here with numpy, the stories260K SentencePiece tokenizer) of one architecture, loads
it with lrem.Model.load and compares greedy continuations and final hidden states with
tests/python/reference_llama.py, which follows the HF modeling code and shares nothing with lrem.
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_llama  # noqa: E402
from checkpoints import head_dim, random_weights, write_safetensors  # noqa: E402

import lrem  # noqa: E402

VOCAB = 515  # the fixture's 512 pieces, then room for <think>, </think>, <emb>
PROMPTS = ["Once upon a time", "The little dog ran"]

# Every variant: hidden 64, 2 layers, 4 query heads over 2 key/value heads, untied unless said.
BASE = {
    "vocab_size": VOCAB, "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
    "rms_norm_eps": 1e-6, "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2,
    "tie_word_embeddings": False, "torch_dtype": "float32",
}

ARCHITECTURES = {
    # Qwen2.5: q/k/v biases (no attention_bias field: Qwen2 always has them), theta 1e6.
    "qwen2-untied": {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"], "rope_theta": 1000000.0,
                     "use_sliding_window": False, "sliding_window": 32768, "max_window_layers": 2},
    "qwen2-tied": {"model_type": "qwen2", "rope_theta": 1000000.0, "tie_word_embeddings": True},
    # Qwen3: per-head q/k RMSNorm and head_dim 24, not hidden_size / heads = 16.
    "qwen3": {"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"], "head_dim": 24, "rope_theta": 1000000.0,
              "attention_bias": False, "tie_word_embeddings": True},
    # Llama 3.1/3.2: with theta 500000, head_dim 16 and an original context of 64, the 8
    # frequencies fall in all three llama3 bands (kept, blended, divided by factor).
    "llama3": {"model_type": "llama", "rope_theta": 500000.0,
               "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 64}},
    # Linear scaling, in the older spelling with "type".
    "llama-linear": {"model_type": "llama", "rope_scaling": {"type": "linear", "factor": 4.0}},
}


@pytest.fixture(scope="module", params=sorted(ARCHITECTURES))
def checkpoint(request, stories_dir, tmp_path_factory):
    config = {**BASE, **ARCHITECTURES[request.param]}
    out = tmp_path_factory.mktemp(request.param)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    write_safetensors(out / "model.safetensors", random_weights(config, seed=sorted(ARCHITECTURES).index(request.param)))
    shutil.copy(stories_dir / "tokenizer.model", out / "tokenizer.model")
    return out


def load(checkpoint):
    """The checkpoint in lrem, with <think>, </think>, <emb> as ids 512-514 (rows the checkpoint
    already has), so every id the model can emit decodes."""
    model = lrem.Model.load(str(checkpoint)).with_lrem_tokens()
    assert model.config.vocab_size == VOCAB
    return model


def test_lrem_generates_the_reference_greedy_continuation(checkpoint):
    reference = reference_llama.Llama(str(checkpoint))
    model = load(checkpoint)
    for prompt, generated in zip(PROMPTS, model.generate_batch(PROMPTS, max_new_tokens=24, stop_at_eos=False)):
        expected = reference_llama.greedy(str(checkpoint), generated.prompt_ids, 24, model=reference)
        assert list(generated.token_ids) == expected, prompt


@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_final_hidden_states_match_the_reference(checkpoint, pooling):
    reference = reference_llama.Llama(str(checkpoint))
    model = load(checkpoint)
    emb = lrem.Embedder(model, pooling=pooling)
    # An item is BOS + title + <emb> (the default item template); its embedding is the final
    # hidden state at <emb> (last) or the mean over every position, L2-normalised.
    got = emb.embed_items(PROMPTS)
    for row, title in zip(got, PROMPTS):
        ids = model.tokenizer.encode(title, add_bos=True) + [model.tokenizer.piece_to_id("<emb>")]
        hidden = reference.hidden(ids)
        expected = hidden[-1] if pooling == "last" else hidden.mean(axis=0)
        expected /= np.linalg.norm(expected)
        np.testing.assert_allclose(row, expected, atol=1e-4)


def test_saved_model_reloads_as_the_same_architecture(checkpoint, tmp_path):
    model = load(checkpoint)
    model.save(str(tmp_path))
    original = json.loads((checkpoint / "config.json").read_text())
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == original["model_type"]
    assert saved["head_dim"] == head_dim(original)
    scaling = original.get("rope_scaling") or {}
    assert (saved["rope_scaling"] or {}) == {("rope_type" if k == "type" else k): v for k, v in scaling.items()}
    # The reloaded model still computes what the original checkpoint defines.
    reloaded = lrem.Model.load(str(tmp_path))
    assert reloaded.fingerprint == model.fingerprint
    reference = reference_llama.Llama(str(checkpoint))
    generated = reloaded.generate_batch(PROMPTS[:1], max_new_tokens=12, stop_at_eos=False)[0]
    assert list(generated.token_ids) == reference_llama.greedy(str(checkpoint), generated.prompt_ids, 12, model=reference)
