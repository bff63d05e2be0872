"""Distributed, resumable catalogue encoding and sharded index builds (docs/SCALE.md), run
through the `lrem` command as torchrun would run it: N processes with RANK, WORLD_SIZE,
MASTER_ADDR and MASTER_PORT, talking over c10d/Gloo, on the shipped demo model."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "lrem-demo"
WORDS = ["red", "wool", "garden", "steel", "kids", "travel", "leather", "bamboo", "solar", "vintage"]
NOUNS = ["kettle", "sneakers", "lamp", "backpack", "drill", "blanket", "mug", "tent", "scarf", "speaker"]


def write_items(path: Path, n: int) -> Path:
    with open(path, "w") as f:
        for i in range(n):
            title = f"{WORDS[i % 10]} {WORDS[i // 10 % 10]} {NOUNS[i // 100 % 10]} model {i}"
            f.write(json.dumps({"id": 1000 + i, "title": title, "price": i % 97}) + "\n")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(cli, args, world_size, port, env_for_rank=None):
    """Starts `lrem <args>` as every rank of a world_size job; returns the processes."""
    procs = []
    for rank in range(world_size):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(world_size), MASTER_ADDR="127.0.0.1",
                   MASTER_PORT=str(port), LOCAL_RANK=str(rank))
        env.update((env_for_rank or {}).get(rank, {}))
        procs.append(subprocess.Popen([str(cli), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    return procs


def finish(procs, timeout=120):
    """(returncode, stdout, stderr) of each process, in rank order."""
    outputs = [p.communicate(timeout=timeout) for p in procs]
    return [(p.returncode, *out) for p, out in zip(procs, outputs)]


def run_ok(cli, args, world_size=1):
    out = finish(launch(cli, args, world_size, free_port()))
    for rank, (code, stdout, stderr) in enumerate(out):
        assert code == 0, f"rank {rank}: {stderr}"
    return out


def report(stdout: str) -> dict:
    """The counts of the line `... rank r: encoded E chunks (I items), skipped S finished chunks, re-encoded R`."""
    m = re.search(r"encoded (\d+) chunks \((\d+) items\), skipped (\d+) finished chunks, re-encoded (\d+)", stdout)
    assert m, stdout
    return dict(zip(["encoded", "items", "skipped", "reencoded"], map(int, m.groups())))


def chunk_files(d: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(d.glob("chunk-*"))}


def embed_args(items, chunks_dir, chunk_bytes=2048, extra=()):
    return ["embed", "--model", str(MODEL), "--items", str(items), "--chunks-dir", str(chunks_dir),
            "--chunk-bytes", str(chunk_bytes), "--threads", "1", "--quiet", *extra]


def build_args(items, out, work, factory, extra=()):
    return ["index", "build", "--model", str(MODEL), "--items", str(items), "--output", str(out), "--work-dir",
            str(work), "--factory", factory, "--chunk-bytes", "2048", "--threads", "1", "--quiet", *extra]


@pytest.mark.parametrize("factory", ["Flat", "IVF16,Flat"])
def test_two_ranks_build_the_index_one_process_builds(lrem_cli, tmp_path, factory):
    import lrem

    items = write_items(tmp_path / "items.jsonl", 600)
    run_ok(lrem_cli, build_args(items, tmp_path / "one", tmp_path / "w1", factory))
    two = run_ok(lrem_cli, build_args(items, tmp_path / "two", tmp_path / "w2", factory), world_size=2)
    # Both ranks encoded a share; only rank 0 reports the saved index.
    shares = [report(stdout)["items"] for _, stdout, _ in two]
    assert sum(shares) == 600 and min(shares) > 0, shares
    assert "-> " in two[0][1] and "-> " not in two[1][1]
    assert chunk_files(tmp_path / "w1" / "embeddings") == chunk_files(tmp_path / "w2" / "embeddings")

    one, par = lrem.Index.load(tmp_path / "one"), lrem.Index.load(tmp_path / "two")
    assert len(one) == len(par) == 600
    queries = np.random.default_rng(0).standard_normal((40, one.dim)).astype(np.float32)
    for index in (one, par):
        if factory.startswith("IVF"):
            index.set_nprobe(4)
    s1, i1 = one.search(queries, k=10)
    s2, i2 = par.search(queries, k=10)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(s1, s2, rtol=0, atol=1e-6)
    # The catalogue went into the directory's item database, streamed from items.jsonl.
    store = lrem.Retriever.open(lrem.Model.load(MODEL), tmp_path / "two").items
    assert store.is_database
    assert store.items() == lrem.read_items(items)


def test_ranks_adding_bounded_sub_shards_write_the_one_process_index_file(lrem_cli, tmp_path):
    """Each rank cuts its share into sub-shards of at most --shard-vectors vectors (so its memory
    does not grow with the catalogue); merged in chunk order they give the same bytes."""
    items = write_items(tmp_path / "items.jsonl", 600)
    factory = "IVF16,Flat"
    run_ok(lrem_cli, build_args(items, tmp_path / "one", tmp_path / "w1", factory))
    expected = (tmp_path / "one" / "index.faiss").read_bytes()
    loud = [a for a in build_args(items, tmp_path / "two", tmp_path / "w2", factory) if a != "--quiet"]
    two = run_ok(lrem_cli, [*loud, "--shard-vectors", "60"], world_size=2)
    added = 0
    for rank, (_, _, stderr) in enumerate(two):
        saved = [int(v) for v in re.findall(rf"rank {rank}: sub-shard \d+ of \d+: (\d+) vectors", stderr)]
        assert len(saved) >= 3 and all(0 < v <= 60 for v in saved), stderr
        added += sum(saved)
    assert added == 600
    assert (tmp_path / "two" / "index.faiss").read_bytes() == expected
    assert not list((tmp_path / "w2").glob("shard-*")), "the sub-shards outlived the build"

    # A killed run's sub-shards (here: stand-ins holding every vector) are rewritten or, when
    # this run makes fewer, never merged.
    for stale in ("shard-0-0", "shard-1-1", "shard-1-99"):
        shutil.copytree(tmp_path / "one", tmp_path / "w2" / stale)
    run_ok(lrem_cli, [*build_args(items, tmp_path / "two", tmp_path / "w2", factory), "--shard-vectors", "60",
                      "--overwrite"], world_size=2)
    assert (tmp_path / "two" / "index.faiss").read_bytes() == expected


def test_more_sub_shards_than_open_files_are_refused_before_adding(lrem_cli, tmp_path):
    import resource

    items = write_items(tmp_path / "items.jsonl", 600)
    args = [*build_args(items, tmp_path / "out", tmp_path / "w", "IVF16,Flat"), "--shard-vectors", "1"]
    # One sub-shard per chunk (about 20) and 64 spare descriptors do not fit in 80.
    r = subprocess.run([str(lrem_cli), *args], capture_output=True, text=True, timeout=300,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (80, 80)))
    assert r.returncode != 0
    assert "ulimit -n" in r.stderr and "--shard-vectors" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists() and not list((tmp_path / "w").glob("shard-*"))


# Debian 12's torchrun (python3-torch 1.13 under Python 3.11) crashes on its default
# --redirects/--tee "0": Std.from_str returns None because Python 3.11 no longer iterates
# IntFlag's zero member. A per-rank mapping with a non-zero value avoids that code path.
TORCHRUN_PY311_WORKAROUND = ["--redirects", "0:2,1:2", "--tee", "0:2,1:2"]


@pytest.mark.skipif(not shutil.which("torchrun"), reason="torchrun (Debian python3-torch) is not installed")
def test_torchrun_runs_the_index_build(lrem_cli, tmp_path):
    """torchrun's agent hosts the rendezvous store itself on MASTER_PORT; the ranks join it."""
    import lrem

    items = write_items(tmp_path / "items.jsonl", 300)
    run_ok(lrem_cli, build_args(items, tmp_path / "one", tmp_path / "w1", "IVF8,Flat"))
    r = subprocess.run(["torchrun", "--nproc_per_node", "2", "--master_port", str(free_port()),
                        *TORCHRUN_PY311_WORKAROUND, "--no_python", str(lrem_cli),
                        *build_args(items, tmp_path / "two", tmp_path / "w2", "IVF8,Flat")],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert chunk_files(tmp_path / "w1" / "embeddings") == chunk_files(tmp_path / "w2" / "embeddings")
    assert len(lrem.Index.load(tmp_path / "two")) == 300


def test_a_taken_master_port_is_reported_with_what_to_do(lrem_cli, tmp_path):
    items = write_items(tmp_path / "items.jsonl", 50)
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        procs = launch(lrem_cli, embed_args(items, tmp_path / "a"), 1, taken.getsockname()[1],
                       {0: {"WORLD_SIZE": "2"}})
        code, _, stderr = finish(procs, timeout=60)[0]
    assert code != 0 and "rank 0 could not listen on 127.0.0.1:" in stderr and "set MASTER_PORT" in stderr, stderr


def test_a_killed_rank_resumes_without_reencoding_finished_chunks(lrem_cli, tmp_path):
    items = write_items(tmp_path / "items.jsonl", 1500)
    work = tmp_path / "chunks"
    # Small batches so that the kill lands mid-run; every run uses the same ones, as padding
    # in larger batches changes the last bits of a vector.
    slow = ["--batch-size", "2"]
    procs = launch(lrem_cli, embed_args(items, work, 1024, slow), 2, free_port())
    deadline = time.time() + 60
    while len(list(work.glob("chunk-*.json"))) < 4 and time.time() < deadline:
        time.sleep(0.02)
    procs[1].send_signal(signal.SIGKILL)
    code0, _, err0 = finish(procs)[0]
    assert code0 != 0, "rank 0 finished although rank 1 was killed"
    # Not Gloo's "Connection closed by peer" alone: which collective, why, and what to do.
    assert re.search(r"distributed: rank 0: the collective \S+ .*failed", err0), err0
    assert "another rank probably died" in err0 and "Rerun the same command to resume" in err0, err0
    done = {p.name: p.stat() for p in work.glob("chunk-*.json")}
    total = json.loads((work / "manifest.json").read_text())["chunks"]
    assert 4 <= len(done) < total

    out = run_ok(lrem_cli, embed_args(items, work, 1024, slow), world_size=2)
    counts = [report(stdout) for _, stdout, _ in out]
    assert sum(c["skipped"] for c in counts) == len(done)
    assert sum(c["encoded"] for c in counts) == total - len(done)
    assert sum(c["reencoded"] for c in counts) == 0
    for name, before in done.items():  # finished chunks were verified, never rewritten
        after = (work / name).stat()
        assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns), name

    clean = tmp_path / "clean"
    run_ok(lrem_cli, embed_args(items, clean, 1024, slow))
    assert chunk_files(work) == chunk_files(clean)


def test_a_corrupt_chunk_is_reencoded(lrem_cli, tmp_path):
    items = write_items(tmp_path / "items.jsonl", 200)
    work = tmp_path / "chunks"
    run_ok(lrem_cli, embed_args(items, work))
    good = chunk_files(work)
    victim = work / "chunk-000002.bin"
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0x40
    victim.write_bytes(bytes(data))
    (_, stdout, stderr), = run_ok(lrem_cli, embed_args(items, work))
    assert report(stdout)["reencoded"] == 1 and report(stdout)["encoded"] == 1
    assert "re-encoding chunk 2" in stderr and "checksum" in stderr
    assert chunk_files(work) == good


def test_bad_launches_fail_clearly(lrem_cli, tmp_path):
    items = write_items(tmp_path / "items.jsonl", 50)
    # Ranks told different world sizes: every rank that can tell says so, none hangs.
    procs = launch(lrem_cli, embed_args(items, tmp_path / "a"), 2, free_port(), {1: {"WORLD_SIZE": "3"}})
    for code, _, stderr in finish(procs, timeout=60):
        assert code != 0 and "world_size" in stderr and "WORLD_SIZE" in stderr, stderr
    # A rank outside the world, and a malformed variable.
    for env, words in [({"RANK": "2", "WORLD_SIZE": "2"}, "RANK=2 is not below WORLD_SIZE=2"),
                       ({"RANK": "0", "WORLD_SIZE": "two"}, "WORLD_SIZE='two'")]:
        r = subprocess.run([str(lrem_cli), *embed_args(items, tmp_path / "b")], env=dict(os.environ, **env),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and words in r.stderr, r.stderr
    # A directory holding another run's chunks is not mixed with this one.
    run_ok(lrem_cli, embed_args(items, tmp_path / "c", chunk_bytes=1024))
    r = subprocess.run([str(lrem_cli), *embed_args(items, tmp_path / "c", chunk_bytes=4096)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "holds chunks of another encoding run" in r.stderr, r.stderr
    # A bad item names the file, the chunk's first byte and the line within it.
    with open(items, "a") as f:
        f.write('{"id": 7, "title": ""}\n')
    r = subprocess.run([str(lrem_cli), *embed_args(items, tmp_path / "d", chunk_bytes=1 << 20)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "items.jsonl (chunk 0, lines from byte 0) line 51: /title" in r.stderr, r.stderr


def test_an_ivf_index_served_memory_mapped_answers_as_in_memory(lrem_cli, tmp_path):
    import lrem

    items = write_items(tmp_path / "items.jsonl", 400)
    run_ok(lrem_cli, build_args(items, tmp_path / "ix", tmp_path / "w", "IVF8,PQ8np"))
    memory = lrem.Index.load(tmp_path / "ix")
    mapped = lrem.Index.load(str(tmp_path / "ix"), mmap=True)
    # The inverted lists are mapped from the verified index.faiss, not read into memory.
    assert str(tmp_path / "ix" / "index.faiss") in Path("/proc/self/maps").read_text()
    queries = np.random.default_rng(1).standard_normal((25, memory.dim)).astype(np.float32)
    for index in (memory, mapped):
        index.set_nprobe(8)
    np.testing.assert_array_equal(memory.search(queries, k=10)[1], mapped.search(queries, k=10)[1])
    with pytest.raises(lrem.InvalidArgument, match="memory-mapped"):
        mapped.add(queries[:1], np.array([5]))
    with pytest.raises(lrem.InvalidArgument, match="memory-mapped"):
        mapped.remove(np.array([1000]))

    retriever = lrem.Retriever.open(MODEL, tmp_path / "ix", mmap=True)
    hits = retriever.search("red wool kettle", k=5, mode="direct").hits
    assert len(hits) == 5 and all(h.title for h in hits)
    # A corrupt file is refused before it is mapped. It is replaced by a rename, as lrem's own
    # saves do: rewriting a mapped file in place would pull pages from under its readers.
    data = bytearray((tmp_path / "ix" / "index.faiss").read_bytes())
    data[len(data) // 2] ^= 1
    (tmp_path / "corrupt").write_bytes(bytes(data))
    os.replace(tmp_path / "corrupt", tmp_path / "ix" / "index.faiss")
    with pytest.raises(lrem.FormatError, match="does not match the index_sha256"):
        lrem.Index.load(tmp_path / "ix", mmap=True)
