"""Every error the Python API raises is an lrem.Error subclass with a message that says what
was wrong; paths are accepted as str or pathlib.Path."""

import pathlib

import numpy as np
import pytest

import lrem


@pytest.fixture(scope="module")
def model(lrem_model_dir):
    return lrem.Model.load(lrem_model_dir)


@pytest.fixture(scope="module")
def retriever(model):
    emb = lrem.Embedder(model)
    items = lrem.ItemStore([{"id": i, "title": t} for i, t in enumerate(["red shoes", "a hammer", "a kettle"])])
    return lrem.Retriever(emb, lrem.build_index(emb, items), items)


def test_bad_inputs_raise_lrem_errors(model, retriever, lrem_model_dir, tmp_path):
    emb = retriever.embedder
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    cases = {
        "embed_queries of ints": lambda: emb.embed_queries([1, 2]),
        "embed_items of ints": lambda: emb.embed_items([1, 2]),
        "embed_queries of None": lambda: emb.embed_queries([None]),
        "empty query": lambda: emb.embed_queries([""]),
        "unknown mode": lambda: emb.embed_queries(["shoes"], mode="deep"),
        "cuda on a CPU build": lambda: lrem.Model.load(lrem_model_dir, device="cuda"),
        "bad device": lambda: lrem.Model.load(lrem_model_dir, device="tpu"),
        "bad dtype": lambda: lrem.Model.load(lrem_model_dir, dtype="int3"),
        "missing model": lambda: lrem.Model.load(tmp_path / "nowhere"),
        "k = 0": lambda: retriever.search("shoes", k=0),
        "search of an empty query": lambda: retriever.search(""),
        "search_many unknown mode": lambda: retriever.search_many(["a"], mode="x"),
        "index of the wrong width": lambda: lrem.Index(8).add(np.zeros((2, 4), np.float32), np.arange(2)),
        "broken items file": lambda: lrem.read_items(tmp_path / "bad.jsonl"),
        "missing index": lambda: lrem.Retriever.open(lrem_model_dir, tmp_path / "no_index"),
    }
    for name, call in cases.items():
        with pytest.raises(Exception) as info:
            call()
        assert isinstance(info.value, lrem.Error), f"{name}: {type(info.value).__name__}: {info.value}"
        message = str(info.value)
        assert message and "Exception raised from" not in message, name


def test_texts_of_the_wrong_type_name_the_argument(retriever):
    with pytest.raises(lrem.InvalidArgument, match="texts must be a str or a list of str"):
        retriever.embedder.embed_queries([1, 2])


def test_cuda_on_a_cpu_build_says_so(lrem_model_dir):
    with pytest.raises(lrem.InvalidArgument, match="CPU-only"):
        lrem.Model.load(lrem_model_dir, device="cuda")


def test_model_load_and_save_take_a_path(model, lrem_model_dir, tmp_path):
    loaded = lrem.Model.load(pathlib.Path(lrem_model_dir))
    assert loaded.fingerprint == model.fingerprint
    model.save(tmp_path / "copy")
    assert lrem.Model.load(tmp_path / "copy").fingerprint == model.fingerprint


def test_cli_generate_takes_dtype_like_every_model_loading_command(lrem_cli, stories_dir):
    import subprocess

    def run(dtype):
        return subprocess.run([str(lrem_cli), "generate", "--model", str(stories_dir), "--prompt", "Once upon a time",
                               "--max-new-tokens", "4", "--dtype", dtype], capture_output=True, text=True)

    ok = run("bfloat16")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("Once upon a time")
    bad = run("int3")
    assert bad.returncode == 1
    assert "unknown dtype 'int3'" in bad.stderr


def test_arguments_of_the_wrong_type_raise_an_lrem_error_that_is_a_type_error(retriever, lrem_model_dir, tmp_path):
    # pybind11 refuses these before lrem's code runs; they used to escape as a bare TypeError.
    cases = {
        "Retriever.open mmap str": lambda: lrem.Retriever.open(lrem_model_dir, tmp_path, mmap="yes"),
        "Index.load mmap str": lambda: lrem.Index.load(tmp_path, mmap="yes"),
        "search k str": lambda: retriever.search("shoes", k="ten"),
        "Index of a str dimension": lambda: lrem.Index("eight"),
        "search_many k str": lambda: retriever.search_many(["shoes"], k="ten"),
        "ItemStore of a number": lambda: lrem.ItemStore(5),
        "module function": lambda: lrem.set_num_threads("two"),
    }
    for name, call in cases.items():
        with pytest.raises(lrem.ArgumentTypeError) as info:
            call()
        assert isinstance(info.value, lrem.InvalidArgument) and isinstance(info.value, TypeError), name
        assert "incompatible" in str(info.value), name


def test_wrapping_keeps_names_and_docs(retriever):
    assert lrem.Retriever.open.__name__ == "open" and "index directory" in lrem.Retriever.open.__doc__
    assert lrem.Retriever.search.__doc__ and lrem.Index.__init__.__doc__
    assert retriever.search("shoes", k=1).hits  # methods still bind their instance
