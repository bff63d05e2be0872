"""lrem.Tokenizer on Hugging Face tokenizer.json files, against Hugging Face's own ids.

The expectations in tests/data/tokenizers/ were made by the official `tokenizers` library
(tests/data/tokenizers/make_reference.js); no network or npm is needed here.
"""

import json
import shutil
from pathlib import Path

import pytest

import lrem

DATA = Path(__file__).resolve().parents[1] / "data" / "tokenizers"
SMALL = ["llama3", "gpt2", "added", "byte_fallback", "unk"]


def tokenizer_path(name, fixtures_dir):
    if name != "qwen2":
        return DATA / f"{name}.json"
    path = fixtures_dir / "qwen2-bpe" / "tokenizer.json"
    if not path.is_file():
        pytest.skip(f"*** SKIPPED: fixture qwen2-bpe not found at {path}; set LREM_FIXTURES_DIR ***")
    return path


def assert_matches(tok, name):
    """tok's ids, special tokens and decodes are those Hugging Face recorded in expected_<name>.json."""
    expected = json.loads((DATA / f"expected_{name}.json").read_text(encoding="utf-8"))
    assert tok.vocab_size == expected["vocab_size"]
    for case in expected["cases"]:
        text = case["text"]
        assert tok.encode(text) == case["ids"], text
        with_special = tok.encode(text, add_special_tokens=True)
        assert with_special == case["ids_with_special_tokens"], text
        assert tok.decode(with_special) == case["decoded"], text
        assert tok.decode(with_special, skip_special_tokens=True) == case["decoded_skip_special"], text
    assert tok.encode_batch([c["text"] for c in expected["cases"]]) == [c["ids"] for c in expected["cases"]]
    for d in expected["decodes"]:
        assert tok.decode(d["ids"]) == d["text"]


@pytest.mark.parametrize("name", SMALL + ["qwen2"])
def test_matches_hugging_face(name, fixtures_dir):
    assert_matches(lrem.Tokenizer.load(tokenizer_path(name, fixtures_dir)), name)


@pytest.mark.parametrize("name", ["qwen2", "qwen3"])
def test_tokenizer_saved_with_lrem_tokens_encodes_as_hugging_face_reads_it(lrem_token_models, name):
    assert_matches(lrem.Tokenizer.from_directory(lrem_token_models[name][1]), f"{name}_lrem_saved")


def test_lrem_tokens_are_appended_only_where_missing(lrem_token_models):
    def added(name, which):
        saved = json.loads((lrem_token_models[name][which] / "tokenizer.json").read_text(encoding="utf-8"))
        return [(t["id"], t["content"], t["special"], t["normalized"], t["lstrip"], t["rstrip"], t["single_word"])
                for t in saved["added_tokens"]]

    qwen2_base = [(151643, "<|endoftext|>"), (151644, "<|im_start|>"), (151645, "<|im_end|>")]
    assert [t[:2] for t in added("qwen2", 0)] == qwen2_base
    assert added("qwen2", 1)[3:] == [(151646, "<think>", True, False, False, False, False),
                                     (151647, "</think>", True, False, False, False, False),
                                     (151648, "<emb>", True, False, False, False, False)]
    # Qwen3 has <think> and </think> (not special): they keep their ids and spelling; only <emb> is new.
    assert added("qwen3", 1) == added("qwen3", 0) + [(151648, "<emb>", True, False, False, False, False)]
    assert [t[:3] for t in added("qwen3", 1)[3:5]] == [(151646, "<think>", False), (151647, "</think>", False)]


def test_special_tokens_follow_the_template():
    llama3 = lrem.Tokenizer.load(str(DATA / "llama3.json"))
    bos = llama3.piece_to_id("<|begin_of_text|>")
    assert (llama3.bos_id, llama3.eos_id, llama3.add_bos_token) == (bos, -1, True)
    assert llama3.encode("red shoes", add_special_tokens=True) == [bos] + llama3.encode("red shoes")
    assert llama3.encode("red shoes", add_bos=True) == [bos] + llama3.encode("red shoes")
    with pytest.raises(lrem.InvalidArgument):
        llama3.encode("red shoes", add_special_tokens=True, add_bos=True)
    with pytest.raises(lrem.InvalidArgument):
        llama3.encode("red shoes", add_eos=True)


def test_directory_prefers_tokenizer_json_and_saves_it(tmp_path, stories_dir):
    shutil.copy(stories_dir / "tokenizer.model", tmp_path / "tokenizer.model")
    shutil.copy(DATA / "gpt2.json", tmp_path / "tokenizer.json")
    tok = lrem.Tokenizer.from_directory(tmp_path)
    gpt2 = lrem.Tokenizer.load(DATA / "gpt2.json")
    assert len(tok) == len(gpt2) and tok.encode("blue jeans") == gpt2.encode("blue jeans")

    emb = tok.add_special_token("<emb>")
    assert emb == len(gpt2) and len(tok) == len(gpt2) + 1
    tok.save(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "tokenizer.json").read_text(encoding="utf-8"))
    assert saved["added_tokens"][-1] == {"id": emb, "content": "<emb>", "single_word": False, "lstrip": False,
                                         "rstrip": False, "normalized": False, "special": True}
    assert not (tmp_path / "saved" / "tokenizer.model").exists()
    again = lrem.Tokenizer.from_directory(tmp_path / "saved")
    assert again.encode("jeans<emb>", add_special_tokens=True) == tok.encode("jeans<emb>", add_special_tokens=True)
    assert again.encode("jeans<emb>")[-1] == emb


def test_unsupported_parts_are_refused_with_the_field(tmp_path):
    spec = json.loads((DATA / "gpt2.json").read_text(encoding="utf-8"))
    spec["model"]["type"] = "WordLevel"
    (tmp_path / "tokenizer.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(lrem.FormatError, match="/model/type: model type 'WordLevel' is not supported"):
        lrem.Tokenizer.from_directory(tmp_path)


def test_invalid_utf8_is_refused():
    tok = lrem.Tokenizer.load(DATA / "gpt2.json")
    assert tok.encode("caf\u00e9".encode()) == tok.encode("caf\u00e9")
    with pytest.raises(lrem.InvalidArgument, match="not valid UTF-8"):
        tok.encode(b"caf\xc3(")
