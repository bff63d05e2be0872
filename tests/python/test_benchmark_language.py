"""The benchmark's language options: all of WordNet as pretraining text (--lexicon) and
traffic-like variants of the training queries (--traffic-variants), on the real WordNet 3.0."""

import json
import os
import random
import shutil
from collections import Counter
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
SCRIPT = os.path.join(ROOT, "scripts", "make_benchmark.py")
WORDNET_DIR = "/usr/share/wordnet"
ARGS = ["--num-items", "2000", "--num-types", "120", "--seed", "7", "--knowledge-repeats", "1"]

if not os.path.isfile(os.path.join(WORDNET_DIR, "data.verb")):
    pytest.skip(f"SKIPPED: WordNet 3.0 not found in {WORDNET_DIR}; install Debian's wordnet-base "
                f"(apt-get install -y wordnet-base)", allow_module_level=True)

from benchmark.lexicon import (catalogue_synsets, first_senses, irregular_forms, lexicon_sentences,  # noqa: E402
                               most_frequent_sense, read_lexicon, synset_sentences, tagged_synsets)
from benchmark.text import words  # noqa: E402
from benchmark.traffic import misspell  # noqa: E402


def _generate(out_dir, *extra):
    result = subprocess.run([sys.executable, SCRIPT, "--out", str(out_dir), *ARGS, *extra],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    return out_dir


def _read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def lexicon():
    return read_lexicon(WORDNET_DIR)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    plain = _generate(tmp_path_factory.mktemp("plain"))
    rich = _generate(tmp_path_factory.mktemp("rich"), "--lexicon", "common", "--traffic-variants", "2")
    return plain, rich


def _synset(lexicon, pos, lemma, gloss_start):
    return next(s for (p, _), s in lexicon.items() if p == pos and lemma in s.lemmas and s.gloss.startswith(gloss_start))


def test_every_synset_of_every_part_of_speech_is_read(lexicon):
    counts = {pos: sum(p == pos for p, _ in lexicon) for pos in "nvar"}
    # WordNet 3.0's published counts: 82,115 noun, 13,767 verb, 18,156 adjective, 3,621 adverb synsets.
    assert counts == {"n": 82115, "v": 13767, "a": 18156, "r": 3621}
    assert all("(" not in lemma for s in lexicon.values() for lemma in s.lemmas), "adjective markers kept"


def test_a_synset_is_written_in_both_directions_with_its_examples_and_relations(lexicon):
    rng = random.Random(0)
    coat = _synset(lexicon, "n", "coat", "an outer garment")
    lines = synset_sentences(coat, lexicon, rng)
    definition = "an outer garment that has sleeves and covers the body from shoulder down"
    assert any(line.startswith(("a coat", "coat:", "the word coat")) and definition in line for line in lines)
    assert any(line.endswith(("coat", "a coat")) and definition in line for line in lines)
    assert any(line in ("a coat is a kind of outer garment", "a coat is a type of outer garment") for line in lines)
    assert any(line in ("outer garment such as a coat", "kinds of outer garment include coat") for line in lines)
    # Part meronyms, both ways: the whole has the part, the part is on the whole.
    assert any(line in ("a coat has a hemline", "a coat comes with a hemline") for line in lines)
    assert any(line in ("a hemline is part of a coat", "a hemline is found on a coat") for line in lines)
    hot = _synset(lexicon, "a", "hot", "used of physical heat")
    hot_lines = synset_sentences(hot, lexicon, rng)
    assert {"hot is the opposite of cold", "hot is not cold", "the opposite of cold is hot"} & set(hot_lines)
    assert {"hot is a value of temperature", "temperature can be hot"} & set(hot_lines)  # attribute
    # Usage examples are WordNet's everyday sentences: written verbatim.
    assert {"hot stove", "a hot August day", "she's hot and tired"} <= set(hot_lines)
    run = _synset(lexicon, "v", "run", "move fast by using one's feet")
    assert any(line.startswith("to run") for line in synset_sentences(run, lexicon, rng))


def test_common_is_the_sense_tagged_subset_and_output_is_deterministic(lexicon):
    tagged = tagged_synsets(WORDNET_DIR)
    assert tagged < set(lexicon)
    assert 20000 < len(tagged) < 40000
    first = list(lexicon_sentences(WORDNET_DIR, random.Random(3), "common"))
    assert first == list(lexicon_sentences(WORDNET_DIR, random.Random(3), "common"))
    assert len(first) < len(list(lexicon_sentences(WORDNET_DIR, random.Random(3), "all"))) / 2
    with pytest.raises(ValueError, match="expected one of"):
        list(lexicon_sentences(WORDNET_DIR, random.Random(3), "some"))


def test_catalogue_is_the_neighbourhood_of_the_types_without_their_other_senses(lexicon):
    slipper = ("n", _synset(lexicon, "n", "mule", "a slipper that has no fitting").offset)
    animal = ("n", _synset(lexicon, "n", "mule", "hybrid offspring of a male donkey").offset)
    keep = catalogue_synsets(WORDNET_DIR, lexicon, {slipper})
    assert slipper in keep and animal not in keep  # the product, not the other sense of its name
    hypernym = next(p for p in lexicon[slipper].pointers if p.symbol == "@")
    assert (hypernym.pos, hypernym.offset) in keep
    # The gloss's words come in by their most frequent sense ("heel" in "fitting around the heel").
    assert ("n", _synset(lexicon, "n", "heel", "the bottom of a shoe or boot").offset) in keep
    assert ("n", _synset(lexicon, "n", "heel", "the back part of the human foot").offset) not in keep
    assert len(keep) < 200
    sentences = list(lexicon_sentences(WORDNET_DIR, random.Random(3), "catalogue", {slipper}))
    assert sentences == list(lexicon_sentences(WORDNET_DIR, random.Random(3), "catalogue", {slipper}))
    assert not any("donkey" in line for line in sentences)
    with pytest.raises(ValueError, match="seeds"):
        list(lexicon_sentences(WORDNET_DIR, random.Random(3), "catalogue"))


def test_a_missing_wordnet_file_is_named_with_the_package_to_install(tmp_path, lexicon):
    for name in os.listdir(WORDNET_DIR):
        if name.startswith(("data.", "index.")):
            shutil.copy(os.path.join(WORDNET_DIR, name), tmp_path / name)
    slipper = ("n", _synset(lexicon, "n", "mule", "a slipper that has no fitting").offset)
    with pytest.raises(FileNotFoundError, match=r"noun\.exc not found; install Debian's wordnet-base"):
        list(lexicon_sentences(str(tmp_path), random.Random(3), "catalogue", {slipper}))
    os.remove(tmp_path / "index.adv")
    with pytest.raises(FileNotFoundError, match=r"index\.adv not found; install Debian's wordnet-base"):
        tagged_synsets(str(tmp_path))


def test_gloss_words_are_reduced_to_lemmas_as_morphy_does():
    first, irregular = first_senses(WORDNET_DIR), irregular_forms(WORDNET_DIR)
    assert most_frequent_sense("worn", "v", first, irregular) == first[("v", "wear")]  # irregular: verb.exc
    assert most_frequent_sense("boxes", "n", first, irregular) == first[("n", "box")]  # suffix rule
    assert most_frequent_sense("keeps", "v", first, irregular) == first[("v", "keep")]
    assert most_frequent_sense("qzxv", "n", first, irregular) is None


def test_the_options_add_text_and_queries_and_change_nothing_else(runs):
    plain, rich = runs
    corpus = (rich / "corpus.txt").read_text(encoding="utf-8").splitlines()
    plain_corpus = (plain / "corpus.txt").read_text(encoding="utf-8").splitlines()
    assert not Counter(plain_corpus) - Counter(corpus)  # every line of the plain corpus is still there
    assert len(corpus) > 3 * len(plain_corpus)
    for name in ("items.jsonl", "types.jsonl", "queries_dev.jsonl", "queries_test.jsonl", "qrels_dev.jsonl",
                 "qrels_test.jsonl"):
        assert (rich / name).read_bytes() == (plain / name).read_bytes(), name
    # The templated training queries are unchanged; the variants come after them.
    plain_train = _read_jsonl(plain / "queries_train.jsonl")
    rich_train = _read_jsonl(rich / "queries_train.jsonl")
    assert rich_train[:len(plain_train)] == plain_train


def test_traffic_variants_keep_the_intent_and_its_judgements(runs):
    _, rich = runs
    queries = {q["id"]: q for q in _read_jsonl(rich / "queries_train.jsonl")}
    qrels = {}
    for row in _read_jsonl(rich / "qrels_train.jsonl"):
        qrels.setdefault(row["query_id"], {})[row["item_id"]] = row["relevance"]
    variants = [q for q in queries.values() if "-t" in q["id"]]
    originals = [q for q in queries.values() if "-t" not in q["id"]]
    assert len(variants) > 1.5 * len(originals)
    assert len({q["text"] for q in queries.values()}) == len(queries)
    types = {t["type_id"]: t for t in _read_jsonl(rich / "types.jsonl")}
    changed_name = 0
    for variant in variants:
        source = queries[variant["id"].rsplit("-t", 1)[0]]
        for key in ("category", "type_id", "type_ids", "constraints", "exclude_material", "exclude_brand"):
            assert variant.get(key) == source.get(key), (key, variant, source)
        assert qrels[variant["id"]] == qrels[source["id"]]
        text = variant["text"].lower()
        for value in [*variant["constraints"].values(), variant.get("exclude_material"), variant.get("exclude_brand")]:
            if value and value.lower() in source["text"].lower():
                # dropout and reordering never remove what the judgements depend on; a typo may
                # misspell one word of it, as shoppers do
                assert all(w in text or any(_edits(w, t) <= 1 for t in text.split()) for w in value.lower().split()), variant
        name = types[variant["type_id"]]["name"]
        changed_name += name in source["text"] and name not in variant["text"]
    assert changed_name > 0.1 * len(variants)  # paraphrase and need phrasing happen
    # The teacher still writes only words the variant lacks: a paraphrase's CoT names the type.
    triplets = [t for t in _read_jsonl(rich / "triplets_train.jsonl") if t["query"] in {v["text"] for v in variants}]
    assert triplets
    for row in triplets:
        assert not set(words(row["cot"])) & set(words(row["query"])), row


def _edits(a, b):
    """Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


@pytest.mark.parametrize("seed", range(20))
def test_a_misspelling_keeps_the_ends_and_changes_one_letter(seed):
    word = "spatula"
    typed = misspell(word, random.Random(seed))
    assert typed[0] == "s" and typed[-1] == "a"
    assert _edits(word, typed) == 1, typed


def test_bad_option_values_are_refused(tmp_path):
    for extra in (["--lexicon", "most"], ["--traffic-variants", "-1"]):
        result = subprocess.run([sys.executable, SCRIPT, "--out", str(tmp_path), *ARGS, *extra],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2 and extra[0] in result.stderr, result.stderr
