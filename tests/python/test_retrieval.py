"""Embedding, indexing and search from Python, checked against numpy and the CLI."""

import json
import subprocess
import threading

import numpy as np
import pytest

import lrem

TITLES = [
    "Navy Wool Cardigan for Men",
    "Stainless Steel Claw Hammer, 16 oz",
    "Oak Dining Table with Six Chairs",
    "Red Electric Kettle 1.7 L",
    "Toy Dump Truck for Toddlers",
    "Sulfate-Free Herbal Shampoo",
]
QUERIES = ["gift for a toddler who loves trucks", "shampoo without sulfates", "something to boil water"]


@pytest.fixture(scope="module")
def model(lrem_model_dir):
    return lrem.Model.load(str(lrem_model_dir))


@pytest.fixture(scope="module")
def items():
    return lrem.ItemStore([{"id": 100 + i, "title": t, "pos": i} for i, t in enumerate(TITLES)])


def test_embeddings_are_normalised_float32_rows(model):
    emb = lrem.Embedder(model)
    q, cots = emb.embed_queries(QUERIES, return_cots=True)
    assert q.dtype == np.float32 and q.shape == (len(QUERIES), model.config.hidden_size) == (3, emb.dim)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-5)
    assert len(cots) == len(QUERIES) and all(isinstance(c, str) for c in cots)
    d = emb.embed_queries(QUERIES, mode="direct")
    assert not np.allclose(q, d), "reasoning must change the query embedding"
    it = emb.embed_items(TITLES)
    assert it.shape == (len(TITLES), emb.dim)


def test_batch_equals_one_by_one_and_cache_changes_nothing(model):
    emb = lrem.Embedder(model, batch_size=2)
    uncached = lrem.Embedder(model, cot_cache_capacity=0, prefix_cache=False)
    batch, cots = emb.embed_queries(QUERIES, return_cots=True)
    again = emb.embed_queries(QUERIES)
    assert emb.cot_cache_stats.hits == len(QUERIES)
    for i, q in enumerate(QUERIES):
        one, one_cots = uncached.embed_queries([q], return_cots=True)
        np.testing.assert_allclose(batch[i], one[0], atol=1e-5)
        np.testing.assert_allclose(again[i], one[0], atol=1e-5)
        assert cots[i] == one_cots[0]


def test_output_dim_truncates_then_normalises(model):
    full = lrem.Embedder(model).embed_items(TITLES)
    small = lrem.Embedder(model, output_dim=16).embed_items(TITLES)
    want = full[:, :16] / np.linalg.norm(full[:, :16], axis=1, keepdims=True)
    np.testing.assert_allclose(small, want, atol=1e-5)


def test_flat_search_equals_numpy_brute_force(model, items):
    emb = lrem.Embedder(model)
    index = lrem.build_index(emb, items)
    r = lrem.Retriever(emb, index, items)
    item_vecs = emb.embed_items(TITLES)
    for mode in ("reason", "direct"):
        q, cots = emb.embed_queries(QUERIES, mode=mode, return_cots=True)
        want = np.argsort(-(q @ item_vecs.T), axis=1, kind="stable")[:, :4] + 100
        for i, res in enumerate(r.search_many(QUERIES, k=4, mode=mode)):
            assert [h.id for h in res.hits] == list(want[i])
            assert res.cot == cots[i]
            assert res.mode == mode
            scores = [h.score for h in res.hits]
            assert scores == sorted(scores, reverse=True)
            assert res.hits[0].fields["pos"] == res.hits[0].id - 100


def test_saved_index_reopens_with_the_same_results(model, items, lrem_model_dir, tmp_path):
    emb = lrem.Embedder(model)
    index = lrem.build_index(emb, items, factory="HNSW32")
    lrem.save_index(index, items, tmp_path / "idx")
    before = lrem.Retriever(emb, index, items).search_many(QUERIES, k=3)
    reopened = lrem.Retriever.open(lrem_model_dir, tmp_path / "idx")
    after = reopened.search_many(QUERIES, k=3)
    assert [[h.id for h in r.hits] for r in before] == [[h.id for h in r.hits] for r in after]
    assert [r.cot for r in before] == [r.cot for r in after]


def test_open_takes_a_model_or_an_embedder_and_every_embedder_option(model, items, tmp_path):
    mean = lrem.Embedder(model, pooling="mean")
    lrem.save_index(lrem.build_index(mean, items), items, tmp_path / "mean_idx")
    want = lrem.Retriever(mean, lrem.build_index(mean, items), items).search_many(QUERIES, k=3)
    for opened in (lrem.Retriever.open(model, tmp_path / "mean_idx", pooling="mean"),
                   lrem.Retriever.open(mean, tmp_path / "mean_idx")):
        assert opened.embedder.pooling == "mean"
        got = opened.search_many(QUERIES, k=3)
        assert [[h.id for h in r.hits] for r in got] == [[h.id for h in r.hits] for r in want]
    # the index records the pooling: opening it for last-token embeddings is refused
    with pytest.raises(lrem.FormatError):
        lrem.Retriever.open(model, tmp_path / "mean_idx")
    with pytest.raises(lrem.InvalidArgument, match="embedder options"):
        lrem.Retriever.open(mean, tmp_path / "mean_idx", pooling="mean")


def test_saving_over_an_index_needs_overwrite(model, items, lrem_model_dir, tmp_path):
    emb = lrem.Embedder(model)
    index = lrem.build_index(emb, items)
    lrem.save_index(index, items, tmp_path / "idx")
    with pytest.raises(lrem.InvalidArgument, match="overwrite"):
        lrem.save_index(index, items, tmp_path / "idx")
    lrem.save_index(index, items, tmp_path / "idx", overwrite=True)
    # Another save's catalogue put in its place is refused, not paired with the index.
    lrem.save_index(index, items, tmp_path / "other")
    (tmp_path / "idx" / "items.sqlite").write_bytes((tmp_path / "other" / "items.sqlite").read_bytes())
    with pytest.raises(lrem.FormatError, match="catalogue_id"):
        lrem.Retriever.open(lrem_model_dir, tmp_path / "idx")


def test_model_changes_return_new_models(stories_dir, model):
    plain = lrem.Model.load(stories_dir)
    vocab = plain.tokenizer.vocab_size
    with_tokens = plain.with_lrem_tokens()
    assert with_tokens.tokenizer.vocab_size == vocab + 3
    assert plain.tokenizer.vocab_size == vocab
    before = lrem.Embedder(model, cot_cache_capacity=0)
    expected = before.embed_queries(QUERIES[:2], mode="direct")
    other = model.with_prompt_config(query_template="customer asks: {query}", max_cot_tokens=3)
    assert other.prompt_config["query_template"] == "customer asks: {query}"
    assert model.prompt_config["query_template"] != "customer asks: {query}"
    np.testing.assert_array_equal(before.embed_queries(QUERIES[:2], mode="direct"), expected)
    assert not np.array_equal(lrem.Embedder(other).embed_queries(QUERIES[:2], mode="direct"), expected)
    with pytest.raises(lrem.InvalidArgument):
        model.with_prompt_config(query_template="no placeholder")


def test_bad_input_raises_clear_errors(model, items, stories_dir):
    emb = lrem.Embedder(model)
    with pytest.raises(lrem.InvalidArgument):
        emb.embed_queries([""])
    with pytest.raises(lrem.InvalidArgument):
        emb.embed_queries(["   "])
    with pytest.raises(lrem.InvalidArgument, match="reason"):
        emb.embed_queries(["shoes"], mode="think-hard")
    r = lrem.Retriever(emb, lrem.build_index(emb, items), items)
    with pytest.raises(ValueError):
        r.search("shoes", k=0)
    assert len(r.search("shoes", k=1000).hits) == len(TITLES)
    with pytest.raises(lrem.InvalidArgument, match="with_lrem_tokens"):
        lrem.Embedder(lrem.Model.load(str(stories_dir)))
    with pytest.raises(lrem.InvalidArgument, match="empty catalogue"):
        lrem.build_index(emb, lrem.ItemStore([]))


def test_threads_search_concurrently_with_serial_results(model, items):
    emb = lrem.Embedder(model)
    r = lrem.Retriever(emb, lrem.build_index(emb, items), items)
    queries = QUERIES * 3
    serial = [[h.id for h in r.search(q, k=3).hits] for q in queries]
    results = [None] * len(queries)

    def run(i):
        results[i] = [h.id for h in r.search(queries[i], k=3).hits]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(queries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == serial


def test_batching_threads_get_their_serial_results(model, items):
    emb = lrem.Embedder(model, batching=True, cot_cache_capacity=0)
    plain = lrem.Embedder(model, cot_cache_capacity=0)
    r = lrem.Retriever(emb, lrem.build_index(emb, items), items)
    queries = QUERIES * 2
    results = [None] * len(queries)

    def run(i):
        results[i] = (r.search(queries[i], k=3), emb.embed_queries([queries[i]], return_cots=True))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(queries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for q, (res, (vec, cots)) in zip(queries, results):
        want, want_cots = plain.embed_queries([q], return_cots=True)
        assert res.cot == cots[0] == want_cots[0]
        np.testing.assert_allclose(vec[0], want[0], atol=1e-4)
    np.testing.assert_allclose(emb.embed_items(TITLES[:2]), plain.embed_items(TITLES[:2]), atol=1e-4)


def test_cli_index_build_and_search_match_python(model, items, lrem_model_dir, lrem_cli, tmp_path):
    items_path = tmp_path / "items.jsonl"
    items.save(items_path)
    idx = tmp_path / "cli_index"
    build = subprocess.run([lrem_cli, "index", "build", "--model", lrem_model_dir, "--items", items_path,
                            "--output", idx, "--threads", "1", "--quiet"], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    assert "6 items" in build.stdout
    out = subprocess.run([lrem_cli, "search", "--model", lrem_model_dir, "--index", idx, "--json", "-k", "3",
                          "--threads", "1", "-q", QUERIES[0], "-q", QUERIES[1]], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    emb = lrem.Embedder(model)
    py = lrem.Retriever(emb, lrem.build_index(emb, items), items).search_many(QUERIES[:2], k=3)
    assert [[h["id"] for h in line["hits"]] for line in lines] == [[h.id for h in r.hits] for r in py]
    assert [line["cot"] for line in lines] == [r.cot for r in py]
    # the HTTP /search shape: the item's own fields beside id, score and title
    assert [[h["pos"] for h in line["hits"]] for line in lines] == [[h.fields["pos"] for h in r.hits] for r in py]
    assert all("fields" not in h for line in lines for h in line["hits"])
    # embed writes a .npy that numpy reads back, equal to the Python embedding
    npy = tmp_path / "q.npy"
    emb_out = subprocess.run([lrem_cli, "embed", "--model", lrem_model_dir, "--text", QUERIES[0], "--mode", "direct",
                              "-o", npy, "--threads", "1", "--quiet"], capture_output=True, text=True)
    assert emb_out.returncode == 0, emb_out.stderr
    np.testing.assert_allclose(np.load(npy), emb.embed_queries([QUERIES[0]], mode="direct"), atol=1e-5)


def test_cli_reports_errors_without_crashing(lrem_cli, lrem_model_dir, tmp_path):
    missing = subprocess.run([lrem_cli, "search", "--model", lrem_model_dir, "--index", tmp_path / "nope", "-q", "x"],
                             capture_output=True, text=True)
    assert missing.returncode == 1
    assert "lrem: error:" in missing.stderr
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "title": "ok"}\n{"id": 2}\n')
    r = subprocess.run([lrem_cli, "index", "build", "--model", lrem_model_dir, "--items", bad, "-o", tmp_path / "i"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "line 2" in r.stderr and "title" in r.stderr, r.stderr


def test_cli_index_build_refuses_bad_index_options_before_embedding(lrem_cli, lrem_model_dir, items, tmp_path):
    items_path = tmp_path / "items.jsonl"
    items.save(items_path)
    for extra in (["--factory", "Flat", "--ef-construction", "100"], ["--factory", "HNSW16", "--ef-construction", "-5"],
                  ["--factory", "IVF4,Flat", "--ef-construction", "100", "--work-dir", tmp_path / "work"]):
        r = subprocess.run([lrem_cli, "index", "build", "--model", lrem_model_dir, "--items", items_path,
                            "-o", tmp_path / "idx", "--threads", "1", *extra], capture_output=True, text=True)
        assert r.returncode == 1 and "ef_construction" in r.stderr, r.stderr
        assert "embedding" not in r.stderr, r.stderr  # refused before the embedding run
        assert not (tmp_path / "idx").exists() and not (tmp_path / "work").exists()


def test_cli_index_build_refuses_an_existing_index_without_overwrite(lrem_cli, lrem_model_dir, items, tmp_path):
    items_path = tmp_path / "items.jsonl"
    items.save(items_path)
    build = [lrem_cli, "index", "build", "--model", lrem_model_dir, "--items", items_path, "-o", tmp_path / "idx",
             "--threads", "1", "--quiet"]
    assert subprocess.run(build, capture_output=True, text=True).returncode == 0
    again = subprocess.run(build, capture_output=True, text=True)
    assert again.returncode == 1 and "--overwrite" in again.stderr, again.stderr
    replaced = subprocess.run(build + ["--overwrite"], capture_output=True, text=True)
    assert replaced.returncode == 0, replaced.stderr


def test_auto_mode_routes_by_the_direct_score_in_python_and_the_cli(model, items, lrem_model_dir, lrem_cli, tmp_path):
    emb = lrem.Embedder(model)
    index = lrem.build_index(emb, items)
    plain = lrem.Retriever(emb, index, items)
    assert plain.auto_min_score is None
    with pytest.raises(lrem.InvalidArgument, match="fit_router"):
        plain.search(QUERIES[0], mode="auto")
    direct = plain.search_many(QUERIES, k=3, mode="direct")
    reason = plain.search_many(QUERIES, k=3, mode="reason")
    best = sorted(r.hits[0].score for r in direct)
    threshold = (best[0] + best[1]) / 2  # only the least sure query reasons
    routed = lrem.Retriever(emb, index, items, auto_min_score=threshold)
    got = routed.search_many(QUERIES, k=3, mode="auto")
    for g, d, r in zip(got, direct, reason):
        want = r if d.hits[0].score < threshold else d
        assert (g.mode, g.cot, [h.id for h in g.hits]) == (want.mode, want.cot, [h.id for h in want.hits])
    assert [g.mode for g in got].count("reason") == 1
    # An index directory carries its threshold in router.json: Python and `lrem search` read it.
    lrem.save_index(index, items, tmp_path / "idx")
    (tmp_path / "idx" / "router.json").write_text(json.dumps({"min_direct_score": threshold}))
    opened = lrem.Retriever.open(lrem_model_dir, tmp_path / "idx")
    assert opened.auto_min_score == pytest.approx(threshold)
    assert [r.mode for r in opened.search_many(QUERIES, k=3, mode="auto")] == [g.mode for g in got]
    out = subprocess.run([lrem_cli, "search", "--model", lrem_model_dir, "--index", tmp_path / "idx", "--json", "-k", "3",
                          "--mode", "auto", "--threads", "1", *[a for q in QUERIES for a in ("-q", q)]],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert [json.loads(line)["mode"] for line in out.stdout.splitlines()] == [g.mode for g in got]
    with pytest.raises(lrem.InvalidArgument, match="Retriever.search"):
        emb.embed_queries(QUERIES, mode="auto")


@pytest.mark.parametrize("bad", [float("nan"), 5.0, -1.5, "0.5", True])
def test_an_auto_threshold_that_is_no_cosine_is_refused(model, items, bad):
    emb = lrem.Embedder(model)
    index = lrem.build_index(emb, items)
    with pytest.raises(lrem.InvalidArgument, match="auto_min_score|min_direct_score"):
        lrem.Retriever(emb, index, items, auto_min_score=bad)


def test_queries_of_the_wrong_type_raise_lrem_errors(model, items):
    retriever = lrem.Retriever(lrem.Embedder(model), lrem.build_index(lrem.Embedder(model), items), items)
    with pytest.raises(lrem.InvalidArgument, match="queries must be a str or a list of str"):
        retriever.search_many([QUERIES[0], 5], mode="direct")
    with pytest.raises(lrem.InvalidArgument, match="query must be a str"):
        retriever.search(5, mode="direct")
    with pytest.raises(lrem.InvalidArgument, match="query must be a str"):
        retriever.search([QUERIES[0]], mode="direct")
    # A single str is one query, as in Embedder.embed_queries.
    assert len(retriever.search_many(QUERIES[0], k=2, mode="direct")) == 1
