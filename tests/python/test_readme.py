"""The README's "Bring your own backbone" flow runs as written: generate, add the LREM
tokens, stage 1, stage 2, index, search and serve, on a tiny random-weight Qwen2 directory in
the place of the downloaded Qwen2.5-0.5B-Instruct (the real Qwen2 tokenizer, a
tokenizer_config.json naming <|im_end|> as EOS, Qwen's vocabulary padded to 151,936 rows)."""

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import checkpoints  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def byob_commands():
    section = README[README.index("## Bring your own backbone"):]
    return re.search(r"```sh\n(.*?)```", section, flags=re.S).group(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_bring_your_own_backbone_flow(qwen2_tokenizer_json, lrem_cli, tmp_path):
    checkpoints.write_checkpoint(tmp_path / "Qwen2.5-0.5B-Instruct", {**checkpoints.QWEN2_TINY, "vocab_size": 151936},
                                 11, qwen2_tokenizer_json.read_text())
    (tmp_path / "Qwen2.5-0.5B-Instruct" / "tokenizer_config.json").write_text(
        json.dumps({"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"}))
    (tmp_path / "examples").symlink_to(REPO / "examples")
    env = {**os.environ, "PATH": f"{lrem_cli.parent}:{os.environ['PATH']}", "OMP_WAIT_POLICY": "PASSIVE"}

    commands = byob_commands()
    batch, serve = commands.split("\nlrem serve ")
    r = subprocess.run(["bash", "-euo", "pipefail", "-c", batch], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=3600)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "Waterproof hiking boots are" in out  # generate echoes the prompt, then its continuation
    assert "<emb> = 151648 (added)" in out  # after <|endoftext|>, <|im_start|>, <|im_end|>, <think>, </think>
    assert json.loads((tmp_path / "qwen-lrem" / "lrem_config.json").read_text())["query_template"].startswith(
        "<|im_start|>user\n")
    for stage in ("qwen-stage1", "qwen-stage2"):
        assert (tmp_path / stage / "model.safetensors").is_file() and (tmp_path / stage / "tokenizer.json").is_file()
    assert "lrem index build: 400 items" in out
    assert "query: boots for rainy hikes\ncot:" in out
    assert len(re.findall(r"^ +[1-5]\. -?\d\.\d{4}  \[\d+\] ", out, flags=re.M)) == 5  # the top 5 items

    # The server, on a free port instead of 8080, answers a search.
    port = free_port()
    args = shlex.split(serve.strip().replace("--port 8080", f"--port {port}"))
    server = subprocess.Popen([str(lrem_cli), "serve", *args], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 900
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
                break
            except OSError:
                assert server.poll() is None, server.communicate()[1]
                assert time.time() < deadline, "the server did not come up"
                time.sleep(0.3)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/search",
                                         data=json.dumps({"query": "boots for rainy hikes", "k": 3}).encode())
        answer = json.loads(urllib.request.urlopen(request, timeout=60).read())
        assert answer["mode"] == "reason" and len(answer["hits"]) == 3
    finally:
        server.terminate()
        server.wait(timeout=30)
