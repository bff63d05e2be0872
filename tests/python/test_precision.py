"""The dtype keyword: bfloat16 compute from Python, checked against float32."""

import numpy as np
import pytest

import lrem

TITLES = ["Navy Wool Cardigan for Men", "Stainless Steel Claw Hammer, 16 oz", "Red Electric Kettle 1.7 L"]


def test_bfloat16_embeddings_are_float32_rows_close_to_float32(lrem_model_dir):
    fp32 = lrem.Embedder(lrem.Model.load(str(lrem_model_dir), num_threads=1))
    bf16 = lrem.Embedder(lrem.Model.load(str(lrem_model_dir), dtype="bfloat16", num_threads=1))
    a, b = fp32.embed_items(TITLES), bf16.embed_items(TITLES)
    assert b.dtype == np.float32 and b.shape == a.shape
    assert not np.array_equal(a, b), "bfloat16 must actually change the arithmetic"
    # Rows are unit vectors; bfloat16 rounds GEMM inputs by up to 0.2% (tests/test_precision.cc).
    assert (a * b).sum(axis=1).min() >= 0.999


def test_float16_on_the_cpu_is_a_value_error_naming_bfloat16(stories_dir):
    with pytest.raises(ValueError, match="bfloat16"):
        lrem.Model.load(str(stories_dir), dtype="float16")
