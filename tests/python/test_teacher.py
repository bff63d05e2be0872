"""The keyword teacher (lrem.KeywordTeacher, `lrem curate --teacher`) against real servers.

The URL teacher talks to `lrem serve` running the tiny real Llama, which answers
POST /v1/chat/completions with its own generation. Faults (429 with Retry-After, 503, dropped
connections, slow answers) come from a small proxy in front of it that passes every other
request through, so the client under test is lrem's real HTTP client and every answer is a
real model's. The proxy also counts the requests that reach the server.
"""

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import lrem

ITEMS = [
    {"id": 1, "title": "Red Running Shoes"},
    {"id": 2, "title": "Leather Hiking Boots"},
    {"id": 3, "title": "Navy Wool Cardigan"},
    {"id": 4, "title": "Stainless Electric Kettle"},
    {"id": 5, "title": "Wooden Toy Truck"},
    {"id": 6, "title": "Plush Teddy Bear"},
]
QUERIES = [
    {"id": "q1", "text": "shoes for a morning jog"},
    {"id": "q2", "text": "warm top for winter"},
    {"id": "q3", "text": "boil water fast"},
    {"id": "q4", "text": "gift for a toddler"},
    {"id": "q5", "text": "boots for the mountains"},
    {"id": "q6", "text": "soft bear for a child"},
]
QRELS = [{"query_id": q, "item_id": i, "relevance": 1} for q, i in
         [("q1", 1), ("q2", 3), ("q3", 4), ("q4", 5), ("q4", 6), ("q5", 2), ("q6", 6)]]
# A prompt the story model continues with a few words (it writes children's stories).
PROMPT = "Once upon a time, a girl wanted {query}. She"


def write_jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("teacher_data")
    return {"items": write_jsonl(d / "items.jsonl", ITEMS), "queries": write_jsonl(d / "queries.jsonl", QUERIES),
            "qrels": write_jsonl(d / "qrels.jsonl", QRELS)}


@pytest.fixture(scope="module")
def served(lrem_cli, lrem_model_dir, data, tmp_path_factory):
    """`lrem serve` on a free port with the tiny model; yields its /v1 URL."""
    index = tmp_path_factory.mktemp("teacher_index") / "index"
    subprocess.run([lrem_cli, "index", "build", "--model", lrem_model_dir, "--items", data["items"], "-o", index,
                    "--quiet"], check=True, capture_output=True)
    proc = subprocess.Popen([lrem_cli, "serve", "--model", lrem_model_dir, "--index", index, "--port", "0",
                             "--threads", "1", "--http-threads", "2", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        match = re.search(r"http://[0-9.]+:[0-9]+", line)
        assert match, f"lrem serve did not start: {line!r}"
        yield match.group(0) + "/v1"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


class Proxy(ThreadingHTTPServer):
    """Passes requests to `upstream`, counting them; `faults` (consumed one per request) make
    it answer ("status", code, headers), close the connection unanswered ("drop"), or wait
    ("delay", seconds) before passing the request on. `delay` slows every request."""

    daemon_threads = True

    def __init__(self, upstream: str):
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.upstream = upstream.rsplit("/v1", 1)[0]
        self.lock = threading.Lock()
        self.requests = 0
        self.arrivals = []
        self.authorization = []
        self.faults = []
        self.delay = 0.0
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def close(self):
        self.shutdown()
        self.server_close()


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body: bytes, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        proxy = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with proxy.lock:
            proxy.requests += 1
            proxy.arrivals.append(time.monotonic())
            proxy.authorization.append(self.headers.get("Authorization"))
            fault = proxy.faults.pop(0) if proxy.faults else None
            delay = proxy.delay
        if fault and fault[0] == "status":
            return self.reply(fault[1], b'{"error": "injected"}', fault[2] if len(fault) > 2 else ())
        if fault and fault[0] == "drop":
            self.close_connection = True
            return
        if fault and fault[0] == "delay":
            delay += fault[1]
        time.sleep(delay)
        request = urllib.request.Request(proxy.upstream + self.path, data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as res:
                status, answer = res.status, res.read()
        except urllib.error.HTTPError as e:
            status, answer = e.code, e.read()
        try:
            self.reply(status, answer)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout)
            pass


@pytest.fixture
def proxy(served):
    p = Proxy(served)
    yield p
    p.close()


def cache_entries(path: Path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def curate(lrem_cli, data, out: Path, teacher: str, *extra, check=True, env=None):
    return subprocess.run([lrem_cli, "curate", "--items", data["items"], "--queries", data["queries"],
                           "--qrels", data["qrels"], "--teacher", teacher, "--teacher-prompt", PROMPT,
                           "--teacher-max-tokens", "8", "-o", out, "--quiet", *map(str, extra)],
                          check=check, capture_output=True, text=True, env=env)


def test_lrem_serve_answers_like_the_local_model_and_a_rerun_asks_nothing(lrem_cli, lrem_model_dir, data, proxy,
                                                                          tmp_path):
    out = tmp_path / "triplets.jsonl"
    run = curate(lrem_cli, data, out, proxy.url)
    assert proxy.requests == len(QUERIES)
    assert f"{len(QUERIES)} queries, 0 from the cache, {len(QUERIES)} asked" in run.stdout
    cache = tmp_path / "triplets.jsonl.teacher.jsonl"
    entries = cache_entries(cache)
    assert sorted(e["query"] for e in entries) == sorted(q["text"] for q in QUERIES)
    assert all(e["keywords"] == lrem.parse_keywords(e["answer"]) for e in entries)
    assert out.is_file()

    # The same model as a local teacher: greedy generation of the same chat, so the same answers.
    local = lrem.KeywordTeacher(lrem_model_dir, prompt=PROMPT, max_tokens=8)
    answers = local.answers([q["text"] for q in QUERIES])
    assert {e["query"]: e["answer"] for e in entries} == dict(zip([q["text"] for q in QUERIES], answers))
    assert any(answers), "the model wrote nothing at all"

    # A rerun reads every answer from the cache: nothing reaches the server.
    run = curate(lrem_cli, data, out, proxy.url)
    assert proxy.requests == len(QUERIES)
    assert f"{len(QUERIES)} from the cache, 0 asked" in run.stdout
    assert len(cache_entries(cache)) == len(QUERIES)
    # Another prompt is another teacher: asked again, appended next to the first teacher's answers.
    curate(lrem_cli, data, out, proxy.url, "--teacher-system", "You like toys.")
    assert proxy.requests == 2 * len(QUERIES)
    assert len({e["teacher"] for e in cache_entries(cache)}) == 2


def test_a_run_killed_midway_resumes_without_asking_again(lrem_cli, data, proxy, tmp_path):
    out = tmp_path / "triplets.jsonl"
    cache = tmp_path / "cache.jsonl"
    proxy.delay = 0.5
    args = [lrem_cli, "curate", "--items", data["items"], "--queries", data["queries"], "--qrels", data["qrels"],
            "--teacher", proxy.url, "--teacher-prompt", PROMPT, "--teacher-max-tokens", "8",
            "--teacher-concurrency", "1", "--teacher-cache", cache, "-o", out, "--quiet"]
    run = subprocess.Popen(list(map(str, args)), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while (not cache.exists() or len(cache_entries(cache)) < 2) and time.monotonic() < deadline:
        time.sleep(0.05)
    run.kill()
    run.wait()
    answered = len(cache_entries(cache))
    assert 2 <= answered < len(QUERIES), "the run was not killed midway"
    assert not out.exists()
    asked_before = proxy.requests

    proxy.delay = 0.0
    subprocess.run(list(map(str, args)), check=True, capture_output=True)
    assert proxy.requests - asked_before == len(QUERIES) - answered
    entries = cache_entries(cache)
    assert sorted(e["query"] for e in entries) == sorted(q["text"] for q in QUERIES)
    assert out.is_file()


def test_retries_429_503_and_dropped_connections_honouring_retry_after(lrem_model_dir, proxy, tmp_path):
    proxy.faults = [("status", 429, [("Retry-After", "1")]), ("status", 503), ("drop",)]
    teacher = lrem.KeywordTeacher(proxy.url, prompt=PROMPT, max_tokens=8, concurrency=1, initial_backoff=0.01,
                                  max_backoff=5)
    texts = [q["text"] for q in QUERIES[:2]]
    answers = teacher.answers(texts)
    assert teacher.stats == {"queries": 2, "cached": 0, "asked": 2, "retries": 3}
    assert proxy.requests == 2 + 3
    # The retry after the 429 waited the server's Retry-After (1 s), not the 0.01 s backoff.
    assert proxy.arrivals[1] - proxy.arrivals[0] >= 1.0
    assert answers == lrem.KeywordTeacher(lrem_model_dir, prompt=PROMPT, max_tokens=8).answers(texts)


def test_a_slow_answer_times_out_and_is_asked_again(proxy):
    proxy.faults = [("delay", 5.0)]
    teacher = lrem.KeywordTeacher(proxy.url, prompt=PROMPT, max_tokens=8, concurrency=1, timeout=1.0,
                                  initial_backoff=0.01)
    teacher.answers(["a red ball"])
    assert teacher.stats["retries"] == 1
    assert proxy.requests == 2


def test_giving_up_and_refusals_raise_and_keep_what_was_answered(proxy, tmp_path):
    cache = tmp_path / "cache.jsonl"
    teacher = lrem.KeywordTeacher(proxy.url, prompt=PROMPT, max_tokens=8, concurrency=1, max_retries=2,
                                  initial_backoff=0.01, cache=cache)
    teacher.answers(["a red ball"])
    proxy.faults = [("status", 503)] * 3
    with pytest.raises(lrem.IoError, match=r"failed 3 times.*HTTP 503"):
        teacher.answers(["a big cake"])
    assert proxy.requests == 1 + 3
    proxy.faults = [("status", 400)]
    with pytest.raises(lrem.IoError, match="HTTP 400"):
        teacher.answers(["a big cake"])
    assert proxy.requests == 1 + 3 + 1  # a 400 is not retried
    assert [e["query"] for e in cache_entries(cache)] == ["a red ball"]


def test_the_api_key_comes_from_the_environment_only(proxy, monkeypatch):
    monkeypatch.delenv("LREM_TEACHER_API_KEY", raising=False)
    lrem.KeywordTeacher(proxy.url, prompt=PROMPT, max_tokens=4).answers(["a"])
    monkeypatch.setenv("MY_TEACHER_KEY", "sk-test-123")
    lrem.KeywordTeacher(proxy.url, prompt=PROMPT, max_tokens=4, api_key_env="MY_TEACHER_KEY").answers(["b"])
    assert proxy.authorization == [None, "Bearer sk-test-123"]


def test_a_local_model_directory_teaches_through_lrem_curate(lrem_cli, lrem_model_dir, data, tmp_path):
    out = tmp_path / "triplets.jsonl"
    run = curate(lrem_cli, data, out, lrem_model_dir, "--teacher-batch", "4")
    assert f"{len(QUERIES)} queries, 0 from the cache, {len(QUERIES)} asked" in run.stdout
    entries = cache_entries(tmp_path / "triplets.jsonl.teacher.jsonl")
    teacher = lrem.KeywordTeacher(lrem_model_dir, prompt=PROMPT, max_tokens=8)
    assert [e["answer"] for e in entries] == teacher.answers([q["text"] for q in QUERIES])
    # Python's curate_triplets takes the teacher as it is; the cleaning rules apply to its keywords.
    result = lrem.curate_triplets(data["queries"], data["qrels"], lrem.ItemStore.load(str(data["items"])), teacher)
    assert result.stats["queries"] == len(QUERIES)
    kept = [t for t in (json.loads(x) for x in result.to_jsonl().splitlines())]
    assert kept == [json.loads(x) for x in out.read_text().splitlines()]
    for t in kept:
        assert t["cot"] == lrem.clean_cot(t["query"], teacher.keywords([t["query"]])[0])


def test_bad_sources_and_options_are_refused(tmp_path):
    with pytest.raises(lrem.InvalidArgument, match="query"):
        lrem.KeywordTeacher("http://127.0.0.1:9/v1", prompt="no placeholder")
    with pytest.raises(lrem.InvalidArgument, match="http"):
        lrem.KeywordTeacher("http://host/v1?x=1")
    with pytest.raises(lrem.IoError):
        lrem.KeywordTeacher(tmp_path / "no-model")
    assert lrem.parse_keywords("Keywords: wool cardigan, knitwear.") == ["wool cardigan", "knitwear"]
    assert "{query}" in lrem.default_keyword_prompt()["prompt"]


def test_the_backbone_caps_cots_in_its_tokens(lrem_cli, lrem_model_dir, data, tmp_path):
    cots = write_jsonl(tmp_path / "cots.jsonl", [{"query_id": "q3", "cot": "kettle electric stainless steel"}])
    base = [lrem_cli, "curate", "--items", data["items"], "--queries", data["queries"], "--qrels", data["qrels"],
            "--teacher-cots", cots, "-k", "1", "--quiet"]
    subprocess.run(list(map(str, base + ["-o", tmp_path / "uncapped.jsonl"])), check=True, capture_output=True)
    subprocess.run(list(map(str, base + ["-o", tmp_path / "capped.jsonl", "--backbone", lrem_model_dir])), check=True,
                   capture_output=True)
    uncapped = [json.loads(x)["cot"] for x in (tmp_path / "uncapped.jsonl").read_text().splitlines()]
    capped = [json.loads(x)["cot"] for x in (tmp_path / "capped.jsonl").read_text().splitlines()]
    tokenizer = lrem.Model.load(str(lrem_model_dir)).tokenizer
    cap = json.loads((lrem_model_dir / "lrem_config.json").read_text())["max_cot_tokens"]
    assert uncapped == ["kettle electric stainless steel"] and len(tokenizer.encode(uncapped[0])) > cap
    assert capped == ["kettle electric stainless"] and len(tokenizer.encode(capped[0])) <= cap
