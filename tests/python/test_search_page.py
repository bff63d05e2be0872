"""The search page at GET / in a real headless browser (Debian's chromium), driven over the
DevTools protocol: it types a query, waits for the results and checks that the page shows the
chain of thought, the mode and the scored hits that POST /search returns for that query.
Runs `lrem serve` on the shipped demo model over the example catalogue."""

import base64
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import LremServe, build_index  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium")
websocket = pytest.importorskip(
    "websocket", reason="*** SKIPPED: python3-websocket is not installed (scripts/setup.sh installs it) ***")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="*** SKIPPED: Debian's chromium is not installed (scripts/setup.sh installs it) ***")

QUERY = "searching for a calculator that performs arithmetic functions by manually sliding counters on rods"


@pytest.fixture(scope="module")
def server(lrem_cli, tmp_path_factory):
    model = REPO / "models" / "lrem-demo"
    index = build_index(lrem_cli, model, REPO / "examples" / "data" / "items.jsonl",
                        tmp_path_factory.mktemp("search_page") / "index")
    with LremServe(lrem_cli, model, index, "--threads", "1") as s:
        yield s


class DevTools:
    """A page target of the browser, over its DevTools websocket."""

    def __init__(self, ws_url: str):
        self.ws = websocket.create_connection(ws_url, timeout=60, suppress_origin=True)
        self.last_id = 0

    def call(self, method: str, **params):
        self.last_id += 1
        self.ws.send(json.dumps({"id": self.last_id, "method": method, "params": params}))
        while True:  # events arrive in between; skip them
            message = json.loads(self.ws.recv())
            if message.get("id") == self.last_id:
                assert "error" not in message, message["error"]
                return message["result"]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            assert time.monotonic() < deadline, f"timed out waiting for {expression}"
            time.sleep(0.05)

    def type_and_enter(self, text: str):
        self.call("Input.insertText", text=text)
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key="Enter", code="Enter", windowsVirtualKeyCode=13,
                      **({"text": "\r"} if kind == "keyDown" else {}))

    def close(self):
        self.ws.close()


@pytest.fixture
def browser(tmp_path):
    profile = tmp_path / "profile"
    proc = subprocess.Popen([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--remote-debugging-port=0", "--remote-allow-origins=*", f"--user-data-dir={profile}",
                             "--window-size=1200,900", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            assert proc.poll() is None, "chromium exited at start"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30).read())
        page = next(t for t in targets if t["type"] == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        yield tools
        tools.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


RENDERED = """JSON.stringify([...document.querySelectorAll('.result')].map(r => ({
  query: r.querySelector('.query').textContent,
  mode: r.querySelector('.mode').textContent,
  cot: r.querySelector('.cot').textContent,
  cotEmpty: r.querySelector('.cot').classList.contains('empty'),
  titles: [...r.querySelectorAll('td.title')].map(t => t.textContent),
  scores: [...r.querySelectorAll('td.score')].map(t => t.textContent)})))"""


def test_the_page_has_no_external_assets(server):
    status, headers, page = server.request("GET", "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    text = page.decode()
    assert "<script src" not in text and "<link" not in text and "@import" not in text
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", text)


def test_a_typed_query_shows_its_chain_of_thought_mode_and_hits(server, browser, tmp_path):
    browser.call("Page.enable")
    browser.call("Page.navigate", url=server.url + "/")
    browser.wait_for("document.readyState === 'complete' && !!document.getElementById('query')")
    browser.evaluate("document.getElementById('mode').value = 'reason'")
    browser.evaluate("document.getElementById('query').focus()")
    browser.type_and_enter(QUERY)
    browser.wait_for("document.querySelectorAll('.result').length === 1")
    shown = json.loads(browser.evaluate(RENDERED))[0]

    status, want = server.json("POST", "/search", {"query": QUERY, "k": 10, "mode": "reason"})
    assert status == 200
    assert want["cot"], "the demo model writes a chain of thought in reason mode"
    assert shown["query"] == QUERY and shown["mode"] == "reason"
    assert shown["cot"] == want["cot"] and not shown["cotEmpty"]
    assert shown["titles"] == [h["title"] for h in want["hits"]]
    assert [float(s) for s in shown["scores"]] == pytest.approx([h["score"] for h in want["hits"]], abs=5e-5)

    # The mode selector: direct mode shows no chain of thought, and stacks above the first.
    browser.evaluate("document.getElementById('mode').value = 'direct'")
    browser.evaluate("const q = document.getElementById('query'); q.value = ''; q.focus()")
    browser.type_and_enter("abacus")
    browser.wait_for("document.querySelectorAll('.result').length === 2")
    newest, first = json.loads(browser.evaluate(RENDERED))
    status, want = server.json("POST", "/search", {"query": "abacus", "k": 10, "mode": "direct"})
    assert (newest["query"], newest["mode"]) == ("abacus", "direct")
    assert newest["cotEmpty"] and "without a chain of thought" in newest["cot"]
    assert newest["titles"] == [h["title"] for h in want["hits"]]
    assert first["query"] == QUERY

    shot = browser.call("Page.captureScreenshot", format="png")["data"]
    assert base64.b64decode(shot).startswith(b"\x89PNG")


def test_errors_are_shown_not_swallowed(server, browser):
    browser.call("Page.navigate", url=server.url + "/?k=100000&q=" + urllib.request.quote("shoes"))
    browser.wait_for("document.querySelectorAll('.error').length === 1")
    assert "HTTP 413" in browser.evaluate("document.querySelector('.error').textContent")
