"""lrem.Tokenizer from Python: SentencePiece inside the extension, next to numpy and libtorch."""

import copy
import json
import threading

import numpy as np  # imported before lrem on purpose: the protobuf clash would crash here
import pytest

import lrem

TEXTS = [
    "Once upon a time",
    "Lily and Ben went to the park. They saw a big, red ball!",
    "caf\u00e9 na\u00efve \u65e5\u672c\u8a9e",
    "emoji \U0001F642\U0001F680 end",
]


@pytest.fixture()
def tok(stories_dir):
    return lrem.Tokenizer.load(stories_dir / "tokenizer.model")


def test_vocabulary_of_the_pretrained_tokenizer(tok):
    assert (tok.vocab_size, len(tok), tok.sentencepiece_size) == (512, 512, 512)
    assert (tok.unk_id, tok.bos_id, tok.eos_id, tok.pad_id) == (0, 1, 2, -1)
    assert tok.id_to_piece(1) == "<s>" and tok.piece_to_id("</s>") == 2
    assert tok.piece_to_id("not a piece") == -1
    assert tok.added_tokens == []


def test_encode_decode_round_trip(tok):
    ids = tok.encode("Once upon a time", add_bos=True)
    assert ids[0] == 1 and len(ids) == 5 and all(isinstance(i, int) for i in ids)
    for text in TEXTS:
        assert tok.decode(tok.encode(text)) == text
    assert tok.decode(np.array(ids, dtype=np.int64), skip_special_tokens=True) == "Once upon a time"
    assert tok.encode_batch(TEXTS, add_eos=True) == [tok.encode(t, add_eos=True) for t in TEXTS]


def test_special_tokens_are_never_split(tok):
    assert [tok.add_special_token(t) for t in ("<think>", "</think>", "<emb>")] == [512, 513, 514]
    assert tok.added_tokens == [(512, "<think>"), (513, "</think>"), (514, "<emb>")]
    ids = tok.encode("a<think>b</think><emb>")
    assert ids == tok.encode("a") + [512] + tok.encode("b") + [513, 514]
    assert tok.decode(ids) == "a<think>b</think><emb>"
    assert tok.decode(ids, skip_special_tokens=True) == "ab"
    assert "<emb>" in repr(tok)
    other = copy.copy(tok)
    other.add_special_token("<extra>")
    assert len(other) == 516 and len(tok) == 515


def test_save_and_reload(tok, tmp_path):
    tok.add_special_token("<emb>")
    tok.save(tmp_path / "model")
    config = json.loads((tmp_path / "model" / "tokenizer_config.json").read_text())
    assert config["added_tokens_decoder"]["512"]["content"] == "<emb>"
    assert config["tokenizer_class"] == "LlamaTokenizer"
    loaded = lrem.Tokenizer.from_directory(tmp_path / "model")
    assert loaded.added_tokens == [(512, "<emb>")]
    assert loaded.encode("hello <emb>") == tok.encode("hello <emb>")


def test_train_releases_a_working_tokenizer(tmp_path):
    words = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran", "far", "away"]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(" ".join(words[(i * k) % 10] for k in range(1, 8)) for i in range(2000)) + "\n")
    trained = lrem.Tokenizer.train(corpus, tmp_path / "tiny", vocab_size=300, seed=3)
    assert len(trained) == 300 and (tmp_path / "tiny.model").is_file()
    text = "the dog sat  on a mat far away"
    assert trained.decode(trained.encode(text)) == text


def test_encode_batch_from_threads(tok):
    expected = tok.encode_batch(TEXTS * 50)
    results = [None] * 4

    def work(i):
        results[i] = tok.encode_batch(TEXTS * 50)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 4


def test_errors_map_to_lrem_exceptions(tok, tmp_path, stories_dir):
    with pytest.raises(lrem.IoError) as missing:
        lrem.Tokenizer.load(tmp_path / "missing.model")
    assert isinstance(missing.value, OSError) and isinstance(missing.value, lrem.Error)

    garbage = tmp_path / "garbage.model"
    garbage.write_bytes(b"\x08\xff\x01 not a model")
    with pytest.raises(lrem.FormatError) as bad_model:
        lrem.Tokenizer.load(garbage)
    assert isinstance(bad_model.value, ValueError) and "garbage.model" in str(bad_model.value)

    config = tmp_path / "tokenizer_config.json"
    config.write_text('{"added_tokens_decoder": {"600": {"content": "<x>", "special": true}}}')
    with pytest.raises(lrem.FormatError, match="tokenizer_config.json"):
        lrem.Tokenizer.load(stories_dir / "tokenizer.model", tokenizer_config=config)

    with pytest.raises(lrem.InvalidArgument):
        tok.id_to_piece(512)
    with pytest.raises(ValueError):
        tok.decode([3, -1])
    with pytest.raises(lrem.InvalidArgument):
        lrem.Tokenizer.train(tmp_path / "missing.txt", tmp_path / "m", model_type="wordpiece")
