"""Writes a synthetic catalogue of N items (JSON Lines) for the scale measurements of
docs/SCALE.md by recombining the titles of a source catalogue (the demo benchmark's
items.jsonl): item i takes the first half of one source title's words and the second half of
another's, so titles stay product-like and every line is distinct. Streams; deterministic."""

import argparse
import json


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--source", required=True, help="items.jsonl whose titles are recombined")
    ap.add_argument("--items", type=int, required=True, help="how many items to write")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with open(args.source) as f:
        titles = [json.loads(line)["title"].split() for line in f if line.strip()]
    n = len(titles)
    with open(args.out, "w") as out:
        for i in range(args.items):
            a, b = titles[i % n], titles[(i * 7919 + i // n) % n]
            words = a[: (len(a) + 1) // 2] + b[len(b) // 2:]
            out.write(json.dumps({"id": i, "title": " ".join(words)}) + "\n")


if __name__ == "__main__":
    main()
