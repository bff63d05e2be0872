"""Where the examples look when no path is given: the shipped demo model and the small
catalogue cut from the demo benchmark (examples/data/, made by scripts/make_example_data.py)."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO / "models" / "lrem-demo"
DATA = REPO / "examples" / "data"
ITEMS = DATA / "items.jsonl"
QUERIES = DATA / "queries.jsonl"
QRELS = DATA / "qrels.jsonl"
TRIPLETS = DATA / "triplets.jsonl"
