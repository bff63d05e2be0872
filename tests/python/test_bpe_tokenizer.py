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


@pytest.mark.parametrize("name", SMALL + ["qwen2"])
def test_matches_hugging_face(name, fixtures_dir):
    tok = lrem.Tokenizer.load(tokenizer_path(name, fixtures_dir))
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
