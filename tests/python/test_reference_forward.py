"""The numpy reference Llama (tests/python/reference_llama.py) is itself sane, and lrem agrees with it.

The reference is the independent oracle for lrem's forward pass: it must read the checkpoint
completely, be causal, write fluent stories with the pretrained fixture, and (once the Model
binding exists) agree with lrem token for token.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reference_llama  # noqa: E402

import lrem  # noqa: E402

ONCE_UPON_A_TIME = [1, 403, 407, 261, 378]  # BOS + "Once upon a time" (spm_encode --output_format=id)


@pytest.fixture(scope="module")
def reference(stories_dir):
    return reference_llama.Llama(str(stories_dir))


def test_reads_every_tensor_with_the_configured_shape(stories_dir, reference):
    config = json.loads((stories_dir / "config.json").read_text())
    w = reference.w
    assert w["model.embed_tokens.weight"].shape == (config["vocab_size"], config["hidden_size"])
    assert all(t.dtype == np.float32 and np.isfinite(t).all() for t in w.values())
    per_layer = [k for k in w if k.startswith("model.layers.0.")]
    assert len(per_layer) == 9  # 4 attention projections, 3 MLP projections, 2 norms
    assert len(w) == 2 + 9 * config["num_hidden_layers"]  # + embedding and final norm (tied lm_head)


def test_is_causal(reference):
    short = reference.logits(ONCE_UPON_A_TIME)
    longer = reference.logits(ONCE_UPON_A_TIME + [432, 383, 286])
    np.testing.assert_allclose(longer[: len(ONCE_UPON_A_TIME)], short, atol=1e-5)
    assert not np.allclose(longer[-1], short[-1], atol=1e-2)


def test_prompt_ids_come_from_the_tokenizer(stories_dir):
    tok = lrem.Tokenizer.load(stories_dir / "tokenizer.model")
    assert tok.encode("Once upon a time", add_bos=True) == ONCE_UPON_A_TIME


def test_greedy_story_is_fluent(stories_dir, reference):
    tok = lrem.Tokenizer.load(stories_dir / "tokenizer.model")
    ids = reference_llama.greedy(str(stories_dir), ONCE_UPON_A_TIME, 24, model=reference)
    text = tok.decode(ONCE_UPON_A_TIME + ids, skip_special_tokens=True)
    assert text.startswith("Once upon a time, there was a little girl named Lily. She loved to play"), text


def test_lrem_model_generates_the_reference_continuation(stories_dir, reference):
    model = lrem.Model.load(str(stories_dir))
    generated = model.generate_batch(["Once upon a time"], max_new_tokens=40, stop_at_eos=False)[0]
    assert list(generated.token_ids) == reference_llama.greedy(str(stories_dir), ONCE_UPON_A_TIME, 40, model=reference)


def test_generate_returns_a_generation_like_generate_batch(stories_dir):
    model = lrem.Model.load(str(stories_dir))
    one = model.generate("Once upon a time", max_new_tokens=12)
    batch = model.generate_batch(["Once upon a time"], max_new_tokens=12)[0]
    assert isinstance(one, lrem.Generation)
    assert (one.text, list(one.token_ids), one.finish_reason) == (batch.text, list(batch.token_ids), batch.finish_reason)
    assert str(one) == one.text and one.text
