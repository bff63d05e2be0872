"""lrem.Index from Python: exact search against numpy, persistence, errors."""

import threading

import numpy as np
import pytest

import lrem


def normalised(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((300, 16)).astype(np.float32), np.arange(1000, 1300, dtype=np.int64)


def test_flat_equals_numpy_brute_force(data):
    base, ids = data
    index = lrem.Index(16)
    index.add(base, ids)
    assert len(index) == 300
    queries = np.random.default_rng(1).standard_normal((12, 16)).astype(np.float32)
    scores, got = index.search(queries, k=10)
    assert scores.shape == got.shape == (12, 10)
    assert scores.dtype == np.float32 and got.dtype == np.int64
    sims = normalised(queries) @ normalised(base).T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(got, ids[order])
    np.testing.assert_allclose(scores, np.take_along_axis(sims, order, axis=1), atol=1e-5)


def test_padding_and_one_dimensional_query():
    index = lrem.Index(3)
    index.add(np.eye(3, dtype=np.float32)[:2], [5, 6])
    scores, ids = index.search(np.array([1, 0, 0], dtype=np.float64), k=4)  # float64 is converted
    assert ids.tolist() == [[5, 6, -1, -1]]
    assert scores[0, 0] == pytest.approx(1.0)
    assert np.isneginf(scores[0, 2:]).all()


def test_persistence_round_trip(tmp_path, data):
    base, ids = data
    index = lrem.Index(16, factory="HNSW16")
    index.model_fingerprint = "model-7"
    index.set_ef_construction(80)
    index.add(base, ids)
    queries = base[:5] + 0.01
    before = index.search(queries, k=5)
    index.save(tmp_path / "idx")
    loaded = lrem.Index.load(tmp_path / "idx", expected_fingerprint="model-7")
    assert (loaded.dim, loaded.factory, len(loaded), loaded.model_fingerprint) == (16, "HNSW16", 300, "model-7")
    assert (loaded.hnsw_m, loaded.ef_construction) == (16, 80)
    after = loaded.search(queries, k=5)
    np.testing.assert_array_equal(before[1], after[1])
    np.testing.assert_array_equal(before[0], after[0])
    with pytest.raises(lrem.FormatError, match="model-8"):
        lrem.Index.load(tmp_path / "idx", expected_fingerprint="model-8")
    with pytest.raises(lrem.FormatError):
        lrem.Index.load(tmp_path / "idx", expected_dim=32)
    blob = bytearray((tmp_path / "idx" / "index.faiss").read_bytes())
    blob[len(blob) // 2] ^= 1
    (tmp_path / "idx" / "index.faiss").write_bytes(bytes(blob))
    with pytest.raises(lrem.FormatError, match="index_sha256"):
        lrem.Index.load(tmp_path / "idx")
    with pytest.raises(lrem.IoError):
        lrem.Index.load(tmp_path / "nowhere")


def test_errors_map_to_lrem_exceptions(data):
    base, ids = data
    with pytest.raises(lrem.InvalidArgument):
        lrem.Index(16, factory="NotAFactory")
    index = lrem.Index(16)
    with pytest.raises(lrem.InvalidArgument, match="shape"):
        index.add(base[:, :8], ids)
    with pytest.raises(lrem.InvalidArgument, match="ids"):
        index.add(base, ids[:10])
    bad = base[:2].copy()
    bad[1, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):  # lrem.InvalidArgument is also a ValueError
        index.add(bad, ids[:2])
    index.add(base[:2], ids[:2])
    with pytest.raises(lrem.InvalidArgument, match="already"):
        index.add(base[:1], ids[:1])
    with pytest.raises(lrem.InvalidArgument):
        index.search(base[:1], k=0)
    with pytest.raises(lrem.InvalidArgument):
        index.set_nprobe(4)


def test_ivf_train_remove_and_nprobe(data):
    base, ids = data
    index = lrem.Index(16, factory="IVF4,Flat")
    assert not index.is_trained
    with pytest.raises(lrem.InvalidArgument, match="train"):
        index.add(base, ids)
    index.train(base)
    index.add(base, ids)
    index.set_nprobe(4)
    assert index.remove(np.array([1000, 1001, 5])) == 2
    assert len(index) == 298
    _, got = index.search(base[:1], k=300)
    assert 1000 not in got


def test_concurrent_searches_from_threads(data):
    base, ids = data
    index = lrem.Index(16)
    index.add(base, ids)
    queries = base[:40]
    expected = index.search(queries, k=5)[1]
    results = [None] * 4

    def worker(t):
        results[t] = np.vstack([index.search(q, k=5)[1] for q in queries])

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expected)
