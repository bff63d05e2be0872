"""Writes WordNet 3.0 lemmas and glosses as plain text, one synset per line.

The benchmark corpus alone is too small for a 32k-piece SentencePiece vocabulary (it allows
about 11k), so the 0.1B stand-in's tokenizer is trained on the corpus plus this text.

    /usr/bin/python3 bench/wordnet_text.py OUT.txt [--wordnet-dir /usr/share/wordnet]
"""
import argparse
import pathlib


def synset_lines(path):
    with open(path, encoding="latin-1") as f:
        for line in f:
            if line.startswith("  ") or "| " not in line:
                continue  # the licence header, or a line without a gloss
            head, gloss = line.split("| ", 1)
            fields = head.split()
            count = int(fields[3], 16)  # wndb(5): w_cnt is hexadecimal
            words = [w.replace("_", " ") for w in fields[4:4 + 2 * count:2]]
            yield ", ".join(words) + ": " + gloss.strip()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--wordnet-dir", default="/usr/share/wordnet")
    args = parser.parse_args()
    with open(args.out, "w", encoding="utf-8") as out:
        for part in ("noun", "verb", "adj", "adv"):
            for line in synset_lines(pathlib.Path(args.wordnet_dir) / f"data.{part}"):
                out.write(line + "\n")


if __name__ == "__main__":
    main()
