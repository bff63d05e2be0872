"""The reasoning-format corpus lines (make_benchmark.py --reasoning-repeats), checked on a small run."""

import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "make_benchmark.py")
WORDNET = "/usr/share/wordnet/data.noun"
ARGS = ["--num-items", "600", "--num-types", "60", "--seed", "5", "--knowledge-repeats", "1"]
LINE = re.compile(r"^(?P<request>[^<]+)<think>(?P<cot>[^<]*)</think><emb>(?P<name>[^<]+)$")

if not os.path.isfile(WORDNET):
    pytest.skip(f"SKIPPED: WordNet 3.0 not found at {WORDNET}; install Debian's wordnet-base",
                allow_module_level=True)


def _generate(out_dir, *extra):
    result = subprocess.run([sys.executable, SCRIPT, "--out", str(out_dir), *ARGS, *extra],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return (out_dir / "corpus.txt").read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reasoning")
    corpus = _generate(out, "--reasoning-repeats", "2")
    plain = _generate(tmp_path_factory.mktemp("plain"))
    with open(out / "types.jsonl", encoding="utf-8") as f:
        types = [json.loads(line) for line in f]
    with open(out / "items.jsonl", encoding="utf-8") as f:
        items = [json.loads(line) for line in f]
    queries = []
    for split in ("dev", "test"):
        with open(out / f"queries_{split}.jsonl", encoding="utf-8") as f:
            queries += [json.loads(line)["text"] for line in f]
    return {"corpus": corpus, "plain": plain, "types": types, "items": items, "queries": queries}


def test_off_by_default(run):
    assert not any("<think>" in line or "<emb>" in line for line in run["plain"])
    assert any("<emb>" in line for line in run["corpus"])


def test_every_type_gets_query_lines_in_the_lrem_layout(run):
    by_name = {}
    for line in run["corpus"]:
        match = LINE.match(line)
        if match:
            by_name.setdefault(match["name"], []).append(match)
    for product_type in run["types"]:  # train, dev and test types alike
        lines = by_name.get(product_type["name"], [])
        gloss = re.sub(r"^(an?|the) ", "", product_type["gloss"])
        assert any(gloss in m["request"] for m in lines), product_type["name"]
        for m in lines:
            request_words = {w.lower() for w in re.findall(r"[\w'-]+", m["request"])}
            cot_words = m["cot"].split()
            assert 0 < len(cot_words) <= 16
            assert not {w.lower() for w in cot_words} & request_words, m.string


def test_every_item_appears_in_the_item_layout(run):
    names = {t["type_id"]: t["name"] for t in run["types"]}
    lines = set(run["corpus"])
    for item in run["items"]:
        assert f"{item['title']}<emb>{names[item['type_id']]}" in lines


def test_no_line_contains_a_held_out_query(run):
    # A bare name or gloss may equal a training query (its "seen" template without modifiers);
    # dev and test queries use held-out wordings and must never appear.
    requests = {m["request"] for m in map(LINE.match, run["corpus"]) if m}
    assert requests and not requests & set(run["queries"])
    assert not any(query in line for line in run["corpus"] for query in run["queries"][:200])
