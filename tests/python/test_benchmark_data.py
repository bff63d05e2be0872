"""Invariants of the benchmark generator (scripts/make_benchmark.py), checked on a small run."""

import json
import os
import re
import subprocess
import sys
from collections import defaultdict

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "make_benchmark.py")
WORDNET = "/usr/share/wordnet/data.noun"
SPLITS = ("train", "dev", "test")
DIFFICULT = {"knowledge", "synonym", "alternative", "negation"}
ARGS = ["--num-items", "2000", "--num-types", "120", "--seed", "7", "--knowledge-repeats", "1"]

if not os.path.isfile(WORDNET):
    pytest.skip(f"SKIPPED: WordNet 3.0 not found at {WORDNET}; install Debian's wordnet-base "
                f"(apt-get install -y wordnet-base) to test the benchmark generator",
                allow_module_level=True)


def _generate(out_dir):
    result = subprocess.run([sys.executable, SCRIPT, "--out", str(out_dir), *ARGS],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    first, second = tmp_path_factory.mktemp("bench_a"), tmp_path_factory.mktemp("bench_b")
    return first, second, _generate(first), _generate(second)


@pytest.fixture(scope="module")
def data(runs):
    out = runs[0]
    d = {"types": {t["type_id"]: t for t in _read_jsonl(out / "types.jsonl")},
         "items": {i["id"]: i for i in _read_jsonl(out / "items.jsonl")},
         "triplets": _read_jsonl(out / "triplets_train.jsonl"),
         "pairs": _read_jsonl(out / "pairs_train.jsonl"),
         "corpus": (out / "corpus.txt").read_text(encoding="utf-8").splitlines()}
    for split in SPLITS:
        d["queries_" + split] = _read_jsonl(out / f"queries_{split}.jsonl")
        qrels = defaultdict(dict)
        for row in _read_jsonl(out / f"qrels_{split}.jsonl"):
            qrels[row["query_id"]][row["item_id"]] = row["relevance"]
        d["qrels_" + split] = qrels
    return d


def _all_queries(data):
    return [(split, q) for split in SPLITS for q in data["queries_" + split]]


def test_same_seed_gives_identical_bytes(runs):
    first, second, log, _ = runs
    names = sorted(os.listdir(first))
    assert names == sorted(os.listdir(second))
    assert {"types.jsonl", "items.jsonl", "corpus.txt", "triplets_train.jsonl", "pairs_train.jsonl",
            "queries_test.jsonl", "qrels_test.jsonl"} <= set(names)
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert "types per branch" in log  # the summary is printed


def test_different_seed_gives_different_catalogue(runs, tmp_path):
    args = [sys.executable, SCRIPT, "--out", str(tmp_path), *ARGS[:-4], "--seed", "8",
            "--knowledge-repeats", "0"]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    assert (tmp_path / "items.jsonl").read_bytes() != (runs[0] / "items.jsonl").read_bytes()


def test_bad_arguments_fail_with_a_clear_message(tmp_path):
    for args, message in ((["--wordnet", str(tmp_path / "missing")], "wordnet-base"),
                          (["--num-types", "100000"], "--num-types"),
                          (["--num-items", "10"], "--num-items")):
        result = subprocess.run([sys.executable, SCRIPT, "--out", str(tmp_path / "out"), *args],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)


def test_catalogue_sizes_and_types(data):
    assert len(data["types"]) == 120 and len(data["items"]) == 2000
    assert sorted(data["items"]) == list(range(2000))
    for item in data["items"].values():
        product_type = data["types"][item["type_id"]]
        assert product_type["name"].lower() in item["title"].lower()
        assert item["brand"] in item["title"] and item["tier"] in ("budget", "mid", "premium")
        assert item["price"] > 0
    for type_id, product_type in data["types"].items():
        assert re.fullmatch(r"wn:\d{8}-n", type_id) and product_type["split"] in SPLITS
        assert product_type["name"] == product_type["lemmas"][0] and product_type["gloss"]


def test_queries_target_types_of_their_split(data):
    for split, query in _all_queries(data):
        for type_id in query["type_ids"]:
            assert data["types"][type_id]["split"] == split, query
    test_difficult = [q for q in data["queries_test"] if q["category"] in DIFFICULT]
    assert {q["category"] for q in test_difficult} == DIFFICULT
    assert {q["category"] for _, q in _all_queries(data)} == DIFFICULT | {"lexical"}


def test_training_data_never_touches_held_out_types(data):
    train_texts = {q["text"] for q in data["queries_train"]}
    assert data["triplets"] and data["pairs"]
    for row in data["triplets"] + data["pairs"]:
        assert row["query"] in train_texts
        item = data["items"][row["item_id"]]
        assert data["types"][item["type_id"]]["split"] == "train"
        assert row["item"] == item["title"]


def test_no_query_text_shared_between_splits(data):
    texts = [set(q["text"] for q in data["queries_" + s]) for s in SPLITS]
    assert not texts[0] & texts[1] and not texts[0] & texts[2] and not texts[1] & texts[2]


def _frame(query, product_type):
    """The query's wording with every slot value (names, gloss, brand, attributes) blanked out."""
    gloss = product_type["gloss"]
    values = [gloss, re.sub(r"^(an?|the) ", "", gloss), product_type["name"], query.get("phrase"), query.get("exclude_brand"),
              query.get("exclude_material"), *query["constraints"].values()]
    text = query["text"]
    for value in sorted({v for v in values if v}, key=len, reverse=True):
        text = re.sub(r"(?<![\w])" + re.escape(value) + r"(?![\w])", "<x>", text)
    return re.sub(r"\b(an?|the) <x>", "<x>", text)


def test_held_out_phrasings_never_appear_in_training(data):
    def frames(split):
        return {_frame(q, data["types"][q["type_id"]]) for q in data["queries_" + split]}
    train = frames("train")
    assert not train & frames("test") and not train & frames("dev")


def test_knowledge_queries_do_not_name_the_type(data):
    stop = {"of", "the", "and", "for", "with"}
    for _, query in _all_queries(data):
        if query["category"] != "knowledge":
            continue
        lemma_words = {w for lemma in data["types"][query["type_id"]]["lemmas"]
                       for w in re.findall(r"[a-z]+", lemma.lower()) if len(w) > 2 and w not in stop}
        text_words = set(re.findall(r"[a-z]+", query["text"].lower()))
        assert not lemma_words & text_words, query


def test_synonym_phrases_are_not_title_words(data):
    title_words = {w for item in data["items"].values() for w in re.findall(r"[a-z]+", item["title"].lower())}
    synonyms = [q for _, q in _all_queries(data) if q["category"] == "synonym"]
    assert synonyms
    for query in synonyms:
        phrase_words = set(re.findall(r"[a-z]+", query["phrase"].lower()))
        assert phrase_words and not phrase_words & title_words, query
        assert query["phrase"] in query["text"]


def test_relevance_rules(data):
    for split, query in _all_queries(data):
        judged = data["qrels_" + split][query["id"]]
        assert 2 in judged.values(), query
        for item_id, relevance in judged.items():
            item = data["items"][item_id]
            assert relevance in (1, 2) and item["type_id"] in query["type_ids"]
            if query["category"] == "alternative":
                assert item["brand"] != query["exclude_brand"]
                assert relevance == 1 or item["tier"] != "premium"
            if query["category"] == "negation":
                assert item["material"] != query["exclude_material"]
            if relevance == 2:
                assert all(item.get(k) == v for k, v in query["constraints"].items())
        # Everything of an accepted type that is left out must violate the query's exclusion.
        for item in data["items"].values():
            if item["type_id"] in query["type_ids"] and item["id"] not in judged:
                assert item["brand"] == query.get("exclude_brand") or \
                    item["material"] == query.get("exclude_material"), (query, item)


def test_chains_of_thought_add_new_words_only(data):
    for row in data["triplets"]:
        cot = row["cot"].split()
        assert 0 < len(cot) <= 16 and len({w.lower() for w in cot}) == len(cot)
        assert not {w.lower() for w in cot} & set(row["query"].lower().split()), row


def test_corpus_states_test_type_knowledge_both_ways(data):
    test_types = [t for t in data["types"].values() if t["split"] == "test"]
    assert test_types
    for product_type in test_types:
        name = product_type["name"]
        gloss = re.sub(r"^(an?|the) ", "", product_type["gloss"])
        forward = backward = False
        for line in data["corpus"]:
            if gloss in line and re.search(r"(?<![\w])" + re.escape(name) + r"(?![\w])", line):
                forward |= line.index(name) < line.index(gloss)
                backward |= line.index(gloss) < line.rindex(name)
        assert forward and backward, product_type


def test_hard_negatives_are_ruled_out_items_of_the_asked_for_type(runs, data, tmp_path):
    result = subprocess.run([sys.executable, SCRIPT, "--out", str(tmp_path), *ARGS,
                             "--negatives-per-triplet", "2"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # Negatives draw from a stream of their own: every other file keeps its bytes.
    for name in sorted(os.listdir(runs[0])):
        if name != "triplets_train.jsonl":
            assert (tmp_path / name).read_bytes() == (runs[0] / name).read_bytes(), name
    with_negatives = _read_jsonl(tmp_path / "triplets_train.jsonl")
    assert [{k: v for k, v in row.items() if k != "negatives"} for row in with_negatives] == data["triplets"]
    queries = {q["text"]: q for q in data["queries_train"]}
    seen = defaultdict(int)
    for row in with_negatives:
        query = queries[row["query"]]
        negatives = row.get("negatives", [])
        assert len(negatives) <= 2 and len(set(negatives)) == len(negatives)
        for item_id in negatives:
            assert data["items"][item_id]["type_id"] in query["type_ids"]
            assert item_id not in data["qrels_train"][query["id"]], (query, item_id)
        seen[row["category"]] += bool(negatives)
    # Only the categories with an exclusion have ruled-out items of the asked-for type.
    assert seen["alternative"] > 0 and seen["negation"] > 0
    assert seen["lexical"] == seen["knowledge"] == seen["synonym"] == 0


def test_negative_counts_are_rejected(tmp_path):
    result = subprocess.run([sys.executable, SCRIPT, "--out", str(tmp_path), "--negatives-per-triplet", "-1"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "--negatives-per-triplet" in result.stderr
