"""The interfaces serving stacks expect, against a real `lrem serve` process and Python's own
HTTP client: OpenAI's POST /v1/embeddings, Prometheus's GET /metrics, load shedding (503 with
Retry-After when the compute queue is full) and a graceful drain on SIGTERM."""

import base64
import json
import math
import os
import re
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import LremServe, build_index  # noqa: E402

ITEMS = ["Red Running Shoes", "Navy Wool Cardigan", "Steel Claw Hammer", "Wooden Toy Truck", "Oak Dining Table",
         "Stainless Kettle", "Leather Hiking Boots", "Plush Teddy Bear"]


@pytest.fixture(scope="module")
def index(lrem_cli, lrem_model_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("serve_interfaces")
    items = d / "items.jsonl"
    items.write_text("".join(json.dumps({"id": i, "title": t}) + "\n" for i, t in enumerate(ITEMS)))
    return build_index(lrem_cli, lrem_model_dir, items, d / "index")


@pytest.fixture(scope="module")
def server(lrem_cli, lrem_model_dir, index):
    with LremServe(lrem_cli, lrem_model_dir, index, "--threads", "1", "--http-threads", "2") as s:
        yield s


@pytest.fixture(scope="module")
def model(lrem_model_dir):
    import lrem

    return lrem.Model.load(lrem_model_dir)


# --- POST /v1/embeddings ------------------------------------------------------------------

def vectors(body) -> np.ndarray:
    return np.array([d["embedding"] for d in body["data"]], dtype=np.float32)


def test_v1_embeddings_answers_as_openai_does_with_the_libraries_vectors(server, model, lrem_model_dir):
    import lrem

    texts = ["red shoes for running", "a hammer"]
    status, body = server.json("POST", "/v1/embeddings", {"input": texts, "model": "text-embedding-3-small"})
    assert status == 200, body
    assert set(body) == {"object", "data", "model", "usage"}
    assert body["object"] == "list"
    assert body["model"] == Path(lrem_model_dir).name  # the served model, named after its directory
    assert [(d["object"], d["index"]) for d in body["data"]] == [("embedding", 0), ("embedding", 1)]
    tokens = sum(len(model.tokenizer.encode(t)) for t in texts)
    assert body["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}
    # Inputs are queries, in the server's default mode (reason), unless told otherwise.
    embedder = lrem.Embedder(model)
    np.testing.assert_allclose(vectors(body), embedder.embed_queries(texts, mode="reason"), atol=1e-5)
    status, direct = server.json("POST", "/v1/embeddings", {"input": texts, "mode": "direct"})
    np.testing.assert_allclose(vectors(direct), embedder.embed_queries(texts, mode="direct"), atol=1e-5)
    status, items = server.json("POST", "/v1/embeddings", {"input": texts, "kind": "item"})
    np.testing.assert_allclose(vectors(items), embedder.embed_items(texts), atol=1e-5)
    # A lone string is one input.
    status, one = server.json("POST", "/v1/embeddings", {"input": "a hammer", "mode": "direct"})
    assert status == 200 and len(one["data"]) == 1
    np.testing.assert_allclose(vectors(one)[0], vectors(direct)[1], atol=1e-6)


def test_v1_embeddings_dimensions_and_base64(server, model):
    import lrem

    texts = ["red shoes for running", "a hammer"]
    want = lrem.Embedder(model, output_dim=16).embed_queries(texts, mode="direct")
    status, floats = server.json("POST", "/v1/embeddings", {"input": texts, "mode": "direct", "dimensions": 16})
    assert status == 200, floats
    np.testing.assert_allclose(vectors(floats), want, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(vectors(floats), axis=1), 1, atol=1e-5)
    status, packed = server.json("POST", "/v1/embeddings",
                                 {"input": texts, "mode": "direct", "dimensions": 16, "encoding_format": "base64"})
    assert status == 200, packed
    decoded = np.stack([np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in packed["data"]])
    assert decoded.shape == (2, 16)
    np.testing.assert_array_equal(decoded, vectors(floats))  # the same floats, bit for bit


@pytest.mark.parametrize("body, message", [
    ({"input": [101, 2023]}, "token-id input is not accepted"),
    ({"input": [[101, 2023], [7]]}, "token-id input is not accepted"),
    ({"input": "a", "dimensions": 100000}, "/dimensions: is over the served model's"),
    ({"input": "a", "dimensions": 0}, "/dimensions"),
    ({"input": "a", "encoding_format": "int8"}, "unknown encoding_format 'int8'"),
    ({"input": []}, "/input: is empty"),
    ({"texts": ["a"]}, "texts"),
])
def test_v1_embeddings_refuses_what_it_cannot_serve_with_400(server, body, message):
    status, reply = server.json("POST", "/v1/embeddings", body)
    assert status == 400
    assert message in reply["error"], reply


# --- GET /metrics ---------------------------------------------------------------------------

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? '
                    r'(\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')


def parse_metrics(text: str):
    """Prometheus text format 0.0.4, strictly: every line a # HELP/# TYPE comment or a
    `name{labels} value` sample of a declared family. Returns ({name: type}, [(name, labels, value)])."""
    assert text.endswith("\n")
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$", line)
            assert m, f"bad comment line: {line!r}"
            if m.group(1) == "TYPE":
                assert m.group(3) in {"counter", "gauge", "histogram", "summary", "untyped"}, line
                types[m.group(2)] = m.group(3)
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.group(1), dict(LABEL.findall(m.group(3) or "")), float(m.group(4))
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"{name} has no # TYPE line before it"
        samples.append((name, labels, value))
    return types, samples


def value(samples, name, **labels):
    found = [v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in labels.items())]
    return found[0] if found else 0.0


def test_metrics_are_valid_prometheus_text_and_count_what_happened(server):
    def scrape():
        status, headers, data = server.request("GET", "/metrics")
        assert status == 200
        assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        return parse_metrics(data.decode())

    _, before = scrape()
    query = {"query": "metrics: shoes seen twice", "mode": "reason"}
    assert server.json("POST", "/search", query)[0] == 200
    assert server.json("POST", "/search", query)[0] == 200  # answered from the CoT cache
    assert server.json("POST", "/v1/embeddings", {"input": ["a", "b", "c"], "mode": "direct"})[0] == 200
    assert server.request("POST", "/search", b"{not json")[0] == 400
    assert server.request("GET", "/no/such/path")[0] == 404
    types, after = scrape()

    for name, kind in {"lrem_http_requests_total": "counter", "lrem_http_request_duration_seconds": "histogram",
                       "lrem_batch_size": "histogram", "lrem_queries_total": "counter",
                       "lrem_cot_cache_hits_total": "counter", "lrem_cot_cache_misses_total": "counter",
                       "lrem_http_requests_in_flight": "gauge", "lrem_compute_queue_depth": "gauge",
                       "lrem_compute_slots": "gauge", "lrem_compute_slots_busy": "gauge",
                       "lrem_compute_queue_limit": "gauge", "lrem_draining": "gauge",
                       "lrem_http_connections_refused_total": "counter"}.items():
        assert types.get(name) == kind, (name, types.get(name))

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("lrem_http_requests_total", route="/search", status="200") == 2
    assert delta("lrem_http_requests_total", route="/search", status="400") == 1
    assert delta("lrem_http_requests_total", route="/v1/embeddings", status="200") == 1
    assert delta("lrem_http_requests_total", route="other", status="404") == 1  # never the client's path
    assert not any("/no/such/path" in l.values() for _, l, _ in after)
    assert delta("lrem_queries_total", requested="reason", ran="reason") == 2
    assert delta("lrem_queries_total", requested="direct", ran="direct") == 3
    assert delta("lrem_cot_cache_hits_total") == 1 and delta("lrem_cot_cache_misses_total") == 1
    assert delta("lrem_batch_size_bucket", stage="request", le="2") == 2  # the two single searches
    assert delta("lrem_batch_size_bucket", stage="request", le="4") == 3  # and the three texts
    assert value(after, "lrem_compute_slots") == 2 and value(after, "lrem_compute_queue_limit") == 64
    assert value(after, "lrem_http_requests_in_flight") >= 1  # the scrape itself

    # Histograms: cumulative buckets ending in +Inf, which equals _count.
    for name in ("lrem_http_request_duration_seconds", "lrem_batch_size"):
        series = {tuple(sorted((k, v) for k, v in l.items() if k != "le")) for n, l, _ in after if n == name + "_bucket"}
        assert series
        for key in series:
            labels = dict(key)
            buckets = [(float(l["le"]), v) for n, l, v in after
                       if n == name + "_bucket" and {k: w for k, w in l.items() if k != "le"} == labels]
            assert [b for b, _ in buckets] == sorted(b for b, _ in buckets) and math.isinf(buckets[-1][0])
            counts = [c for _, c in buckets]
            assert counts == sorted(counts)
            assert counts[-1] == value(after, name + "_count", **labels)


# --- continuous batching, the default -------------------------------------------------------

def test_serve_batches_by_default(lrem_cli, lrem_model_dir, index):
    """`lrem serve` batches unless told --no-batching: without --http-threads a batching server
    lets a whole batch (--batch-size) of requests in at once, an unbatched one one per core."""
    slots = {}
    for flags in ((), ("--no-batching",)):
        with LremServe(lrem_cli, lrem_model_dir, index, "--threads", "1", "--batch-size", "24", *flags) as s:
            status, _, data = s.request("GET", "/metrics")
            assert status == 200
            slots[flags] = value(parse_metrics(data.decode())[1], "lrem_compute_slots")
            status, body = s.json("POST", "/search", {"query": "red shoes", "mode": "reason", "k": 2})
            assert status == 200 and len(body["hits"]) == 2, body
    assert slots[()] == max(24, os.cpu_count())
    assert slots[("--no-batching",)] == os.cpu_count()


# --- load shedding --------------------------------------------------------------------------

def test_a_full_queue_sheds_requests_with_503_and_retry_after(lrem_cli, lrem_model_dir, index):
    # One compute slot and room for one waiting request; 8 clients at once, each with a
    # batch of reason-mode queries of its own (no CoT-cache hits), so the slot stays busy.
    clients = 8
    results = [None] * clients
    start = threading.Barrier(clients)
    with LremServe(lrem_cli, lrem_model_dir, index, "--threads", "1", "--http-threads", "1", "--max-queue", "1",
                   "--max-connections", "32") as s:
        def client(i):
            body = {"queries": [f"present number {i}.{j} for a friend" for j in range(64)], "k": 3, "mode": "reason"}
            conn = s.connection(timeout=120)
            conn.connect()
            start.wait()
            results[i] = s.request("POST", "/search", body, conn)
            conn.close()

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not any(t.is_alive() for t in threads), "a request hung"

        statuses = [r[0] for r in results]
        assert set(statuses) <= {200, 503}, statuses
        shed = [r for r in results if r[0] == 503]
        assert shed, f"no request was shed: {statuses}"
        assert statuses.count(200) >= 1
        for _, headers, data in shed:
            assert headers["Retry-After"] == "1"
            assert "compute slots are busy" in json.loads(data)["error"]
        # The server is fine afterwards, and counted what it shed.
        status, body = s.json("POST", "/search", {"query": "a good request afterwards", "k": 2})
        assert status == 200 and len(body["hits"]) == 2
        _, samples = parse_metrics(s.request("GET", "/metrics")[2].decode())
        assert value(samples, "lrem_http_requests_total", route="/search", status="503") == len(shed)
        assert value(samples, "lrem_compute_queue_depth") == 0
        assert s.stop() == 0


# --- graceful drain on SIGTERM --------------------------------------------------------------

def wait_for(condition, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_sigterm_drains_in_flight_requests_then_exits_0(lrem_cli, lrem_model_dir, index):
    with LremServe(lrem_cli, lrem_model_dir, index, "--threads", "1", "--http-threads", "2",
                   "--idle-timeout-ms", "60000", "--request-timeout-ms", "60000") as s:
        # Kept-alive connections opened before the signal, to ask during the drain.
        health, late = s.connection(), s.connection()
        assert s.json("GET", "/healthz", conn=health)[1]["status"] == "ok"
        assert s.request("GET", "/healthz", conn=late)[0] == 200

        # A request in flight: headers and half its body sent, the rest withheld.
        body = json.dumps({"query": "shoes for a long walk", "k": 3}).encode()
        slow = socket.create_connection(("127.0.0.1", s.port), timeout=60)
        slow.sendall(b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body[:10])

        def in_flight():
            _, samples = parse_metrics(s.request("GET", "/metrics")[2].decode())
            return value(samples, "lrem_http_requests_in_flight")
        wait_for(lambda: in_flight() >= 2, "the slow request to be in flight")  # it and the scrape

        s.proc.send_signal(signal.SIGTERM)

        def refused():
            try:
                socket.create_connection(("127.0.0.1", s.port), timeout=5).close()
                return False
            except ConnectionRefusedError:
                return True
            except ConnectionResetError:  # queued in the backlog as the listener closed: ask again
                return False
        wait_for(refused, "the listening socket to close")

        # Draining: health checks say so, new work is turned away, the process stays up.
        status, reply = s.json("GET", "/healthz", conn=health)
        assert (status, reply["status"]) == (503, "draining")
        status, headers, data = s.request("POST", "/search", {"query": "too late"}, conn=late)
        assert status == 503 and headers["Retry-After"] == "1"
        assert "shutting down" in json.loads(data)["error"]
        assert s.proc.poll() is None

        # The in-flight request completes normally.
        slow.sendall(body[10:])
        response = b""
        while chunk := slow.recv(65536):  # answered with Connection: close, as the server is draining
            response += chunk
        head, payload = response.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200"), head
        assert len(json.loads(payload)["hits"]) == 3

        # Then the process exits 0 on its own, within a bound.
        assert s.proc.wait(timeout=30) == 0
        assert "stopped" in s.proc.stderr.read()
