"""`lrem serve` as a real process on a free port, for the tests that talk HTTP to it."""

import argparse
import http.client
import json
import re
import signal
import subprocess
from pathlib import Path


def build_index(lrem_cli: Path, model: Path, items: Path, out: Path) -> Path:
    subprocess.run([str(lrem_cli), "index", "build", "--model", str(model), "--items", str(items), "-o", str(out),
                    "--quiet"], check=True, capture_output=True)
    return out


def add_server_arguments(parser) -> None:
    """The options of a benchmark that starts its own server: see LremServe.from_args."""
    parser.add_argument("--lrem", required=True, help="the lrem executable")
    parser.add_argument("--model", required=True)
    parser.add_argument("--index", required=True)
    parser.add_argument("--queries", required=True, help="a queries JSONL (its \"text\" fields)")
    parser.add_argument("--serve-arg", action="append", default=[], help="extra `lrem serve` argument")


def at_least(minimum, kind=int):
    """An argparse type: a number of `kind` that is at least `minimum`."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value >= minimum:  # also refuses nan
            raise argparse.ArgumentTypeError(f"{text} is below the minimum of {minimum}")
        return value
    return parse


def query_texts(path) -> list:
    """The "text" fields of a queries JSONL; exits with a message if the file cannot serve."""
    texts = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        texts.append(json.loads(line)["text"])
                    except (ValueError, KeyError, TypeError):
                        raise SystemExit(f"{path}:{number}: not a query record with a \"text\" field") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SystemExit(f"{path}: cannot read the queries ({getattr(e, 'strerror', None) or e})") from None
    if not texts:
        raise SystemExit(f"{path}: no queries")
    return texts


class LremServe:
    """Starts `lrem serve --model MODEL --index INDEX --port 0 ARGS...` and waits for its banner.

    Use as a context manager: leaving it sends SIGTERM and waits for the exit."""

    def __init__(self, lrem_cli: Path, model: Path, index: Path, *args):
        self.proc = subprocess.Popen([str(lrem_cli), "serve", "--model", str(model), "--index", str(index),
                                      "--port", "0", "--quiet", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.search(r"http://[0-9.]+:([0-9]+)", line)
        if not match:
            self.proc.kill()
            raise AssertionError(f"lrem serve did not start: {line!r} {self.proc.communicate()[1]}")
        self.port = int(match.group(1))
        self.url = f"http://127.0.0.1:{self.port}"

    @classmethod
    def from_args(cls, args) -> "LremServe":
        """The server that add_server_arguments' options describe."""
        try:
            return cls(Path(args.lrem), Path(args.model), Path(args.index), *args.serve_arg)
        except AssertionError as e:  # a command-line user gets lrem's message, not a traceback
            raise SystemExit(str(e)) from None
        except OSError as e:
            raise SystemExit(f"cannot run {args.lrem} ({e.strerror}); give --lrem the lrem executable") from None

    def connection(self, timeout: float = 120) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method: str, path: str, body=None, conn=None):
        """(status, headers, body bytes); `body` (not bytes) is sent as JSON. Reuses `conn` if given."""
        own = conn is None
        conn = conn or self.connection()
        try:
            data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
            conn.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
            response = conn.getresponse()
            return response.status, response.headers, response.read()
        finally:
            if own:
                conn.close()

    def json(self, method: str, path: str, body=None, conn=None):
        """(status, parsed JSON body)."""
        status, _, data = self.request(method, path, body, conn)
        return status, json.loads(data)

    def memory(self) -> dict:
        """The server's resident memory now and its high-water mark, in bytes (/proc/PID/status)."""
        fields = {"VmRSS:": "rss_bytes", "VmHWM:": "peak_rss_bytes"}
        with open(f"/proc/{self.proc.pid}/status") as status:
            return {fields[line.split()[0]]: int(line.split()[1]) * 1024 for line in status
                    if line.split() and line.split()[0] in fields}

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.stop()
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
