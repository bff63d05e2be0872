"""Hugging Face Qwen directories (tokenizer.json + tokenizer_config.json) as LREM backbones
and as direct embedders in their own convention, on tiny random-weight checkpoints over the
real Qwen2 tokenizer, checked against the independent numpy reference (reference_llama.py)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checkpoints  # noqa: E402
import reference_llama  # noqa: E402

import lrem  # noqa: E402

TITLES = ["Waterproof Hiking Boots", "无线蓝牙耳机 降噪", "Sulfate-Free Shampoo 500ml"]
QUERIES = ["boots for rain", "cheaper alternative to airpods"]
PRESETS = ["plain", "qwen-chat", "llama3-chat", "qwen3-embedding"]


def normalised(v):
    return v / np.linalg.norm(v)


def test_new_embedding_rows_start_at_the_mean_of_the_existing_rows(lrem_token_models):
    for name, added in (("qwen2", [151646, 151647, 151648]), ("qwen3", [151648])):
        base, saved = lrem_token_models[name]
        before = reference_llama.read_safetensors(str(base / "model.safetensors"))["model.embed_tokens.weight"]
        after = reference_llama.read_safetensors(str(saved / "model.safetensors"))["model.embed_tokens.weight"]
        assert after.shape[0] == before.shape[0] + len(added) == json.loads((saved / "config.json").read_text())["vocab_size"]
        np.testing.assert_array_equal(after[: before.shape[0]], before)
        for row in added:
            np.testing.assert_allclose(after[row], before.mean(axis=0), atol=1e-6)
        model = lrem.Model.load(saved)
        assert [model.tokenizer.piece_to_id(t) for t in ("<think>", "</think>", "<emb>")] == [151646, 151647, 151648]


def test_tokenizer_config_names_the_eos_and_generation_stops_on_it(lrem_token_models, tmp_path):
    base = lrem_token_models["qwen2"][0]
    assert lrem.Model.load(base).tokenizer.eos_id == -1, "no template suffix and no tokenizer_config.json"
    shutil.copytree(base, tmp_path / "instruct")
    (tmp_path / "instruct" / "tokenizer_config.json").write_text(
        json.dumps({"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}))
    instruct = lrem.Model.load(tmp_path / "instruct")
    assert (instruct.tokenizer.eos_id, instruct.tokenizer.bos_id) == (151645, -1)
    # Whatever the greedy model writes first, named as EOS, ends the generation there.
    first = instruct.generate("red shoes", max_new_tokens=8, stop_at_eos=False).token_ids[0]
    (tmp_path / "instruct" / "tokenizer_config.json").write_text(
        json.dumps({"eos_token": instruct.tokenizer.id_to_piece(first)}))
    stopping = lrem.Model.load(tmp_path / "instruct")
    generated = stopping.generate("red shoes", max_new_tokens=8)
    assert (list(generated.token_ids), generated.finish_reason) == ([first], "stop")
    stopping.save(tmp_path / "saved")
    assert lrem.Model.load(tmp_path / "saved").tokenizer.eos_id == first, "tokenizer_config.json is saved too"


def test_prompt_presets(lrem_token_models):
    assert lrem.prompt_presets() == PRESETS
    saved = lrem_token_models["qwen2"][1]
    with pytest.raises(lrem.InvalidArgument, match="plain, qwen-chat, llama3-chat, qwen3-embedding"):
        lrem.Model.load(saved, prompt_preset="qwen-instruct")
    llama = lrem.Model.load(saved, prompt_preset="llama3-chat").prompt_config
    assert llama["query_template"] == ("<|start_header_id|>user<|end_header_id|>\n\n{query}<|eot_id|>"
                                       "<|start_header_id|>assistant<|end_header_id|>\n\n")

    # qwen-chat: the query is a chat turn, then the assistant's <think> CoT </think><emb>.
    model = lrem.Model.load(saved).with_prompt_config(preset="qwen-chat", max_cot_tokens=8)
    assert model.prompt_config["max_cot_tokens"] == 8
    tok = model.tokenizer
    cot = "rain gear"
    got = lrem.Embedder(model).embed_queries_with_cots(QUERIES, [cot] * len(QUERIES))
    reference = reference_llama.Llama(str(saved))
    for row, query in zip(got, QUERIES):
        ids = (tok.encode("<|im_start|>user\n") + tok.encode(query) + tok.encode("<|im_end|>\n<|im_start|>assistant\n")
               + [151646] + tok.encode(cot) + [151647, 151648])
        assert ids[:3] == [151644, 872, 198]  # <|im_start|> user \n
        np.testing.assert_allclose(row, normalised(reference.hidden(ids)[-1]), atol=1e-4)


@pytest.fixture(scope="module")
def qwen3_embedding(qwen2_tokenizer_json, tmp_path_factory):
    """A Qwen3-Embedding-like directory: Qwen3 architecture and tokenizer, its convention named in
    lrem_config.json by preset, with the task changed."""
    out = checkpoints.write_checkpoint(tmp_path_factory.mktemp("qwen3_embedding"),
                                       {**checkpoints.QWEN3_TINY, "vocab_size": 151669}, 5,
                                       checkpoints.qwen3_tokenizer_json(qwen2_tokenizer_json.read_text()))
    (out / "tokenizer_config.json").write_text(json.dumps({"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}))
    (out / "lrem_config.json").write_text(json.dumps({"preset": "qwen3-embedding", "task": "Find the product"}))
    return out


def test_direct_embedder_is_the_normalised_last_token_state(qwen3_embedding):
    model = lrem.Model.load(qwen3_embedding)
    tok, eot = model.tokenizer, 151643
    reference = reference_llama.Llama(str(qwen3_embedding))
    embedder = lrem.Embedder(model)
    for row, title in zip(embedder.embed_items(TITLES), TITLES):
        np.testing.assert_allclose(row, normalised(reference.hidden(tok.encode(title) + [eot])[-1]), atol=1e-4)
    for row, query in zip(embedder.embed_queries(QUERIES, mode="direct"), QUERIES):
        ids = tok.encode("Instruct: Find the product\nQuery:") + tok.encode(query) + [eot]
        np.testing.assert_allclose(row, normalised(reference.hidden(ids)[-1]), atol=1e-4)
    # It has <think> and </think> in its vocabulary, but its convention has no chain of thought.
    with pytest.raises(lrem.InvalidArgument, match="direct embedder"):
        embedder.embed_queries(QUERIES, mode="reason")
    with pytest.raises(lrem.InvalidArgument, match="direct embedder"):
        embedder.embed_queries_with_cots(QUERIES[:1], ["a cot"])


def test_direct_embedder_from_the_command_line(qwen3_embedding, lrem_cli, tmp_path):
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"id": 10 + i, "title": t}) + "\n" for i, t in enumerate(TITLES)))
    plain = tmp_path / "plain"
    shutil.copytree(qwen3_embedding, plain)
    (plain / "lrem_config.json").unlink()

    def lrem_run(*args):
        return subprocess.run([str(lrem_cli), *map(str, args)], capture_output=True, text=True, timeout=1200)

    # The preset given on the command line, over a directory without lrem_config.json.
    r = lrem_run("embed", "--model", plain, "--prompt-preset", "qwen3-embedding", "--items", items,
                 "-o", tmp_path / "items.npy", "--quiet")
    assert r.returncode == 0, r.stderr
    expected = lrem.Embedder(lrem.Model.load(plain, prompt_preset="qwen3-embedding")).embed_items(TITLES)
    np.testing.assert_allclose(np.load(tmp_path / "items.npy"), expected, atol=1e-6)
    r = lrem_run("embed", "--model", plain, "--prompt-preset", "qwen-embedding", "--items", items, "-o", tmp_path / "x.npy")
    assert r.returncode != 0 and "plain, qwen-chat, llama3-chat, qwen3-embedding" in r.stderr

    r = lrem_run("index", "build", "--model", qwen3_embedding, "--items", items, "-o", tmp_path / "index", "--quiet")
    assert r.returncode == 0, r.stderr
    r = lrem_run("search", "--model", qwen3_embedding, "--index", tmp_path / "index", "-q", TITLES[0].lower(),
                 "--mode", "direct", "-k", "3", "--json")
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["hits"]) == 3
    r = lrem_run("search", "--model", qwen3_embedding, "--index", tmp_path / "index", "-q", "boots")
    assert r.returncode == 1 and "direct embedder" in r.stderr and "Use direct mode" in r.stderr


def test_add_tokens_command_reuses_qwen3_think_tokens(lrem_token_models, lrem_cli, tmp_path):
    base = lrem_token_models["qwen3"][0]
    r = subprocess.run([str(lrem_cli), "add-tokens", "--model", str(base), "-o", str(tmp_path / "out"),
                        "--prompt-preset", "qwen-chat"], capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, r.stderr
    assert "<think> = 151646 (kept)" in r.stdout and "<emb> = 151648 (added)" in r.stdout
    model = lrem.Model.load(tmp_path / "out")
    assert model.prompt_config["query_template"].startswith("<|im_start|>user\n{query}")
    assert model.tokenizer.vocab_size == 151649
