"""The dtype keyword: bfloat16 compute and int8 weights from Python and the CLI, checked against float32."""

import numpy as np
import pytest

import lrem

TITLES = ["Navy Wool Cardigan for Men", "Stainless Steel Claw Hammer, 16 oz", "Red Electric Kettle 1.7 L"]


def test_bfloat16_embeddings_are_float32_rows_close_to_float32(lrem_model_dir):
    fp32 = lrem.Embedder(lrem.Model.load(str(lrem_model_dir)))
    bf16 = lrem.Embedder(lrem.Model.load(str(lrem_model_dir), dtype="bfloat16"))
    a, b = fp32.embed_items(TITLES), bf16.embed_items(TITLES)
    assert b.dtype == np.float32 and b.shape == a.shape
    assert not np.array_equal(a, b), "bfloat16 must actually change the arithmetic"
    # Rows are unit vectors; bfloat16 rounds GEMM inputs by up to 0.2% (tests/test_precision.cc).
    assert (a * b).sum(axis=1).min() >= 0.999


def test_float16_on_the_cpu_is_a_value_error_naming_bfloat16(stories_dir):
    with pytest.raises(ValueError, match="bfloat16"):
        lrem.Model.load(str(stories_dir), dtype="float16")


def test_an_index_built_in_float32_serves_a_bfloat16_model(lrem_model_dir, tmp_path):
    items = lrem.ItemStore([{"id": 10 + i, "title": t} for i, t in enumerate(TITLES)])
    fp32 = lrem.Embedder(lrem.Model.load(str(lrem_model_dir)))
    lrem.save_index(lrem.build_index(fp32, items, factory="Flat"), items, str(tmp_path / "index"))
    # The model is identified by its checkpoint, so the index accepts the bfloat16 load.
    scores = {}
    for dtype in ("float32", "bfloat16"):
        retriever = lrem.Retriever.open(str(lrem_model_dir), str(tmp_path / "index"), dtype=dtype)
        scores[dtype] = {h.id: h.score for h in retriever.search(TITLES[1], k=len(TITLES), mode="direct").hits}
    assert scores["bfloat16"].keys() == scores["float32"].keys() == {10, 11, 12}
    for item, score in scores["float32"].items():
        assert abs(scores["bfloat16"][item] - score) < 1e-2


def test_int8_embeddings_are_float32_rows_close_to_float32(lrem_model_dir):
    fp32 = lrem.Embedder(lrem.Model.load(lrem_model_dir))
    int8 = lrem.Embedder(lrem.Model.load(lrem_model_dir, dtype="int8"))
    a, b = fp32.embed_items(TITLES), int8.embed_items(TITLES)
    assert b.dtype == np.float32 and b.shape == a.shape
    assert not np.array_equal(a, b), "int8 must actually change the arithmetic"
    # Per-tensor int8 weights and 7-bit activations: about 1% noise per projection; this
    # fixture's rows measured 0.985-0.993 (tests/test_precision.cc: the demo model moves more).
    assert (a * b).sum(axis=1).min() >= 0.97


def test_int8_reaches_the_retriever_and_the_cli(lrem_model_dir, lrem_cli, tmp_path):
    import subprocess

    items = lrem.ItemStore([{"id": 10 + i, "title": t} for i, t in enumerate(TITLES)])
    lrem.save_index(lrem.build_index(lrem.Embedder(lrem.Model.load(lrem_model_dir)), items, factory="Flat"), items,
                    str(tmp_path / "index"))
    retriever = lrem.Retriever.open(lrem_model_dir, tmp_path / "index", dtype="int8")
    assert retriever.search(TITLES[1], k=1, mode="direct").hits[0].id == 11
    (tmp_path / "items.jsonl").write_text("".join(f'{{"id": {10 + i}, "title": "{t}"}}\n' for i, t in enumerate(TITLES)))
    out = subprocess.run([str(lrem_cli), "embed", "--model", str(lrem_model_dir), "--dtype", "int8", "--quiet",
                          "--items", str(tmp_path / "items.jsonl"), "--output", str(tmp_path / "emb.npy")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    cli = np.load(tmp_path / "emb.npy")
    np.testing.assert_allclose(cli, lrem.Embedder(lrem.Model.load(lrem_model_dir, dtype="int8")).embed_items(TITLES),
                               atol=1e-6)
    bad = subprocess.run([str(lrem_cli), "embed", "--model", str(lrem_model_dir), "--dtype", "int4", "--quiet",
                          "--items", str(tmp_path / "items.jsonl"), "--output", str(tmp_path / "emb2.npy")],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "int8" in bad.stderr
